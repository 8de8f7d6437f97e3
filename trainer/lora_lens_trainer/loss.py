"""Cross-entropy fused with the output projection, in chunks of tokens.

transformers computes logits for every position (B*L x vocab in bf16), upcasts them to fp32 and keeps the
softmax for backward: for a 152k vocabulary at 8k tokens that is 2.5 GB + 5 GB + 5 GB at the step's peak.
Here only positions that have a target are projected, a chunk at a time; each chunk's gradient with respect
to the hidden states (and the head weight, when it trains) is formed right away, and backward only scales the
stored gradients by the incoming scalar. On CUDA with Triton the chunk's logits stay in the compute dtype and
ce_kernel turns them into their gradient in place (the largest temporary: one chunk of bf16 logits); elsewhere
torch does it over an fp32 copy (one chunk of fp32 logits and a temporary of the same size).
"""
from __future__ import annotations

from typing import Any

import torch

from . import ce_kernel

IGNORE = -100
# Logits per chunk: 2**27 (256 MiB in bf16 on the Triton path, 512 MiB of fp32 on torch's); ~880 tokens at a 152k vocabulary.
CHUNK_ELEMENTS = 2 ** 27


class _FusedLinearCE(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, hidden: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor, denominator: float,
                dtype: torch.dtype) -> torch.Tensor:
        n, vocab = hidden.shape[0], weight.shape[0]
        chunk = max(1, CHUNK_ELEMENTS // vocab)
        w = weight.to(dtype)
        h = hidden.to(dtype)
        want_h, want_w = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        grad_h = torch.empty_like(h) if want_h else None
        grad_w = torch.zeros(weight.shape, dtype=torch.float32, device=weight.device) if want_w else None
        total = torch.zeros((), dtype=torch.float32, device=hidden.device)
        use_kernel = ce_kernel.kernel_available(hidden.device)
        for start in range(0, n, chunk):
            hc = h[start:start + chunk]
            loss_sum, pc = _chunk_loss_and_grad(hc, w, targets[start:start + chunk], denominator, use_kernel)
            total += loss_sum
            if want_h:
                grad_h[start:start + chunk] = pc @ w
            if want_w:
                # fp32 accumulation across chunks; a bf16 running sum would lose the small chunks' share.
                grad_w.add_(pc.t() @ hc)
            del pc  # before the next chunk's logits: one chunk alive at a time
        ctx.save_for_backward(*(t for t in (grad_h, grad_w) if t is not None))
        ctx.has = (want_h, want_w)
        ctx.dtypes = (hidden.dtype, weight.dtype)
        return total / denominator

    @staticmethod
    def backward(ctx: Any, grad_out: torch.Tensor) -> Any:
        saved = list(ctx.saved_tensors)
        want_h, want_w = ctx.has
        grad_h = saved.pop(0).mul(grad_out).to(ctx.dtypes[0]) if want_h else None
        grad_w = saved.pop(0).mul(grad_out).to(ctx.dtypes[1]) if want_w else None
        return grad_h, grad_w, None, None, None


def _chunk_loss_and_grad(hc: torch.Tensor, w: torch.Tensor, tc: torch.Tensor, denominator: float,
                         use_kernel: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """One chunk's summed loss and d loss / d logits (softmax − onehot, over the denominator) in the compute dtype."""
    logits = hc @ w.t()
    if use_kernel:
        return ce_kernel.cross_entropy_grad_(logits, tc, 1.0 / denominator).sum(), logits  # gradient in place
    logits = logits.float()
    lse = torch.logsumexp(logits, dim=-1)
    picked = logits.gather(1, tc.unsqueeze(1)).squeeze(1)
    loss_sum = (lse - picked).sum()
    probs = logits.sub_(lse.unsqueeze(1)).exp_()  # in place in the fp32 chunk
    probs.scatter_add_(1, tc.unsqueeze(1), torch.full_like(picked, -1.0).unsqueeze(1))
    probs.div_(denominator)
    return loss_sum, probs.to(hc.dtype)


def fused_linear_cross_entropy(hidden: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor,
                               denominator: float | None = None, dtype: torch.dtype | None = None) -> torch.Tensor:
    """Sum of token cross-entropies over positions whose target is not IGNORE, divided by `denominator`
    (default: their count). hidden: (..., H); targets: (...) aligned with hidden (already shifted)."""
    h = hidden.reshape(-1, hidden.shape[-1])
    t = targets.reshape(-1)
    keep = (t != IGNORE).nonzero().squeeze(1)
    h, t = h.index_select(0, keep), t.index_select(0, keep)
    denom = float(denominator if denominator is not None else max(1, int(keep.numel())))
    if dtype is None:
        dtype = torch.get_autocast_dtype(h.device.type) if torch.is_autocast_enabled(h.device.type) else hidden.dtype
    if not torch.is_grad_enabled():
        return _loss_only(h, weight, t, denom, dtype)
    return _FusedLinearCE.apply(h, weight, t, denom, dtype)


def _loss_only(h: torch.Tensor, weight: torch.Tensor, t: torch.Tensor, denom: float, dtype: torch.dtype) -> torch.Tensor:
    chunk = max(1, CHUNK_ELEMENTS // weight.shape[0])
    w = weight.to(dtype)
    total = torch.zeros((), dtype=torch.float32, device=h.device)
    for start in range(0, h.shape[0], chunk):
        logits = (h[start:start + chunk].to(dtype) @ w.t()).float()
        total += (torch.logsumexp(logits, dim=-1) - logits.gather(1, t[start:start + chunk].unsqueeze(1)).squeeze(1)).sum()
    return total / denom


def reference_cross_entropy(hidden: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor,
                            denominator: float | None = None) -> torch.Tensor:
    """The plain formulation, for tests: full fp32 logits."""
    logits = (hidden.reshape(-1, hidden.shape[-1]).float() @ weight.float().t())
    t = targets.reshape(-1)
    total = torch.nn.functional.cross_entropy(logits, t, ignore_index=IGNORE, reduction="sum")
    denom = float(denominator if denominator is not None else max(1, int((t != IGNORE).sum())))
    return total / denom
