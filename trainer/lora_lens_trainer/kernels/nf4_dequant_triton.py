"""The NF4 dequantize kernel (Triton); nf4_dequant.py launches it into its reused workspace and holds the contract.

One program turns BYTES packed bytes (2·BYTES weights, the even index in the high nibble) into bf16 values:
w = bf16(bf16(code) · bf16(absmax)), where absmax is the block's fp32 scale (one per 64 weights), or, when
double-quantized, int8 · fp32 scale (one per 256 absmax values) + fp32 offset, multiplied, then added, in fp32 —
exactly nf4.dequantize's roundings, so the result is equal bit for bit (the launch turns fp fusion off: an FMA
would round the absmax once instead of twice).
"""

import os

import triton
import triton.language as tl

# Whether this module's kernels were decorated for Triton's interpreter (nf4_dequant._kernel reloads it otherwise).
INTERPRETED = os.environ.get("TRITON_INTERPRET") == "1"


@triton.jit
def round_bf16(x):
    """fp32 -> the nearest bf16 value (ties to even), kept in fp32 (the interpreter truncates its casts)."""
    bits = x.to(tl.uint32, bitcast=True)
    bits = (bits + 0x7FFF + ((bits >> 16) & 1)) & 0xFFFF0000
    return bits.to(tl.float32, bitcast=True)


@triton.jit
def nf4_dequant_kernel(
    packed_ptr,
    absmax_ptr,
    scale_ptr,
    offset_ptr,
    code_ptr,
    out_ptr,
    N_BYTES,
    NUMEL,
    BYTES: tl.constexpr,
    DOUBLE: tl.constexpr,
    QBLOCK: tl.constexpr,
    SBLOCK: tl.constexpr,
    EMULATE: tl.constexpr,
):
    pid = tl.program_id(0).to(tl.int64)
    i = pid * BYTES + tl.arange(0, BYTES)
    mask = i < N_BYTES
    byte = tl.load(packed_ptr + i, mask=mask, other=0).to(tl.int32)
    hi = tl.load(code_ptr + (byte >> 4))
    lo = tl.load(code_ptr + (byte & 15))
    block = (2 * i) // QBLOCK  # both weights of a byte share a block: QBLOCK is even
    if DOUBLE:
        q = tl.load(absmax_ptr + block, mask=mask, other=0).to(tl.float32)
        s = tl.load(scale_ptr + block // SBLOCK, mask=mask, other=0.0)
        absmax = q * s
        absmax = absmax + tl.load(offset_ptr)
    else:
        absmax = tl.load(absmax_ptr + block, mask=mask, other=0.0)
    if EMULATE:
        a = round_bf16(absmax)
        w_hi = round_bf16(round_bf16(hi) * a)
        w_lo = round_bf16(round_bf16(lo) * a)
    else:
        # bf16 · bf16 is exact in fp32, so one rounding of the fp32 product is the bf16 product.
        a = absmax.to(tl.bfloat16).to(tl.float32)
        w_hi = hi.to(tl.bfloat16).to(tl.float32) * a
        w_lo = lo.to(tl.bfloat16).to(tl.float32) * a
    # (BYTES, 2) row-major is hi, lo, hi, lo...: tl.interleave's own definition (a jit function, which the
    # interpreter cannot call when Triton was imported before TRITON_INTERPRET was set, as in the CPU tests).
    w = tl.reshape(tl.join(w_hi, w_lo), (2 * BYTES,))
    o = pid * (2 * BYTES) + tl.arange(0, 2 * BYTES)
    tl.store(out_ptr + o, w.to(out_ptr.dtype.element_ty), mask=o < NUMEL)
