"""The fused NF4 matmul kernel (Triton); nf4_matmul.py chooses it, passes its arguments and holds the reference.

C[m, p] = sum_r A[m, r] B[r, p], where B[r, p] is W[p, r] (forward, x @ W^T) or W[r, p] (input gradient, g @ W),
W read from NF4Linear's packed codes and block scales one tile at a time: W's flat index of B[r, p] is
r * stride_r + p * stride_p, two codes a byte (the even index in the high nibble), one absmax per 64 weights
(int8 around a mean, with one fp32 scale per 256 absmax values, when double-quantized).
"""

import os

import triton
import triton.language as tl

# Whether this module's kernels were decorated for Triton's interpreter (nf4_matmul._kernel reloads it otherwise).
INTERPRETED = os.environ.get("TRITON_INTERPRET") == "1"


@triton.jit
def round_bf16(x):
    """fp32 -> the nearest bf16 value (ties to even), kept in fp32."""
    bits = x.to(tl.uint32, bitcast=True)
    bits = (bits + 0x7FFF + ((bits >> 16) & 1)) & 0xFFFF0000
    return bits.to(tl.float32, bitcast=True)


@triton.jit
def nf4_matmul_kernel(
    a_ptr,
    packed_ptr,
    absmax_ptr,
    scale_ptr,
    offset_ptr,
    code_ptr,
    c_ptr,
    M,
    P,
    R: tl.constexpr,
    stride_r,
    stride_p,
    stride_am,
    stride_cm,
    BLOCK_M: tl.constexpr,
    BLOCK_P: tl.constexpr,
    BLOCK_R: tl.constexpr,
    DOUBLE: tl.constexpr,
    QBLOCK: tl.constexpr,
    SBLOCK: tl.constexpr,
    EMULATE: tl.constexpr,
):
    pid_m = tl.program_id(0)
    pid_p = tl.program_id(1)
    rm = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    rp = pid_p * BLOCK_P + tl.arange(0, BLOCK_P)
    acc = tl.full((BLOCK_M, BLOCK_P), 0.0, tl.float32)  # not tl.zeros: a jit function, unusable by the interpreter
    # when triton was imported before TRITON_INTERPRET was set (as in the CPU tests)
    # R is a constexpr: a model has a handful of reduction sizes, and Triton 3.6's interpreter cannot loop to a
    # runtime bound under numpy 2.
    for r0 in range(0, R, BLOCK_R):
        rr = r0 + tl.arange(0, BLOCK_R)
        a_mask = (rm[:, None] < M) & (rr[None, :] < R)
        a = tl.load(a_ptr + rm[:, None] * stride_am + rr[None, :], mask=a_mask, other=0.0)
        # W's flat index of B[r, p]; two codes a byte, the even index in the high nibble.
        w_mask = (rr[:, None] < R) & (rp[None, :] < P)
        e = rr[:, None].to(tl.int64) * stride_r + rp[None, :].to(tl.int64) * stride_p
        byte = tl.load(packed_ptr + e // 2, mask=w_mask, other=0).to(tl.int32)
        nibble = tl.where(e % 2 == 0, byte >> 4, byte & 15)
        value = tl.load(code_ptr + nibble, mask=w_mask, other=0.0)
        block = e // QBLOCK
        if DOUBLE:
            q = tl.load(absmax_ptr + block, mask=w_mask, other=0).to(tl.float32)
            s = tl.load(scale_ptr + block // SBLOCK, mask=w_mask, other=0.0)
            scale = q * s + tl.load(offset_ptr)
        else:
            scale = tl.load(absmax_ptr + block, mask=w_mask, other=0.0)
        # The reference multiplies in the compute dtype: code and absmax each rounded to it, then the product.
        if EMULATE:
            # Triton 3.6's interpreter gets bf16 products and dots wrong and truncates fp32 -> bf16 casts: the
            # same roundings (to nearest, ties to even), done on fp32 bits.
            w = round_bf16(round_bf16(value) * round_bf16(scale))
            acc += tl.dot(a.to(tl.float32), w)
        else:
            acc += tl.dot(a, value.to(a.dtype) * scale.to(a.dtype))
    c_mask = (rm[:, None] < M) & (rp[None, :] < P)
    if EMULATE:
        acc = round_bf16(acc)
    tl.store(c_ptr + rm[:, None] * stride_cm + rp[None, :], acc.to(c_ptr.dtype.element_ty), mask=c_mask)
