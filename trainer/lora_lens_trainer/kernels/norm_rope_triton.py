"""RMSNorm (forward, backward) and RoPE (in place on q and k, forward and backward) as Triton kernels; fused_ops.py
launches them, holds the autograd contract and the PyTorch reference path they are tested against.

All arithmetic is fp32. Rounding to bf16 goes through `round_bf16` (round to nearest even on the bits): Triton's
interpreter truncates its casts, the GPU rounds; the bit trick gives the same value on both, so the CPU tests check
the numbers the GPU computes.
"""

import os

import triton
import triton.language as tl

# Whether this module's kernels were decorated for Triton's interpreter (fused_ops.kernels reloads it otherwise).
INTERPRETED = os.environ.get("TRITON_INTERPRET") == "1"


@triton.jit
def round_bf16(x):
    """fp32 -> the nearest bf16 value (ties to even), kept in fp32."""
    bits = x.to(tl.uint32, bitcast=True)
    bits = (bits + 0x7FFF + ((bits >> 16) & 1)) & 0xFFFF0000
    return bits.to(tl.float32, bitcast=True)


@triton.jit
def _add(a, b):
    return a + b


@triton.jit
def row_sum(x):
    """tl.sum through a combine function of this module: tl.sum's own is decorated when Triton is imported, so under
    an interpreter switched on later (the tests' monkeypatch) it would not run."""
    return tl.reduce(x, 0, _add)


@triton.jit
def rmsnorm_fwd_kernel(
    x_ptr, w_ptr, y_ptr, rstd_ptr, N, eps, stride_x, stride_y, BLOCK: tl.constexpr, Y_BF16: tl.constexpr
):
    """One row: y = w · bf16(x · rstd), rstd = 1/sqrt(mean(x²) + eps); HF's Qwen2/Llama RMSNorm roundings."""
    row = tl.program_id(0)
    cols = tl.arange(0, BLOCK)
    mask = cols < N
    x = tl.load(x_ptr + row * stride_x + cols, mask=mask, other=0.0).to(tl.float32)
    rstd = 1.0 / tl.sqrt(row_sum(x * x) / N + eps)
    n = round_bf16(x * rstd)  # hidden_states.to(input_dtype)
    w = tl.load(w_ptr + cols, mask=mask, other=0.0).to(tl.float32)
    y = w * n
    if Y_BF16:
        y = round_bf16(y)
    tl.store(y_ptr + row * stride_y + cols, y, mask=mask)
    tl.store(rstd_ptr + row, rstd)


@triton.jit
def rmsnorm_bwd_kernel(
    dy_ptr,
    x_ptr,
    w_ptr,
    rstd_ptr,
    dx_ptr,
    dw_ptr,
    N,
    n_rows,
    stride_dy,
    stride_x,
    stride_dx,
    BLOCK: tl.constexpr,
    ROWS: tl.constexpr,
    HAS_DW: tl.constexpr,
):
    """Rows pid·ROWS .. pid·ROWS+ROWS-1 (a constexpr: the interpreter loops only over constants): dx = rstd · (dn − n · mean(dn · n)), dn = dy · w (the bf16 rounding of n passes the
    gradient as is, as autograd's cast does); dw's partial sum over those rows, Σ dy · bf16(n), into dw_ptr[pid]."""
    pid = tl.program_id(0)
    cols = tl.arange(0, BLOCK)
    mask = cols < N
    w = tl.load(w_ptr + cols, mask=mask, other=0.0).to(tl.float32)
    dw = w * 0.0  # tl.zeros is decorated at Triton's import too (see row_sum)
    for i in range(0, ROWS):
        row = pid * ROWS + i
        live = mask & (row < n_rows)
        x = tl.load(x_ptr + row * stride_x + cols, mask=live, other=0.0).to(tl.float32)
        dy = tl.load(dy_ptr + row * stride_dy + cols, mask=live, other=0.0).to(tl.float32)
        rstd = tl.load(rstd_ptr + row, mask=row < n_rows, other=0.0)
        n = x * rstd
        dn = dy * w
        dx = rstd * (dn - n * (row_sum(dn * n) / N))
        tl.store(dx_ptr + row * stride_dx + cols, round_bf16(dx), mask=live)
        if HAS_DW:
            dw += dy * round_bf16(n)
    if HAS_DW:
        tl.store(dw_ptr + pid * N + cols, dw, mask=mask)


@triton.jit
def rope_kernel(
    t_ptr,
    out_ptr,
    cos_ptr,
    sin_ptr,
    S,
    n_heads,
    half,
    stride_b,
    stride_h,
    stride_s,
    o_sb,
    o_sh,
    o_ss,
    c_sb,
    c_ss,
    HP: tl.constexpr,
    HALF: tl.constexpr,
    BACKWARD: tl.constexpr,
):
    """One (batch, position) of q or k: t·cos + rotate_half(t)·sin for every head, into out (which may be t itself);
    in backward the transposed rotation, applied to the gradient."""
    pid = tl.program_id(0)
    b = pid // S
    s = pid % S
    d = tl.arange(0, HALF)[None, :]
    dm = d < half
    row = cos_ptr + b * c_sb + s * c_ss
    c1 = tl.load(row + d, mask=dm, other=0.0).to(tl.float32)
    c2 = tl.load(row + half + d, mask=dm, other=0.0).to(tl.float32)
    row = sin_ptr + b * c_sb + s * c_ss
    s1 = tl.load(row + d, mask=dm, other=0.0).to(tl.float32)
    s2 = tl.load(row + half + d, mask=dm, other=0.0).to(tl.float32)
    heads = tl.arange(0, HP)[:, None]
    mask = (heads < n_heads) & dm
    base = t_ptr + b * stride_b + s * stride_s + heads * stride_h + d
    x1 = tl.load(base, mask=mask, other=0.0).to(tl.float32)
    x2 = tl.load(base + half, mask=mask, other=0.0).to(tl.float32)
    if BACKWARD:
        o1 = x1 * c1 + x2 * s2
        o2 = x2 * c2 - x1 * s1
    else:
        o1 = x1 * c1 - x2 * s1
        o2 = x2 * c2 + x1 * s2
    dst = out_ptr + b * o_sb + s * o_ss + heads * o_sh + d
    tl.store(dst, round_bf16(o1), mask=mask)
    tl.store(dst + half, round_bf16(o2), mask=mask)


@triton.jit
def swiglu_kernel(g_ptr, u_ptr, out_ptr, dy_ptr, dg_ptr, du_ptr, n, BLOCK: tl.constexpr, BACKWARD: tl.constexpr):
    """silu(g)·u (one rounding), or its gradients: dg = dy·u·s·(1 + g·(1 − s)), du = dy·silu(g), s = sigmoid(g)."""
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    g = tl.load(g_ptr + offs, mask=mask, other=0.0).to(tl.float32)
    u = tl.load(u_ptr + offs, mask=mask, other=0.0).to(tl.float32)
    s = 1.0 / (1.0 + tl.exp(-g))
    if BACKWARD:
        dy = tl.load(dy_ptr + offs, mask=mask, other=0.0).to(tl.float32)
        tl.store(dg_ptr + offs, round_bf16(dy * u * s * (1.0 + g * (1.0 - s))), mask=mask)
        tl.store(du_ptr + offs, round_bf16(dy * g * s), mask=mask)
    else:
        tl.store(out_ptr + offs, round_bf16(g * s * u), mask=mask)
