"""NF4 weights dequantized by one Triton launch into one reused bf16 workspace, then multiplied by cuBLAS.

Why: the fused kernel (nf4_triton.py) re-dequantizes every weight tile once per row block of the input, which at
2,048+ rows costs far more than the matmul; the reference (nf4.dequantize) makes several full-size passes
(int32 indices, a pair-table gather, the absmax product) and allocates a fresh bf16 weight for every product.
Here one pass reads the packed codes and block scales and writes bf16 into a single module-level buffer per
(device, dtype), grown to the largest weight it has held (a 7B MLP weight: 130 MiB; 70B: 448 MiB) and reused by
every layer, forward and backward. The buffer is only read by the matmul issued right after on the same stream,
and no autograd node keeps it (the callers' autograd functions save the layer, not W), so one buffer is enough.
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import torch

from ..nf4 import ABSMAX_BLOCK, BLOCK, NF4_CODE

if TYPE_CHECKING:
    from ..nf4 import NF4Linear

# Packed bytes per program: 2,048 weights written, a few KiB read; the kernel is bound by memory bandwidth.
BYTES_PER_PROGRAM = 1024

_WORKSPACE: dict[tuple[torch.device, torch.dtype], torch.Tensor] = {}
_CODES: dict[torch.device, torch.Tensor] = {}


def interpreting() -> bool:
    return os.environ.get("TRITON_INTERPRET") == "1"


def available(device: torch.device) -> bool:
    """Whether the kernel can run for tensors on `device`: CUDA with Triton, or the CPU under Triton's interpreter."""
    if device.type != "cuda" and not (device.type == "cpu" and interpreting()):
        return False
    return kernel(interpreting()) is not None


def workspace(numel: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """The shared buffer's first `numel` elements, growing it (once per larger weight) when it is too small."""
    key = (device, dtype)
    buf = _WORKSPACE.get(key)
    if buf is None or buf.numel() < numel:
        _WORKSPACE.pop(key, None)  # release the smaller buffer before the larger one is allocated
        buf = _WORKSPACE[key] = torch.empty(numel, device=device, dtype=dtype)
    return buf[:numel]


def workspace_bytes() -> int:
    """Bytes held by the shared buffers (all devices and dtypes), for tests and the benchmark."""
    return sum(buf.numel() * buf.element_size() for buf in _WORKSPACE.values())


def release_workspace() -> None:
    _WORKSPACE.clear()


def dequantize_into(layer: NF4Linear, out: torch.Tensor) -> torch.Tensor:
    """Writes `layer`'s weight, dequantized, into `out` (flat, at least the weight's size, bf16) and returns it as the
    weight's (out_features, in_features) view."""
    run = kernel(interpreting())
    if run is None:
        raise RuntimeError("the NF4 dequantize kernel needs Triton, which does not import here")
    numel = layer.out_features * layer.in_features
    if out.dtype != torch.bfloat16 or out.numel() < numel:
        raise ValueError(f"dequantize_into: needs a bf16 buffer of {numel} elements, got {out.dtype} {out.numel()}")
    double = hasattr(layer, "absmax_q")
    absmax = layer.absmax_q if double else layer.absmax
    scale = layer.absmax_scale if double else absmax
    offset = layer.absmax_offset if double else absmax
    n_bytes = layer.packed.numel()
    grid = (-(-n_bytes // BYTES_PER_PROGRAM),)
    extra = {} if interpreting() else {"enable_fp_fusion": False, "num_warps": 4}
    run[grid](
        layer.packed,
        absmax,
        scale,
        offset,
        _code_on(out.device),
        out,
        n_bytes,
        numel,
        BYTES=BYTES_PER_PROGRAM,
        DOUBLE=double,
        QBLOCK=BLOCK,
        SBLOCK=ABSMAX_BLOCK,
        EMULATE=interpreting(),
        **extra,
    )
    return out[:numel].view(layer.out_features, layer.in_features)


def dequant_nf4_matmul(x: torch.Tensor, layer: NF4Linear, transpose: bool = False) -> torch.Tensor:
    """x @ W^T (or x @ W when `transpose`), W dequantized into the shared workspace and multiplied by cuBLAS."""
    numel = layer.out_features * layer.in_features
    w = dequantize_into(layer, workspace(numel, x.device, torch.bfloat16))
    return x @ w if transpose else x @ w.t()


def _code_on(device: torch.device) -> torch.Tensor:
    code = _CODES.get(device)
    if code is None:
        code = _CODES[device] = torch.tensor(NF4_CODE, dtype=torch.float32, device=device)
    return code


@lru_cache(maxsize=2)
def kernel(interpret: bool) -> Any:
    """The jitted kernel, imported on first use and reloaded when TRITON_INTERPRET differs from its first load
    (Triton reads it when it decorates a kernel). None without Triton."""
    import importlib
    import sys

    name = f"{__package__}.nf4_dequant_triton"
    try:
        module = sys.modules.get(name)
        module = importlib.import_module(name) if module is None else module
        if getattr(module, "INTERPRETED", None) != interpret:
            module = importlib.reload(module)
    except Exception:  # no Triton, or a broken install: the reference path runs
        return None
    return module.nf4_dequant_kernel
