"""The NF4 dequant path (one Triton dequantize launch into a reused workspace, then cuBLAS) on the GPU at real sizes:
the weight equals nf4.dequantize bit for bit at Qwen2-7B's and Llama-3.1-70B's layer shapes, the products match the
reference, and a run of layers holds one workspace the size of the largest weight, not a bf16 copy per layer."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch", reason="needs torch")
if not torch.cuda.is_available():
    pytest.skip(
        "needs a CUDA GPU; none is visible here (the CPU interpreter tests are tests/cpu/test_nf4_dequant.py)",
        allow_module_level=True,
    )
pytest.importorskip("triton", reason="the dequantize kernel is Triton code")

from torch import nn  # noqa: E402

from lora_lens_trainer import nf4  # noqa: E402
from lora_lens_trainer.kernels import nf4_dequant  # noqa: E402
from lora_lens_trainer.kernels import nf4_matmul as kernels  # noqa: E402

CUDA = torch.device("cuda")
BF16_NOISE = 4e-3
# Qwen2-7B: q/o, k/v, gate/up, down; Llama-3.1-70B: gate/up.
SHAPES = [(3584, 3584), (512, 3584), (18944, 3584), (3584, 18944), (28672, 8192)]


def _layer(out_f: int, in_f: int, double_quant: bool = True) -> nf4.NF4Linear:
    linear = nn.Linear(in_f, out_f, bias=False, device=CUDA, dtype=torch.bfloat16)
    with torch.no_grad():
        linear.weight.normal_(std=0.02).mul_(torch.logspace(-2, 0, out_f, device=CUDA)[:, None].to(torch.bfloat16))
    return nf4.NF4Linear(linear, double_quant, torch.bfloat16)


def _relative(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.float() - b.float()).norm() / b.float().norm())


@pytest.mark.parametrize("double_quant", [True, False])
@pytest.mark.parametrize("out_f,in_f", SHAPES)
def test_the_kernel_writes_the_reference_weight_bit_for_bit(out_f: int, in_f: int, double_quant: bool):
    torch.manual_seed(0)
    layer = _layer(out_f, in_f, double_quant)
    w = nf4_dequant.dequantize_into(layer, torch.empty(out_f * in_f, device=CUDA, dtype=torch.bfloat16))
    reference = layer.dequantized(torch.bfloat16)
    mismatched = int((w != reference).sum())
    assert mismatched == 0, f"{mismatched} of {w.numel()} weights differ from nf4.dequantize"


@pytest.mark.parametrize("out_f,in_f", SHAPES[:4])
def test_products_match_the_reference(monkeypatch: pytest.MonkeyPatch, out_f: int, in_f: int):
    monkeypatch.setenv(kernels.ENV, "dequant")
    torch.manual_seed(1)
    layer = _layer(out_f, in_f)
    x = torch.randn(2048, in_f, device=CUDA, dtype=torch.bfloat16)
    g = torch.randn(2048, out_f, device=CUDA, dtype=torch.bfloat16)
    assert kernels.path_for(x, layer) == "dequant"
    assert _relative(kernels.nf4_matmul(x, layer), kernels.reference_nf4_matmul(x, layer)) <= BF16_NOISE
    assert _relative(kernels.nf4_matmul(g, layer, True), kernels.reference_nf4_matmul(g, layer, True)) <= BF16_NOISE


def test_the_default_on_cuda_is_the_dequant_path(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv(kernels.ENV, raising=False)
    layer = _layer(512, 3584)
    assert kernels.path_for(torch.empty(1, 3584, device=CUDA, dtype=torch.bfloat16), layer) == "dequant"


def test_a_stack_of_layers_holds_one_workspace_not_a_weight_per_layer(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv(kernels.ENV, "dequant")
    nf4_dequant.release_workspace()
    layers = [_layer(o, i) for o, i in SHAPES[:4] * 2]
    largest = max(layer.out_features * layer.in_features for layer in layers) * 2
    x = torch.randn(256, 18944, device=CUDA, dtype=torch.bfloat16, requires_grad=True)
    torch.cuda.synchronize()
    base = torch.cuda.memory_allocated()
    torch.cuda.reset_peak_memory_stats()
    total = sum(layer(x[:, : layer.in_features]).float().sum() for layer in layers)
    total.backward()
    torch.cuda.synchronize()
    extra = torch.cuda.max_memory_allocated() - base
    # Every layer's output (bf16 and its fp32 sum input) and the input gradient: 256 rows, at most 18,944 wide.
    activations = 8 * 256 * 18944 * 6 + 3 * 256 * 18944 * 4
    assert nf4_dequant.workspace_bytes() == largest
    assert extra <= largest + activations, (
        f"{extra / 2**20:.0f} MiB over the inputs; one workspace is {largest / 2**20:.0f} MiB, the eight bf16 weights "
        f"{sum(lay.out_features * lay.in_features * 2 for lay in layers) / 2**20:.0f} MiB"
    )
