"""The NF4 dequantize kernel (kernels/nf4_dequant_triton.py) and the dequant-then-cuBLAS path, on the CPU through
Triton's interpreter, against the reference (nf4.dequantize, then matmul): the weight it writes is the reference's bit
for bit, with and without double quantization and at sizes that are not a multiple of its blocks; products and a LoRA
layer's gradients match; every layer shares one workspace buffer; and the path choice follows LORA_LENS_NF4_KERNEL."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch", reason="the kernel's reference is torch code")
pytest.importorskip("triton", reason="the dequantize kernel is Triton code; without it only the reference path exists")

from torch import nn  # noqa: E402

from lora_lens_trainer import nf4  # noqa: E402
from lora_lens_trainer.kernels import nf4_dequant  # noqa: E402
from lora_lens_trainer.kernels import nf4_matmul as kernels  # noqa: E402
from lora_lens_trainer.lora import LoraLinear  # noqa: E402

BF16_NOISE = 4e-3  # as tests/cpu/test_nf4_kernel.py: two bf16 sums of the same products in different orders


@pytest.fixture
def dequant(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRITON_INTERPRET", "1")
    monkeypatch.setenv(kernels.ENV, "dequant")
    nf4_dequant.release_workspace()


def _layer(out_f: int, in_f: int, double_quant: bool, seed: int = 0, std: float = 0.05) -> nf4.NF4Linear:
    torch.manual_seed(seed)
    linear = nn.Linear(in_f, out_f, bias=False)
    linear.weight.data = torch.randn(out_f, in_f) * std
    return nf4.NF4Linear(linear.to(torch.bfloat16), double_quant, torch.bfloat16)


def _relative(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.float() - b.float()).norm() / b.float().norm())


# 80 x 112 = 8,960 weights: 140 absmax blocks (not a multiple of 256: the double-quant tail), 4,480 bytes (not a
# multiple of the kernel's 1,024); 33 x 65 = 2,145 weights: the last absmax block is padding-filled.
@pytest.mark.parametrize("shape", [(80, 112), (33, 65), (300, 1000)])
@pytest.mark.parametrize("double_quant", [True, False])
def test_the_kernel_writes_the_reference_weight_bit_for_bit(dequant: None, shape: tuple[int, int], double_quant: bool):
    # A spread of block scales (std varies by row) so that the absmax rounding is exercised, not one constant scale.
    layer = _layer(*shape, double_quant, seed=sum(shape))
    out_f, in_f = shape
    with torch.no_grad():
        ramp = torch.logspace(-3, 0, out_f)[:, None]
        linear = nn.Linear(in_f, out_f, bias=False)
        linear.weight.data = torch.randn(out_f, in_f) * ramp
        layer = nf4.NF4Linear(linear.to(torch.bfloat16), double_quant, torch.bfloat16)
    buf = torch.full((out_f * in_f + 37,), float("nan"), dtype=torch.bfloat16)
    w = nf4_dequant.dequantize_into(layer, buf)
    reference = layer.dequantized(torch.bfloat16)
    assert w.shape == reference.shape
    assert torch.equal(w, reference)
    assert torch.isnan(buf[out_f * in_f :]).all(), "the kernel wrote past the weight"


@pytest.mark.parametrize("double_quant", [True, False])
def test_products_equal_the_reference(dequant: None, double_quant: bool):
    layer = _layer(80, 112, double_quant, seed=1)
    x = torch.randn(3, 7, 112, dtype=torch.bfloat16)
    g = torch.randn(3, 7, 80, dtype=torch.bfloat16)
    assert kernels.path_for(x, layer) == "dequant"
    # The same weight and the same matmul call: equal, not only within noise.
    assert torch.equal(kernels.nf4_matmul(x, layer), kernels.reference_nf4_matmul(x, layer))
    assert torch.equal(kernels.nf4_matmul(g, layer, True), kernels.reference_nf4_matmul(g, layer, True))


def test_every_layer_shares_one_workspace_sized_for_the_largest(dequant: None):
    small, large, middle = _layer(48, 64, True), _layer(96, 128, True, seed=1), _layer(64, 96, True, seed=2)
    for layer in (small, large, middle):
        x = torch.randn(4, layer.in_features, dtype=torch.bfloat16)
        assert _relative(kernels.nf4_matmul(x, layer), kernels.reference_nf4_matmul(x, layer)) == 0.0
    assert nf4_dequant.workspace_bytes() == 96 * 128 * 2  # one buffer, the largest weight's size, reused


def _lora_grads(layer: nf4.NF4Linear, x: torch.Tensor) -> list[torch.Tensor]:
    torch.manual_seed(3)
    lora = LoraLinear(layer, r=8, alpha=16, dropout=0.0, rslora=False, device="cpu")
    nn.init.normal_(lora.lora_B, std=0.05)
    x = x.clone().requires_grad_(True)
    out = lora(x)
    (out.float() * torch.linspace(-1, 1, out.shape[-1])).sum().backward()
    return [out.detach(), x.grad, lora.lora_A.grad, lora.lora_B.grad]


def test_a_lora_layer_and_a_bare_nf4_layer_train_the_same_through_the_dequant_path(monkeypatch: pytest.MonkeyPatch):
    layer = _layer(80, 112, True, seed=2)
    x = torch.randn(2, 9, 112, dtype=torch.bfloat16)
    reference = _lora_grads(layer, x)
    xr = x.clone().requires_grad_(True)
    layer(xr).float().sum().backward()
    monkeypatch.setenv("TRITON_INTERPRET", "1")
    monkeypatch.setenv(kernels.ENV, "dequant")

    def no_reference(*_: object) -> None:
        raise AssertionError("the dequant path fell back to nf4.dequantize")

    monkeypatch.setattr(kernels, "dequantize", no_reference)
    monkeypatch.setattr(nf4.NF4Linear, "dequantized", no_reference)
    ours = _lora_grads(layer, x)
    for name, mine, ref in zip(("output", "input grad", "lora_A grad", "lora_B grad"), ours, reference):
        assert torch.equal(mine, ref), name
    xd = x.clone().requires_grad_(True)
    layer(xd).float().sum().backward()
    assert torch.equal(xd.grad, xr.grad)


def test_the_path_follows_the_switch(monkeypatch: pytest.MonkeyPatch):
    layer = _layer(64, 96, True)
    x = torch.randn(5, 96, dtype=torch.bfloat16)
    monkeypatch.delenv(kernels.ENV, raising=False)
    monkeypatch.setenv("TRITON_INTERPRET", "1")
    assert kernels.path_for(x, layer) == "reference"  # the default runs the interpreter on the CPU only when asked
    for name in ("dequant", "triton", "reference"):
        monkeypatch.setenv(kernels.ENV, name)
        assert kernels.path_for(x, layer) == name
    assert kernels.path_for(x.float(), layer) == "reference"  # the Triton paths are bf16 only
    monkeypatch.delenv("TRITON_INTERPRET")
    monkeypatch.setenv(kernels.ENV, "dequant")
    assert kernels.path_for(x, layer) == "reference"  # a CPU tensor without the interpreter: no Triton launch
    monkeypatch.setenv(kernels.ENV, "fast")
    with pytest.raises(ValueError, match="LORA_LENS_NF4_KERNEL='fast' is not a NF4 matmul path: use one of dequant"):
        kernels.path_for(x, layer)


def test_a_mistyped_switch_is_refused_before_the_model_loads(monkeypatch: pytest.MonkeyPatch, tmp_path):
    from lora_lens_trainer.modeling import ModelError, load_model
    from lora_lens_trainer.plan import plan_from_dict
    from tests.plans import make_plan

    monkeypatch.setenv(kernels.ENV, "fused")
    plan = plan_from_dict(make_plan(str(tmp_path / "no-model-here"), str(tmp_path / "train.jsonl"), method="qlora"))
    with pytest.raises(ModelError, match="LORA_LENS_NF4_KERNEL='fused' is not a NF4 matmul path: use one of dequant"):
        load_model(plan, torch.device("cpu"))
