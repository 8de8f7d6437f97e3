"""A LoRA target's base matmul fused with its adapter (kernels/lora_triton.py, lora_fused.py) under Triton's interpreter,
against PEFT's formula y = x W^T + b + s (x A^T) B^T computed in float64, forward and the gradients of x, A and B.

Tolerances:
- fp32 operands: the kernel sums K products in fp32 (24-bit significand); its error against float64 is a few
  2^-24 of the largest value times sqrt(K) at most, well under 1e-5 of it. A wrong stride, mask or tile offset moves
  elements by O(1) of that scale, so 1e-5 fails every indexing mistake.
- bf16 operands: both the fused path and the trainer's eager path (lora._LoraLinearFn) round their result to bf16
  (2^-9 relative); the fused path rounds once, eager twice. The fused result must be no further from float64 than
  the eager one (twice its error, or one bf16 step of the largest value, whichever is larger).
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch", reason="the kernel's reference is torch code")
pytest.importorskip("triton", reason="the fused kernel is Triton code; without it lora.py's own path runs")

from torch import nn  # noqa: E402

from lora_lens_trainer import lora  # noqa: E402
from lora_lens_trainer.kernels import fused_ops, lora_fused  # noqa: E402

BF16 = torch.bfloat16
F64 = torch.float64


@pytest.fixture(autouse=True)
def _interpreter(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRITON_INTERPRET", "1")


def _operands(dtype: torch.dtype, m: int = 37, k: int = 72, n: int = 80, r: int = 8, seed: int = 0):
    """Sizes that are no multiple of the interpreter's tiles (16 x 32 x 32): every mask is exercised."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(m, k, generator=gen).to(dtype)
    w = (0.1 * torch.randn(n, k, generator=gen)).to(dtype)
    a = (0.1 * torch.randn(r, k, generator=gen)).to(dtype)
    b = (0.1 * torch.randn(n, r, generator=gen)).to(dtype)
    bias = torch.randn(n, generator=gen).to(dtype)
    g = torch.randn(m, n, generator=gen).to(dtype)
    return x, w, a, b, bias, g


def _rel(got: torch.Tensor, exact: torch.Tensor) -> float:
    return float((got.to(F64) - exact).abs().max() / exact.abs().max())


@pytest.mark.parametrize("mode", lora_fused.MODES)
def test_fp32_kernel_reads_every_operand_in_place_forward_and_input_gradient(mode: str) -> None:
    x, w, a, b, bias, g = _operands(torch.float32)
    s = 2.0
    out, xa = lora_fused.forward_product(x, w, a, b, bias, s, mode)
    exact = lora_fused.reference(x.to(F64), w.to(F64), bias.to(F64), a.to(F64), b.to(F64), s)
    assert _rel(out, exact) <= 1e-5
    assert _rel(xa, x.to(F64) @ a.to(F64).t()) <= 1e-5
    dx, gb = lora_fused.input_gradient(g, w, a, b, s, mode)
    g64 = g.to(F64)
    assert _rel(dx, g64 @ w.to(F64) + s * (g64 @ b.to(F64)) @ a.to(F64)) <= 1e-5
    assert _rel(gb, g64 @ b.to(F64)) <= 1e-5


def _layer(bias: bool, seed: int = 1) -> lora.LoraLinear:
    torch.manual_seed(seed)
    base = nn.Linear(72, 80, bias=bias).to(BF16)
    layer = lora.LoraLinear(base, r=8, alpha=16, dropout=0.0, rslora=False, device="cpu")
    nn.init.normal_(layer.lora_B, std=0.05)  # B starts at zero: give the adapter a path of its own
    return layer


def _run(layer: lora.LoraLinear, x: torch.Tensor, g: torch.Tensor) -> list[torch.Tensor]:
    layer.lora_A.grad = layer.lora_B.grad = None
    x = x.clone().requires_grad_(True)
    out = layer(x)
    out.backward(g)
    return [out.detach(), x.grad, layer.lora_A.grad, layer.lora_B.grad]


def _peft_exact(layer: lora.LoraLinear, x: torch.Tensor, g: torch.Tensor) -> list[torch.Tensor]:
    """PEFT's formula in float64, gradients by autograd."""
    x64 = x.to(F64).requires_grad_(True)
    a64 = layer.lora_A.detach().to(F64).requires_grad_(True)
    b64 = layer.lora_B.detach().to(F64).requires_grad_(True)
    base = layer.base_layer
    bias = base.bias.detach().to(F64) if base.bias is not None else None
    out = lora_fused.reference(x64, base.weight.detach().to(F64), bias, a64, b64, layer.scaling)
    dx, da, db = torch.autograd.grad(out, (x64, a64, b64), g.to(F64))
    return [out.detach(), dx, da, db]


@pytest.mark.parametrize("mode,bias", [("one", False), ("two", False), ("one", True)])
def test_bf16_layer_forward_and_gradients_as_accurate_as_the_eager_path(mode: str, bias: bool) -> None:
    layer = _layer(bias)
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(3, 11, 72, generator=gen).to(BF16)
    g = torch.randn(3, 11, 80, generator=gen).to(BF16)
    exact = _peft_exact(layer, x, g)
    eager = _run(layer, x, g)
    layer.fused_base = mode
    calls = []
    apply = lora_fused.FusedLoraFn.apply
    lora_fused.FusedLoraFn.apply = lambda *args: calls.append(1) or apply(*args)  # type: ignore[method-assign]
    try:
        fused = _run(layer, x, g)
    finally:
        lora_fused.FusedLoraFn.apply = apply  # type: ignore[method-assign]
    assert calls, "the fused path did not run"
    for name, f, e, ex in zip(("y", "dx", "dA", "dB"), fused, eager, exact):
        assert f.dtype == e.dtype and f.shape == e.shape, name
        e_fused, e_eager = _rel(f, ex), _rel(e, ex)
        assert e_fused <= max(2 * e_eager, 2**-7), (name, e_fused, e_eager)


def test_dropout_and_other_dtypes_keep_the_eager_path() -> None:
    layer = _layer(False)
    layer.fused_base = "one"
    x = torch.randn(2, 5, 72).to(BF16)
    assert lora_fused.applies(x, layer.base_layer, BF16)
    assert not lora_fused.applies(x.float(), layer.base_layer, torch.float32)
    layer.dropout = 0.1
    apply = lora_fused.FusedLoraFn.apply

    def refuse(*_: object) -> None:
        raise AssertionError("the fused path ran with dropout on")

    lora_fused.FusedLoraFn.apply = refuse  # type: ignore[method-assign]
    try:
        layer.train()
        layer(x)
    finally:
        lora_fused.FusedLoraFn.apply = apply  # type: ignore[method-assign]


def test_the_switch_names_the_ops(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(fused_ops.ENV, "1")
    assert fused_ops.requested_ops() == frozenset(fused_ops.ALL)
    monkeypatch.setenv(fused_ops.ENV, "lora2, norm")
    assert fused_ops.requested_ops() == {"lora2", "norm"}
    monkeypatch.setenv(fused_ops.ENV, "")
    assert not fused_ops.requested()
    for bad in ("lorra", "lora,lora2"):
        monkeypatch.setenv(fused_ops.ENV, bad)
        with pytest.raises(ValueError, match=fused_ops.ENV):
            fused_ops.requested_ops()


def test_install_marks_the_lora_layers_and_undo_clears_them() -> None:
    model = nn.Sequential(_layer(False), _layer(True))
    undo = fused_ops.install(model, frozenset({"lora2"}))
    assert [m.fused_base for m in model] == ["two", "two"]
    undo()
    assert [m.fused_base for m in model] == [None, None]
