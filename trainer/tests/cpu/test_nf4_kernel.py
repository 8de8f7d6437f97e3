"""The fused NF4 matmul (kernels/nf4_triton.py) against the reference path (dequantize, then matmul), on the CPU through
Triton's interpreter: the weight it reads is NF4Linear's own, bit for bit; products within bf16 noise, forward, input
gradient and through a LoRA layer; and no bf16 copy of the weight is formed on the fused path."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch", reason="the kernel's reference is torch code")
pytest.importorskip("triton", reason="the fused kernel is Triton code; without it only the reference path exists")

from torch import nn  # noqa: E402

from lora_lens_trainer import nf4  # noqa: E402
from lora_lens_trainer.kernels import nf4_matmul as kernels  # noqa: E402
from lora_lens_trainer.lora import LoraLinear  # noqa: E402

# bf16 keeps 8 significant bits: one rounding of a product is within 2^-9 relative; summed in another order, the
# relative L2 distance of two bf16 results stays near 1e-3.
BF16_NOISE = 4e-3


@pytest.fixture
def fused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRITON_INTERPRET", "1")
    monkeypatch.setenv(kernels.ENV, "triton")


def _layer(out_f: int, in_f: int, double_quant: bool, seed: int = 0) -> nf4.NF4Linear:
    torch.manual_seed(seed)
    linear = nn.Linear(in_f, out_f, bias=False)
    linear.weight.data = torch.randn(out_f, in_f) * 0.05
    return nf4.NF4Linear(linear.to(torch.bfloat16), double_quant, torch.bfloat16)


def _relative(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.float() - b.float()).norm() / b.float().norm())


@pytest.mark.parametrize("double_quant", [True, False])
def test_the_fused_kernel_reads_exactly_the_reference_weight(fused: None, double_quant: bool):
    layer = _layer(80, 112, double_quant)  # neither size a multiple of the tiles: the masks are exercised
    w = layer.dequantized(torch.bfloat16)
    assert kernels.fused_enabled(torch.empty(1, dtype=torch.bfloat16))
    assert torch.equal(kernels.fused_nf4_matmul(torch.eye(112, dtype=torch.bfloat16), layer).t(), w)
    assert torch.equal(kernels.fused_nf4_matmul(torch.eye(80, dtype=torch.bfloat16), layer, transpose=True), w)


@pytest.mark.parametrize("double_quant", [True, False])
def test_forward_and_input_gradient_are_within_bf16_noise_of_the_reference(fused: None, double_quant: bool):
    layer = _layer(80, 112, double_quant, seed=1)
    x = torch.randn(3, 7, 112, dtype=torch.bfloat16)
    g = torch.randn(3, 7, 80, dtype=torch.bfloat16)
    assert _relative(kernels.fused_nf4_matmul(x, layer), kernels.reference_nf4_matmul(x, layer)) <= BF16_NOISE
    assert (
        _relative(kernels.fused_nf4_matmul(g, layer, True), kernels.reference_nf4_matmul(g, layer, True)) <= BF16_NOISE
    )


def _lora_grads(layer: nf4.NF4Linear, x: torch.Tensor) -> list[torch.Tensor]:
    torch.manual_seed(3)
    lora = LoraLinear(layer, r=8, alpha=16, dropout=0.0, rslora=False, device="cpu")
    nn.init.normal_(lora.lora_B, std=0.05)  # B starts at zero: give the adapter a path of its own
    x = x.clone().requires_grad_(True)
    out = lora(x)
    (out.float() * torch.linspace(-1, 1, out.shape[-1])).sum().backward()
    return [out.detach(), x.grad, lora.lora_A.grad, lora.lora_B.grad]


def test_a_lora_layer_over_nf4_trains_the_same_through_the_fused_kernel(monkeypatch: pytest.MonkeyPatch):
    layer = _layer(80, 112, True, seed=2)
    x = torch.randn(2, 9, 112, dtype=torch.bfloat16)
    reference = _lora_grads(layer, x)
    monkeypatch.setenv("TRITON_INTERPRET", "1")
    monkeypatch.setenv(kernels.ENV, "triton")

    def no_bf16_weight(*_: object) -> None:
        raise AssertionError("the fused path dequantized the whole weight")

    monkeypatch.setattr(kernels, "dequantize", no_bf16_weight)
    monkeypatch.setattr(nf4.NF4Linear, "dequantized", no_bf16_weight)
    fused = _lora_grads(layer, x)
    for name, ours, ref in zip(("output", "input grad", "lora_A grad", "lora_B grad"), fused, reference):
        assert _relative(ours, ref) <= BF16_NOISE, name


def test_without_the_switch_the_reference_runs(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv(kernels.ENV, raising=False)
    layer = _layer(64, 96, True)
    x = torch.randn(5, 96, dtype=torch.bfloat16)
    assert not kernels.fused_enabled(x)
    assert torch.equal(layer(x), x @ layer.dequantized(torch.bfloat16).t())
