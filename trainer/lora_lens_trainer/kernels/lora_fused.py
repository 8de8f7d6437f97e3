"""A LoRA target's base matmul fused with its adapter (kernels/lora_triton.py), forward and backward, and the formula
it is tested against.

    y = x W^T (+ bias) + s (x A^T) B^T          PEFT's LoRA forward (no dropout: the fused path requires it off)
    dx = g W + s (g B) A,  dA = s (g B)^T x,  dB = s g^T (x A^T)

`lora_linear` runs the forward and the input gradient as one kernel launch each: the base product and the adapter's
accumulate into one fp32 tile, rounded to bf16 once (eager PyTorch rounds the base product, then adds the adapter's
to it in a second pass over the output). The r-wide products x A^T and g B come out of the same launch (mode "one":
computed inside the kernel from the tiles of x and g it already reads, which the programs of the other output
columns repeat, r/BLOCK_N more tensor-core work) or are computed first by cuBLAS and read by the kernel (mode "two":
two launches, no repeated work). Which is faster is the GPU benchmark's question (trainer/bench/fused_gpu.py).
dA and dB stay cuBLAS products: they reduce over the tokens, which the output tiles do not.

Saved for backward, as in lora._LoraLinearFn: x (the layer before keeps it anyway) and x A^T; W is re-read.
The fused path runs bf16 activations and weights on CUDA, or on the CPU under TRITON_INTERPRET=1 (the tests), for a
plain nn.Linear base without dropout; lora.py takes its own path for everything else.
"""

from __future__ import annotations

import os
import sys
from functools import lru_cache
from typing import Any

import torch
from torch import nn

MODES = ("one", "two")
TILES_ENV = "LORA_LENS_LORA_TILES"
# 128x128 output tiles with 64-wide K steps, 8 warps and 3 pipeline stages: the NF4 kernel's measured tiles on H200.
GPU_TILES = (128, 128, 64, 8, 3)
INTERPRETER_TILES = (16, 32, 32, 4, 1)
GROUP_M = 8


def _interpreting() -> bool:
    return os.environ.get("TRITON_INTERPRET") == "1"


@lru_cache(maxsize=2)
def _module(interpret: bool) -> Any:
    """lora_triton, reloaded when TRITON_INTERPRET differs from its first load; None without Triton."""
    import importlib

    name = f"{__package__}.lora_triton"
    try:
        module = sys.modules.get(name)
        module = importlib.import_module(name) if module is None else module
        if getattr(module, "INTERPRETED", None) != interpret:
            module = importlib.reload(module)
    except Exception:  # no Triton, or a broken install: lora.py's own path runs
        return None
    return module


def tiles() -> tuple[int, int, int, int, int]:
    """BLOCK_M, BLOCK_N, BLOCK_K, num_warps, num_stages; LORA_LENS_LORA_TILES="m,n,k,warps,stages" overrides them
    on the GPU (the benchmark tries a few)."""
    if _interpreting():
        return INTERPRETER_TILES
    raw = os.environ.get(TILES_ENV, "").strip()
    if not raw:
        return GPU_TILES
    parts = raw.split(",")
    if len(parts) != 5 or not all(p.strip().isdigit() for p in parts):
        raise ValueError(f"{TILES_ENV}={raw!r}: give five integers, BLOCK_M,BLOCK_N,BLOCK_K,num_warps,num_stages")
    m, n, k, w, st = (int(v) for v in parts)
    return (m, n, k, w, st)


def reference(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, a: torch.Tensor, b: torch.Tensor, scale: float
) -> torch.Tensor:
    """PEFT's LoRA forward without dropout: base_layer(x) + lora_B(lora_A(x)) * scaling."""
    y = x @ weight.t() + (x @ a.t()) @ b.t() * scale
    return y if bias is None else y + bias


def fused_product(
    x2: torch.Tensor,
    p: torch.Tensor,
    q: torch.Tensor,
    s: torch.Tensor,
    scale: float,
    bias: torch.Tensor | None = None,
    mode: str = "one",
) -> tuple[torch.Tensor, torch.Tensor]:
    """out = x2 P + scale (x2 Q) S (+ bias) in one launch, and x2 Q. x2: (M, K) with its last dim contiguous; P (K, N),
    Q (K, r), S (r, N) any strided views (W, W^T, A^T, B, ...: the kernel reads them in place). Mode "two" computes
    x2 Q with cuBLAS first."""
    k = _module(_interpreting())
    m, k_in = x2.shape
    n, r = p.shape[1], q.shape[1]
    out = torch.empty(m, n, device=x2.device, dtype=x2.dtype)
    given = mode == "two"
    xq = x2 @ q if given else torch.empty(m, r, device=x2.device, dtype=x2.dtype)
    bm, bn, bk, warps, stages = tiles()
    grid = (-(-m // bm) * -(-n // bn),)
    launch = {} if _interpreting() else {"num_warps": warps, "num_stages": stages}
    emulate = _interpreting() and x2.dtype == torch.bfloat16
    k.lora_matmul_kernel[grid](
        x2, p, q, s, bias if bias is not None else out, xq, out,
        m, n, float(scale),
        x2.stride(0), p.stride(0), p.stride(1), q.stride(0), q.stride(1), s.stride(0), s.stride(1), xq.stride(0),
        out.stride(0),
        K=k_in, R=r, BLOCK_M=bm, BLOCK_N=bn, BLOCK_K=bk, BLOCK_R=max(16, 1 << max(0, (r - 1).bit_length())),
        GROUP_M=GROUP_M, XQ_GIVEN=given, HAS_BIAS=bias is not None, EMULATE=emulate, **launch,
    )  # fmt: skip
    return out, xq


def forward_product(
    x2: torch.Tensor, w: torch.Tensor, a: torch.Tensor, b: torch.Tensor, bias: torch.Tensor | None, s: float, mode: str
) -> tuple[torch.Tensor, torch.Tensor]:
    """x W^T + s (x A^T) B^T (+ bias), and x A^T. W: (N, K), A: (r, K), B: (N, r)."""
    return fused_product(x2, w.t(), a.t(), b.t(), s, bias, mode)


def input_gradient(
    g2: torch.Tensor, w: torch.Tensor, a: torch.Tensor, b: torch.Tensor, s: float, mode: str
) -> tuple[torch.Tensor, torch.Tensor]:
    """g W + s (g B) A, and g B."""
    return fused_product(g2, w, b, a, s, None, mode)


class FusedLoraFn(torch.autograd.Function):
    """y = x W^T + b + s (x A^T) B^T for a frozen bf16 W, the adapter's fp32 A and B used in bf16 (as lora.py does)."""

    @staticmethod
    def forward(
        ctx: Any, x: torch.Tensor, a: torch.Tensor, b: torch.Tensor, base: nn.Linear, scale: float, mode: str
    ) -> torch.Tensor:
        w = base.weight
        x2 = x.reshape(-1, x.shape[-1])
        x2 = x2 if x2.stride(-1) == 1 else x2.contiguous()
        a_c, b_c = a.to(w.dtype), b.to(w.dtype)
        bias = base.bias.to(w.dtype) if base.bias is not None else None
        out, xa = forward_product(x2, w, a_c, b_c, bias, scale, mode)
        ctx.save_for_backward(x2, xa, a, b)
        ctx.base, ctx.scale, ctx.mode = base, scale, mode
        return out.view(*x.shape[:-1], out.shape[-1])

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> Any:
        x2, xa, a, b = ctx.saved_tensors
        w, scale = ctx.base.weight, ctx.scale
        g = grad.reshape(-1, grad.shape[-1]).to(w.dtype)
        g = g if g.stride(-1) == 1 else g.contiguous()
        a_c, b_c = a.to(w.dtype), b.to(w.dtype)
        grad_x = None
        if ctx.needs_input_grad[0]:
            dx, gb = input_gradient(g, w, a_c, b_c, scale, ctx.mode)
            grad_x = dx.view(*grad.shape[:-1], dx.shape[-1])
        else:
            gb = g @ b_c
        grad_a = (gb.t() @ x2).mul_(scale).to(a.dtype) if ctx.needs_input_grad[1] else None
        grad_b = (g.t() @ xa).mul_(scale).to(b.dtype) if ctx.needs_input_grad[2] else None
        return grad_x, grad_a, grad_b, None, None, None


def applies(x: torch.Tensor, base: nn.Module, dtype: torch.dtype) -> bool:
    """Whether the fused path can run this layer: a plain nn.Linear with a bf16 weight, bf16 input and compute dtype,
    on CUDA, or on the CPU under the interpreter; Triton importable."""
    if type(base) is not nn.Linear or base.weight.dtype != torch.bfloat16:
        return False
    if dtype != torch.bfloat16 or x.dtype != torch.bfloat16:
        return False
    if x.device.type != "cuda" and not (x.device.type == "cpu" and _interpreting()):
        return False
    return _module(_interpreting()) is not None


def lora_linear(
    x: torch.Tensor, a: torch.Tensor, b: torch.Tensor, base: nn.Module, scale: float, mode: str
) -> torch.Tensor:
    """The fused path for a layer `applies` accepted (base: an nn.Linear)."""
    out: torch.Tensor = FusedLoraFn.apply(x, a, b, base, scale, mode)
    return out
