"""A LoRA target's frozen matmul and its adapter in one Triton kernel; lora_fused.py launches it (forward and input
gradient), holds the autograd contract and the reference it is tested against.

    out[m, n] = sum_k X[m, k] P[k, n] + scale * sum_r XQ[m, r] S[r, n] (+ bias[n]),  XQ = bf16(X @ Q)

Forward: X = x, P = W^T, Q = A^T, S = B^T (out = x W^T + s (x A^T) B^T). Input gradient: X = g, P = W, Q = B, S = A
(dx = g W + s (g B) A). Every operand is read through its strides, so W, A and B are never transposed or copied.
Each program owns a BLOCK_M x BLOCK_N tile of out. XQ is either computed inside the K loop from the same X tile the
base product reads (XQ_GIVEN false: one launch, and the programs of column 0 store it, the forward saving it for B's
gradient and the backward for A's) or read from memory (XQ_GIVEN: computed before by cuBLAS, two launches). Either
way the adapter's product is added to the fp32 accumulator before the one rounding to bf16, where eager PyTorch
writes the base product, reads it back and writes it again (addmm_).

EMULATE (the interpreter): Triton 3.6's interpreter miscomputes bf16 dots and truncates fp32 -> bf16 casts, so the
bf16 operands are widened to fp32 (exact) and the roundings the GPU does are done on the bits (round_bf16).
"""

import os

import triton
import triton.language as tl

# Whether this module's kernels were decorated for Triton's interpreter (lora_fused reloads it otherwise).
INTERPRETED = os.environ.get("TRITON_INTERPRET") == "1"


@triton.jit
def round_bf16(x):
    """fp32 -> the nearest bf16 value (ties to even), kept in fp32."""
    bits = x.to(tl.uint32, bitcast=True)
    bits = (bits + 0x7FFF + ((bits >> 16) & 1)) & 0xFFFF0000
    return bits.to(tl.float32, bitcast=True)


@triton.jit
def _mma(a, b, EMULATE: tl.constexpr):
    if EMULATE:
        return tl.dot(a.to(tl.float32), b.to(tl.float32), input_precision="ieee")
    return tl.dot(a, b)


@triton.jit
def lora_matmul_kernel(
    x_ptr, p_ptr, q_ptr, s_ptr, bias_ptr, xq_ptr, out_ptr,
    M, N, scale,
    stride_xm, stride_pk, stride_pn, stride_qk, stride_qr, stride_sr, stride_sn, stride_xqm, stride_om,
    K: tl.constexpr, R: tl.constexpr,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr, BLOCK_R: tl.constexpr,
    GROUP_M: tl.constexpr, XQ_GIVEN: tl.constexpr, HAS_BIAS: tl.constexpr, EMULATE: tl.constexpr,
):  # fmt: skip
    # Grouped order: GROUP_M row blocks sweep the columns together, so their tiles of P stay in L2.
    pid = tl.program_id(0)
    num_m = (M + BLOCK_M - 1) // BLOCK_M  # not tl.cdiv: a jit function, see tl.full below
    num_n = (N + BLOCK_N - 1) // BLOCK_N
    in_group = GROUP_M * num_n
    first_m = (pid // in_group) * GROUP_M
    size_m = tl.minimum(num_m - first_m, GROUP_M)
    pid_m = first_m + (pid % in_group) % size_m
    pid_n = (pid % in_group) // size_m

    rm = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    rn = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    rr = tl.arange(0, BLOCK_R)
    row = rm[:, None].to(tl.int64)
    m_in = rm[:, None] < M
    acc = tl.full((BLOCK_M, BLOCK_N), 0.0, tl.float32)  # tl.full, not tl.zeros: see nf4_triton.py
    acc_q = tl.full((BLOCK_M, BLOCK_R), 0.0, tl.float32)
    # K is a constexpr: a model has a handful of widths, and the interpreter cannot loop to a runtime bound.
    for k0 in range(0, K, BLOCK_K):
        rk = k0 + tl.arange(0, BLOCK_K)
        xt = tl.load(x_ptr + row * stride_xm + rk[None, :], mask=m_in & (rk[None, :] < K), other=0.0)
        p_mask = (rk[:, None] < K) & (rn[None, :] < N)
        pt = tl.load(p_ptr + rk[:, None] * stride_pk + rn[None, :] * stride_pn, mask=p_mask, other=0.0)
        acc += _mma(xt, pt, EMULATE)
        if not XQ_GIVEN:
            q_mask = (rk[:, None] < K) & (rr[None, :] < R)
            qt = tl.load(q_ptr + rk[:, None] * stride_qk + rr[None, :] * stride_qr, mask=q_mask, other=0.0)
            acc_q += _mma(xt, qt, EMULATE)

    xq_mask = m_in & (rr[None, :] < R)
    xq_at = xq_ptr + row * stride_xqm + rr[None, :]
    if XQ_GIVEN:
        xq = tl.load(xq_at, mask=xq_mask, other=0.0)
    else:
        if EMULATE:
            xq = round_bf16(acc_q)
        else:
            xq = acc_q.to(xq_ptr.dtype.element_ty)
        tl.store(xq_at, xq.to(xq_ptr.dtype.element_ty), mask=xq_mask & (pid_n == 0))
    s_mask = (rr[:, None] < R) & (rn[None, :] < N)
    st = tl.load(s_ptr + rr[:, None] * stride_sr + rn[None, :] * stride_sn, mask=s_mask, other=0.0)
    acc += scale * _mma(xq, st, EMULATE)
    if HAS_BIAS:
        acc += tl.load(bias_ptr + rn, mask=rn < N, other=0.0).to(tl.float32)[None, :]
    if EMULATE:
        acc = round_bf16(acc)
    out_mask = m_in & (rn[None, :] < N)
    tl.store(out_ptr + row * stride_om + rn[None, :], acc.to(out_ptr.dtype.element_ty), mask=out_mask)
