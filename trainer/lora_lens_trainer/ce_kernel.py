"""Cross-entropy and its gradient in one Triton kernel, in place over a chunk of logits.

The torch formulation of a chunk (upcast to fp32, logsumexp, subtract, exp, scatter, divide, cast back) makes
about seven passes over an fp32 copy of the chunk: ~5 GB of memory traffic per 880-token chunk at a 152k
vocabulary, which on a 0.5B model is a tenth of the step. This kernel reads the chunk (in its own dtype) twice
(online max and sum, then the gradient) and writes the gradient over it: no fp32 copy at all.

The head's post-processing runs inside the kernel, in fp32: a multiplier m (Granite divides by logits_scaling,
Cohere multiplies by logit_scale) and final-logit softcapping (Gemma 2: y = c·tanh(m·x/c)). The gradient written
is the one with respect to the raw logits x, so the caller's matmuls stay as they are:
d loss/dx = scale · m · (1 − tanh²) · (softmax(y) − onehot).
Used on CUDA when Triton imports (Linux wheels of torch ship it); elsewhere loss.py keeps the torch path.
"""

from __future__ import annotations

import os

import torch

try:
    import triton
    import triton.language as tl
except ImportError:  # CPU-only or Windows installs of torch
    triton = None  # type: ignore[assignment]

if triton is not None:

    @triton.jit
    def _capped(z, softcap, SOFTCAP: tl.constexpr):  # type: ignore[no-untyped-def]
        """softcap · tanh(z / softcap) with SOFTCAP, else z: the logit the loss sees."""
        if SOFTCAP:
            # tanh(u) = 1 − 2/(e^{2u} + 1): exact at both ends in fp32 (e^{2u} → inf gives 1, → 0 gives −1).
            z = (1.0 - 2.0 / (tl.exp(2.0 * z / softcap) + 1.0)) * softcap
        return z

    # No annotations besides tl.constexpr: Triton resolves every global a kernel names, `Any` included.
    @triton.jit
    def _cross_entropy_grad_kernel(
        logits_ptr,
        row_stride,
        targets_ptr,
        loss_ptr,
        vocab,
        scale,  # type: ignore[no-untyped-def]
        multiplier,
        softcap,
        BLOCK: tl.constexpr,
        SOFTCAP: tl.constexpr,
    ):
        row = tl.program_id(0).to(tl.int64)
        base = logits_ptr + row * row_stride
        target = tl.load(targets_ptr + row)
        running_max = float("-inf")
        running_sum = 0.0
        for start in range(0, vocab, BLOCK):
            offsets = start + tl.arange(0, BLOCK)
            mask = offsets < vocab
            x = tl.load(base + offsets, mask=mask, other=0.0).to(tl.float32)
            y = tl.where(mask, _capped(x * multiplier, softcap, SOFTCAP), float("-inf"))
            new_max = tl.maximum(running_max, tl.max(y, axis=0))
            running_sum = running_sum * tl.exp(running_max - new_max) + tl.sum(tl.exp(y - new_max), axis=0)
            running_max = new_max
        lse = running_max + tl.log(running_sum)
        picked = _capped(tl.load(base + target).to(tl.float32) * multiplier, softcap, SOFTCAP)
        tl.store(loss_ptr + row, lse - picked)
        for start in range(0, vocab, BLOCK):
            offsets = start + tl.arange(0, BLOCK)
            mask = offsets < vocab
            x = tl.load(base + offsets, mask=mask, other=0.0).to(tl.float32)
            y = _capped(x * multiplier, softcap, SOFTCAP)
            grad = tl.exp(y - lse)
            grad = tl.where(offsets == target, grad - 1.0, grad)
            if SOFTCAP:
                t = y / softcap
                grad = grad * (1.0 - t * t)  # d(softcap · tanh(z / softcap)) / dz
            grad = grad * (scale * multiplier)
            tl.store(base + offsets, grad.to(logits_ptr.dtype.element_ty), mask=mask)


def kernel_available(device: torch.device) -> bool:
    """Triton imports and the tensors live on CUDA; LORA_LENS_TORCH_CE=1 forces the torch path (for comparison)."""
    return triton is not None and device.type == "cuda" and os.environ.get("LORA_LENS_TORCH_CE") != "1"


def cross_entropy_grad_(
    logits: torch.Tensor, targets: torch.Tensor, scale: float, multiplier: float = 1.0, softcap: float | None = None
) -> torch.Tensor:
    """Each row's cross-entropy (fp32, shape (n,)) of y = transform(logits); `logits` (n, vocab) is overwritten
    with the gradient of scale · Σ loss with respect to the raw logits (see the module docstring).
    Targets must be valid class indices."""
    n, vocab = logits.shape
    if logits.stride(1) != 1:
        raise ValueError("logits must be contiguous along the vocabulary")
    loss = torch.empty(n, dtype=torch.float32, device=logits.device)
    if n == 0:
        return loss
    block = min(8192, triton.next_power_of_2(vocab))
    _cross_entropy_grad_kernel[(n,)](
        logits,
        logits.stride(0),
        targets.contiguous(),
        loss,
        vocab,
        float(scale),
        float(multiplier),
        float(softcap or 1.0),
        BLOCK=block,
        SOFTCAP=softcap is not None,
        num_warps=16 if block >= 4096 else 4,
    )
    return loss
