"""NF4 matrix products: which path runs, the fused Triton matmul, and the reference path they must match.

`nf4_matmul(x, layer, transpose)` is x @ W^T (forward, transpose=False) or x @ W (the input gradient in backward,
transpose=True) for an NF4Linear's W. Three paths, chosen by LORA_LENS_NF4_KERNEL:
- `dequant` (the default on CUDA when Triton works): one Triton launch dequantizes W into a single reused bf16
  workspace (nf4_dequant.py), then cuBLAS multiplies; no bf16 copy of the weight per layer, one buffer in all.
- `triton`: the fused kernel reads the packed 4-bit codes and the (double-quantized) block scales tile by tile and
  never forms W in bf16 (nf4_triton.py). Correct, but it dequantizes each weight tile once per row block of x.
- `reference`: nf4.dequantize followed by the matmul, what both kernels are tested against (bf16 noise: the same
  products, only the summation order may differ; the dequant path's weight is equal bit for bit).
The Triton paths run CUDA tensors, and CPU tensors under TRITON_INTERPRET=1 (how the CPU tests run them) when named
explicitly; bf16 only. Anything they cannot run falls back to the reference.
"""

from __future__ import annotations

import logging
import os
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import torch

from ..nf4 import ABSMAX_BLOCK, BLOCK, NF4_CODE, dequantize
from . import nf4_dequant

if TYPE_CHECKING:
    from ..nf4 import NF4Linear

log = logging.getLogger("lora_lens_trainer")

ENV = "LORA_LENS_NF4_KERNEL"
PATHS = ("dequant", "triton", "reference")


def reference_nf4_matmul(x: torch.Tensor, layer: NF4Linear, transpose: bool = False) -> torch.Tensor:
    """Dequantize-then-matmul: x @ W^T, or x @ W when `transpose`."""
    w = dequantize(layer.state(), x.dtype)
    return x @ w if transpose else x @ w.t()


def _interpreting() -> bool:
    return os.environ.get("TRITON_INTERPRET") == "1"


def requested_path() -> str | None:
    """The path LORA_LENS_NF4_KERNEL names, or None when unset (the default: dequant where it can run)."""
    value = os.environ.get(ENV, "").strip()
    if not value or value == "auto":
        return None
    if value not in PATHS:
        raise ValueError(f"{ENV}={value!r} is not a NF4 matmul path: use one of {', '.join(PATHS)} (or leave it unset)")
    return value


def fused_enabled(x: torch.Tensor) -> bool:
    if requested_path() != "triton":
        return False
    if x.device.type != "cuda" and not (x.device.type == "cpu" and _interpreting()):
        return False
    return _kernel(_interpreting()) is not None


def path_for(x: torch.Tensor, layer: NF4Linear) -> str:
    """Which path nf4_matmul takes for `x` and `layer`: "triton", "dequant" or "reference"."""
    # bf16 only: an fp32 tl.dot would round through TF32, which the reference does not, and the interpreter's
    # emulation (the CPU tests) rounds to bf16.
    if x.dtype != torch.bfloat16:
        return "reference"
    requested = requested_path()
    if requested == "triton":
        return "triton" if fused_enabled(x) and layer.in_features % 2 == 0 else "reference"
    if requested == "reference":
        return "reference"
    # dequant, asked for or by default; the CPU runs it only when asked for (under the interpreter).
    if requested is None and x.device.type != "cuda":
        return "reference"
    return "dequant" if nf4_dequant.available(x.device) else "reference"


_ANNOUNCED: set[str] = set()


def nf4_matmul(x: torch.Tensor, layer: NF4Linear, transpose: bool = False) -> torch.Tensor:
    """x @ W^T (or x @ W) through the selected path (see the module's docstring)."""
    path = path_for(x, layer)
    if path not in _ANNOUNCED:  # trainer.log says which path ran (once each)
        _ANNOUNCED.add(path)
        log.info("NF4 matmul: the %s path (%s=%s)", path, ENV, os.environ.get(ENV) or "unset")
    if path == "dequant":
        return nf4_dequant.dequant_nf4_matmul(x, layer, transpose)
    if path == "triton":
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
    bm, bn, bk, warps, stages = fused_tiles()
    grid = (triton_cdiv(m, bm), triton_cdiv(out_dim, bn))
    launch = {} if _interpreting() else {"num_warps": warps, "num_stages": stages}
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
        **launch,
    )
    return out.view(*lead, out_dim)


TILES_ENV = "LORA_LENS_NF4_TILES"
# Every weight tile is dequantized once per BLOCK_M rows of x: 64-row tiles (the first version) redid it 32 times
# for a 2,048-token batch, with 4 warps and Triton's default pipelining; 128x128 tiles halve the repeats.
GPU_TILES = (128, 128, 64, 8, 3)


def fused_tiles() -> tuple[int, int, int, int, int]:
    """BLOCK_M, BLOCK_P, BLOCK_R, num_warps, num_stages of the fused kernel; LORA_LENS_NF4_TILES="m,p,r,warps,stages"
    overrides them on the GPU (the benchmark tries a few)."""
    if _interpreting():
        return (16, 32, 32, 4, 1)
    raw = os.environ.get(TILES_ENV, "").strip()
    if not raw:
        return GPU_TILES
    parts = raw.split(",")
    if len(parts) != 5 or not all(p.strip().isdigit() for p in parts):
        raise ValueError(f"{TILES_ENV}={raw!r}: give five integers, BLOCK_M,BLOCK_P,BLOCK_R,num_warps,num_stages")
    m, p, r, w, st = (int(v) for v in parts)
    return (m, p, r, w, st)


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
