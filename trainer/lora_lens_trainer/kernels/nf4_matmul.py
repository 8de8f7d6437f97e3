"""NF4 matrix products with the dequantization inside the matmul (Triton), and the reference path they must match.

`nf4_matmul(x, layer, transpose)` is x @ W^T (forward, transpose=False) or x @ W (the input gradient in backward,
transpose=True) for an NF4Linear's W. The fused kernel reads the packed 4-bit codes and the (double-quantized) block
scales tile by tile and never forms W in bf16: no weight-sized buffer per layer, forward or backward. The reference
path is nf4.dequantize followed by the matmul, which is what the fused kernel is tested against (bf16 noise: both
round the same products; only the summation order differs).

Which path runs: LORA_LENS_NF4_KERNEL=triton selects the fused kernel for CUDA tensors when Triton imports (and for
CPU tensors under TRITON_INTERPRET=1, which is how the CPU tests run it); anything else, or no Triton, the reference.
The default stays the reference until the GPU tests (tests/gpu/test_nf4_kernel_gpu.py) and bench have run on a card.
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import torch

from ..nf4 import ABSMAX_BLOCK, BLOCK, NF4_CODE, dequantize

if TYPE_CHECKING:
    from ..nf4 import NF4Linear

ENV = "LORA_LENS_NF4_KERNEL"


def reference_nf4_matmul(x: torch.Tensor, layer: NF4Linear, transpose: bool = False) -> torch.Tensor:
    """Dequantize-then-matmul: x @ W^T, or x @ W when `transpose`."""
    w = dequantize(layer.state(), x.dtype)
    return x @ w if transpose else x @ w.t()


def _interpreting() -> bool:
    return os.environ.get("TRITON_INTERPRET") == "1"


def fused_enabled(x: torch.Tensor) -> bool:
    if os.environ.get(ENV) != "triton":
        return False
    if x.device.type != "cuda" and not (x.device.type == "cpu" and _interpreting()):
        return False
    return _kernel(_interpreting()) is not None


def nf4_matmul(x: torch.Tensor, layer: NF4Linear, transpose: bool = False) -> torch.Tensor:
    """x @ W^T (or x @ W) through the fused kernel when it is selected and can run, else the reference."""
    # bf16 only: an fp32 tl.dot would round through TF32, which the reference does not, and the interpreter's
    # emulation (the CPU tests) rounds to bf16.
    if fused_enabled(x) and layer.in_features % 2 == 0 and x.dtype == torch.bfloat16:
        return fused_nf4_matmul(x, layer, transpose)
    return reference_nf4_matmul(x, layer, transpose)


def fused_nf4_matmul(x: torch.Tensor, layer: NF4Linear, transpose: bool = False) -> torch.Tensor:
    kernel = _kernel(_interpreting())
    if kernel is None:
        raise RuntimeError("the fused NF4 kernel needs Triton, which does not import here")
    n_out, k_in = layer.out_features, layer.in_features
    lead = x.shape[:-1]
    a = x.reshape(-1, x.shape[-1]).contiguous()
    m = a.shape[0]
    # C[m, p] = sum_r A[m, r] B[r, p], with B[r, p] = W[p, r] (forward) or W[r, p] (input gradient).
    reduce_dim, out_dim = (n_out, k_in) if transpose else (k_in, n_out)
    stride_r, stride_p = (k_in, 1) if transpose else (1, k_in)
    if a.shape[1] != reduce_dim:
        raise ValueError(f"nf4_matmul: x has {a.shape[1]} features, the layer needs {reduce_dim}")
    out = torch.empty(m, out_dim, device=x.device, dtype=x.dtype)
    double = hasattr(layer, "absmax_q")
    absmax = layer.absmax_q if double else layer.absmax
    scale = layer.absmax_scale if double else absmax
    offset = layer.absmax_offset if double else absmax
    code = _code_on(x.device)
    bm, bn, bk = (16, 32, 32) if _interpreting() else (64, 64, 64)
    grid = (triton_cdiv(m, bm), triton_cdiv(out_dim, bn))
    kernel[grid](
        a,
        layer.packed,
        absmax,
        scale,
        offset,
        code,
        out,
        m,
        out_dim,
        reduce_dim,
        stride_r,
        stride_p,
        a.stride(0),
        out.stride(0),
        BLOCK_M=bm,
        BLOCK_P=bn,
        BLOCK_R=bk,
        DOUBLE=double,
        QBLOCK=BLOCK,
        SBLOCK=ABSMAX_BLOCK,
        EMULATE=_interpreting(),
    )
    return out.view(*lead, out_dim)


def triton_cdiv(a: int, b: int) -> int:
    return -(-a // b)


_CODES: dict[torch.device, torch.Tensor] = {}


def _code_on(device: torch.device) -> torch.Tensor:
    code = _CODES.get(device)
    if code is None:
        code = _CODES[device] = torch.tensor(NF4_CODE, dtype=torch.float32, device=device)
    return code


@lru_cache(maxsize=2)
def _kernel(interpret: bool) -> Any:
    """The jitted kernel (nf4_triton.py), imported on first use: Triton reads TRITON_INTERPRET when it decorates a
    kernel, so the module is loaded again when the mode differs from its first load. None without Triton."""
    import importlib
    import sys

    name = f"{__package__}.nf4_triton"
    try:
        module = sys.modules.get(name)
        module = importlib.import_module(name) if module is None else module
        if getattr(module, "INTERPRETED", None) != interpret:
            module = importlib.reload(module)
    except Exception:  # no Triton, or a broken install: the reference path runs
        return None
    return module.nf4_matmul_kernel
