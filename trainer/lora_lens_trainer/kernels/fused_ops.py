"""Fused RMSNorm, RoPE and SwiGLU (Triton, norm_rope_triton.py) behind the trainer's model path, with their PyTorch
reference paths (transformers' own formulas) that the kernels are tested against.

Off by default: LORA_LENS_FUSED_KERNELS=1 turns them on (`install(model)` in modeling.apply_method) until the GPU
measurement (trainer/bench/fused_gpu.py) shows they pay. They run for bf16 activations on CUDA, or on the CPU
under Triton's interpreter (TRITON_INTERPRET=1, the tests); anything else takes the reference path.

- RMSNorm: one program per row, y = w · bf16(x · rstd) with the row's rstd saved (4 B per row) instead of the fp32
  copy of x that autograd keeps for `pow` and `mul` (4·h B per row).
- RoPE: q and k rotated by one launch each (one program per position, every head), in fp32 with one rounding; the
  backward applies the transposed rotation. Out of place both ways (see _RopeFn): one read and one write per element
  instead of eager PyTorch's six element-wise kernels.
- SwiGLU: silu(gate) · up in one pass, saving gate and up only (eager also keeps silu's output).
- LoRA: each target's base matmul and its adapter in one launch (kernels/lora_fused.py), marked on the layer here.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import torch
from torch import nn

ENV = "LORA_LENS_FUSED_KERNELS"
# What LORA_LENS_FUSED_KERNELS can name, comma-separated: "lora" is a target's base matmul fused with its adapter in
# one launch (kernels/lora_fused.py, mode "one"), "lora2" the same kernel reading x A^T that cuBLAS computed first.
OPS = ("norm", "rope", "swiglu", "lora", "lora2")
ALL = ("norm", "rope", "swiglu", "lora")


def requested_ops() -> frozenset[str]:
    """The fused ops LORA_LENS_FUSED_KERNELS asks for: 1/true/on/all for every one, else a comma-separated list."""
    raw = os.environ.get(ENV, "").strip().lower()
    if raw in ("", "0", "false", "off"):
        return frozenset()
    if raw in ("1", "true", "on", "all"):
        return frozenset(ALL)
    names = {part.strip() for part in raw.split(",") if part.strip()}
    unknown = sorted(names - set(OPS))
    if unknown:
        raise ValueError(f"{ENV}={raw!r}: unknown {', '.join(unknown)}; use 1 (all) or a list of {', '.join(OPS)}")
    if {"lora", "lora2"} <= names:
        raise ValueError(f"{ENV}={raw!r}: name lora or lora2, not both (two ways to run the same fused matmul)")
    return frozenset(names)


def requested() -> bool:
    return bool(requested_ops())


def _interpreting() -> bool:
    return os.environ.get("TRITON_INTERPRET") == "1"


@lru_cache(maxsize=2)
def _module(interpret: bool) -> Any:
    """norm_rope_triton, reloaded when TRITON_INTERPRET differs from its first load; None without Triton."""
    import importlib

    name = f"{__package__}.norm_rope_triton"
    try:
        module = sys.modules.get(name)
        module = importlib.import_module(name) if module is None else module
        if getattr(module, "INTERPRETED", None) != interpret:
            module = importlib.reload(module)
    except Exception:  # no Triton, or a broken install: the reference path runs
        return None
    return module


def runs_on(t: torch.Tensor) -> bool:
    """Whether the kernels can run for `t`: bf16, on CUDA with Triton or on the CPU under the interpreter."""
    if t.dtype != torch.bfloat16:
        return False
    if t.device.type != "cuda" and not (t.device.type == "cpu" and _interpreting()):
        return False
    return _module(_interpreting()) is not None


def _pow2(n: int) -> int:
    return 1 << max(0, (n - 1).bit_length())


# ---------------------------------------------------------------- RMSNorm


def rmsnorm_reference(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    """transformers' Qwen2RMSNorm / LlamaRMSNorm forward."""
    h = x.to(torch.float32)
    h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + eps)
    return weight * h.to(x.dtype)


class _RMSNormFn(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
        k = _module(_interpreting())
        shape = x.shape
        x2 = x.reshape(-1, shape[-1])
        if x2.stride(-1) != 1:
            x2 = x2.contiguous()
        rows, n = x2.shape
        out_dtype = torch.promote_types(weight.dtype, x.dtype)
        y = torch.empty((rows, n), dtype=out_dtype, device=x.device)
        rstd = torch.empty(rows, dtype=torch.float32, device=x.device)
        k.rmsnorm_fwd_kernel[(rows,)](
            x2, weight, y, rstd, n, eps, x2.stride(0), y.stride(0), BLOCK=_pow2(n), Y_BF16=out_dtype == torch.bfloat16
        )
        ctx.save_for_backward(x2, weight, rstd)
        ctx.shape = shape
        return y.view(*shape[:-1], n)

    @staticmethod
    def backward(ctx: Any, dy: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None, None]:
        k = _module(_interpreting())
        x2, weight, rstd = ctx.saved_tensors
        rows, n = x2.shape
        dy2 = dy.reshape(rows, n)
        if dy2.stride(-1) != 1:
            dy2 = dy2.contiguous()
        dx = torch.empty_like(x2)
        has_dw = bool(ctx.needs_input_grad[1])
        programs = min(rows, 4 * _sm_count(x2.device))
        per = -(-rows // programs)
        programs = -(-rows // per)
        partial = torch.empty((programs, n) if has_dw else (1,), dtype=torch.float32, device=x2.device)
        k.rmsnorm_bwd_kernel[(programs,)](
            dy2, x2, weight, rstd, dx, partial, n, rows, dy2.stride(0), x2.stride(0), dx.stride(0),
            BLOCK=_pow2(n), ROWS=per, HAS_DW=has_dw,
        )  # fmt: skip
        dw = partial.sum(0).to(weight.dtype) if has_dw else None
        return dx.view(ctx.shape), dw, None


def _sm_count(device: torch.device) -> int:
    if device.type != "cuda":
        return 2
    return int(torch.cuda.get_device_properties(device).multi_processor_count)


def fused_rmsnorm(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    """RMSNorm through the kernels where they run, else the reference."""
    if not runs_on(x) or weight.dtype not in (torch.bfloat16, torch.float32):
        return rmsnorm_reference(x, weight, eps)
    out: torch.Tensor = _RMSNormFn.apply(x, weight, eps)
    return out


# ---------------------------------------------------------------- RoPE


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def rope_reference(
    q: torch.Tensor, k: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, unsqueeze_dim: int = 1
) -> tuple[torch.Tensor, torch.Tensor]:
    """transformers' apply_rotary_pos_emb."""
    cos = cos.unsqueeze(unsqueeze_dim)
    sin = sin.unsqueeze(unsqueeze_dim)
    return q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin


def _launch_rope(t: torch.Tensor, out: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, backward: bool) -> None:
    """t, out: (batch, heads, seq, head_dim), last dim contiguous (out may be t); cos, sin: (batch or 1, seq, dim)."""
    b, heads, s, d = t.shape
    c_sb = 0 if cos.shape[0] == 1 else cos.stride(0)
    _module(_interpreting()).rope_kernel[(b * s,)](
        t, out, cos, sin, s, heads, d // 2, t.stride(0), t.stride(1), t.stride(2),
        out.stride(0), out.stride(1), out.stride(2), c_sb, cos.stride(1),
        HP=_pow2(heads), HALF=_pow2(d // 2), BACKWARD=backward,
    )  # fmt: skip


class _RopeFn(torch.autograd.Function):
    """q or k rotated by one launch. The forward writes a new tensor: q and k are views of a projection's output,
    and autograd forbids modifying in place a view of what a custom Function (the fused LoRA node) returned. Only
    cos and sin are saved."""

    @staticmethod
    def forward(ctx: Any, t: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        b, heads, s, d = t.shape
        out = torch.empty((b, s, heads, d), dtype=t.dtype, device=t.device).transpose(1, 2)  # the projection's layout
        _launch_rope(t, out, cos, sin, backward=False)
        ctx.save_for_backward(cos, sin)
        return out

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None, None]:
        cos, sin = ctx.saved_tensors
        grad = grad if grad.stride(-1) == 1 else grad.contiguous()
        out = torch.empty_like(grad)  # not in place: the incoming gradient may be someone else's tensor
        _launch_rope(grad, out, cos, sin, backward=True)
        return out, None, None


def _rope_fits(q: torch.Tensor, k: torch.Tensor, cos: torch.Tensor, unsqueeze_dim: int) -> bool:
    return (
        unsqueeze_dim == 1
        and runs_on(q)
        and k.dtype == q.dtype
        and cos.dtype == q.dtype
        and q.dim() == 4
        and q.stride(-1) == 1
        and k.stride(-1) == 1
        and cos.stride(-1) == 1
        and q.shape[-1] % 2 == 0
    )


def fused_rope(
    q: torch.Tensor, k: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, unsqueeze_dim: int = 1
) -> tuple[torch.Tensor, torch.Tensor]:
    """apply_rotary_pos_emb through the in-place kernel where it runs, else the reference."""
    if not _rope_fits(q, k, cos, unsqueeze_dim) or sin.stride() != cos.stride():
        return rope_reference(q, k, cos, sin, unsqueeze_dim)
    q_out: torch.Tensor = _RopeFn.apply(q, cos, sin)
    k_out: torch.Tensor = _RopeFn.apply(k, cos, sin)
    return q_out, k_out


# ---------------------------------------------------------------- SwiGLU

SWIGLU_BLOCK = 1024


def swiglu_reference(gate: torch.Tensor, up: torch.Tensor) -> torch.Tensor:
    """transformers' LlamaMLP / Qwen2MLP: act_fn(gate_proj(x)) * up_proj(x) with SiLU."""
    return torch.nn.functional.silu(gate) * up


class _SwiGLUFn(torch.autograd.Function):
    """Saves gate and up only (eager keeps silu's input, its output and up: one i-wide tensor more per token)."""

    @staticmethod
    def forward(ctx: Any, gate: torch.Tensor, up: torch.Tensor) -> torch.Tensor:
        g, u = gate.contiguous(), up.contiguous()
        out = torch.empty_like(g)
        n = g.numel()
        _module(_interpreting()).swiglu_kernel[(-(-n // SWIGLU_BLOCK),)](
            g, u, out, g, g, g, n, BLOCK=SWIGLU_BLOCK, BACKWARD=False
        )
        ctx.save_for_backward(g, u)
        return out

    @staticmethod
    def backward(ctx: Any, dy: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        g, u = ctx.saved_tensors
        dy = dy.contiguous()
        dg, du = torch.empty_like(g), torch.empty_like(u)
        n = g.numel()
        _module(_interpreting()).swiglu_kernel[(-(-n // SWIGLU_BLOCK),)](
            g, u, g, dy, dg, du, n, BLOCK=SWIGLU_BLOCK, BACKWARD=True
        )
        return dg, du


def fused_swiglu(gate: torch.Tensor, up: torch.Tensor) -> torch.Tensor:
    """silu(gate) * up through the kernel where it runs, else the reference."""
    if not runs_on(gate) or up.dtype != gate.dtype or up.shape != gate.shape:
        return swiglu_reference(gate, up)
    out: torch.Tensor = _SwiGLUFn.apply(gate, up)
    return out


# ---------------------------------------------------------------- wiring


def _is_hf_rmsnorm(m: nn.Module) -> bool:
    """transformers' plain RMSNorm (Qwen2, Llama, Mistral, Qwen3): weight · normalized, no (1 + weight) offset."""
    name = type(m).__name__
    return name.endswith("RMSNorm") and not name.startswith("Gemma") and hasattr(m, "variance_epsilon")


def _norm_forward(m: nn.Module) -> Callable[[torch.Tensor], torch.Tensor]:
    weight = m.weight
    eps = float(m.variance_epsilon)  # type: ignore[arg-type]
    assert isinstance(weight, torch.Tensor)
    return lambda x: fused_rmsnorm(x, weight, eps)


def _is_swiglu_mlp(m: nn.Module) -> bool:
    """transformers' gated MLP (Llama, Qwen2, Mistral): down(act(gate(x)) * up(x)) with SiLU."""
    act = getattr(m, "act_fn", None)
    parts = all(hasattr(m, name) for name in ("gate_proj", "up_proj", "down_proj"))
    silu = isinstance(act, nn.SiLU) or type(act).__name__ == "SiLUActivation"  # transformers' ACT2FN["silu"]
    return parts and silu and type(m).__name__.endswith("MLP")


def _mlp_forward(m: nn.Module) -> Callable[[torch.Tensor], torch.Tensor]:
    gate, up, down = m.gate_proj, m.up_proj, m.down_proj
    return lambda x: down(fused_swiglu(gate(x), up(x)))  # type: ignore[operator]


def install(model: nn.Module, ops: frozenset[str] | None = None) -> Callable[[], None]:
    """Routes the model's RMSNorms, gated MLPs, LoRA targets and its modelling module's apply_rotary_pos_emb through
    the fused ops named in `ops` (default: what LORA_LENS_FUSED_KERNELS asks for, else all); returns the undo. RoPE is
    patched in the model's modelling module (transformers calls it as a module global); a LoRA layer (lora.py) is
    marked with the fused mode its forward then takes."""
    ops = ops if ops is not None else (requested_ops() or frozenset(ALL))
    undo: list[Callable[[], None]] = []
    lora_mode = "two" if "lora2" in ops else "one" if "lora" in ops else None
    for m in model.modules():
        if _is_hf_rmsnorm(m) and "norm" in ops:
            m.forward = _norm_forward(m)  # type: ignore[method-assign]
            undo.append(lambda m=m: m.__dict__.pop("forward", None))  # type: ignore[misc]
        elif _is_swiglu_mlp(m) and "swiglu" in ops:
            m.forward = _mlp_forward(m)  # type: ignore[method-assign]
            undo.append(lambda m=m: m.__dict__.pop("forward", None))  # type: ignore[misc]
        elif hasattr(m, "fused_base") and lora_mode is not None:
            setattr(m, "fused_base", lora_mode)  # noqa: B010 (nn.Module types attributes as Tensor | Module)
            undo.append(lambda m=m: setattr(m, "fused_base", None))  # type: ignore[misc]
    for name in {type(m).__module__ for m in model.modules()} if "rope" in ops else ():
        module: Any = sys.modules.get(name)
        original = getattr(module, "apply_rotary_pos_emb", None)
        if module is not None and original is not None and name.startswith("transformers.models."):
            module.apply_rotary_pos_emb = fused_rope
            undo.append(lambda module=module, original=original: setattr(module, "apply_rotary_pos_emb", original))  # type: ignore[misc]

    def undo_all() -> None:
        for u in reversed(undo):
            u()

    return undo_all
