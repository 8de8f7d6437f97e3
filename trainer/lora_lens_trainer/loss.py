"""Cross-entropy fused with the output projection, in chunks of tokens.

transformers computes logits for every position (B*L x vocab in bf16), upcasts them to fp32 and keeps the
softmax for backward: for a 152k vocabulary at 8k tokens that is 2.5 GB + 5 GB + 5 GB at the step's peak.
Here only positions that have a target are projected, a chunk at a time; each chunk's gradient with respect
to the hidden states (and the head weight and bias, when they train) is formed right away, and backward only
scales the stored gradients by the incoming scalar. On CUDA with Triton the chunk's logits stay in the compute
dtype and ce_kernel turns them into their gradient in place (the largest temporary: one chunk of bf16 logits);
elsewhere torch does it over an fp32 copy (one chunk of fp32 logits and a temporary of the same size).

The head is what the model's own forward applies (see LogitTransform): bias, a logit multiplier, final-logit
softcapping. fp16: the logit gradient is multiplied by `grad_scale` (the loss scale) before it is cast to the
compute dtype, so entries of order softmax/token-count (1e-8 at a 152k vocabulary) survive the cast.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from . import ce_kernel

IGNORE = -100
# Logits per chunk: 2**27 (256 MiB in bf16 on the Triton path, 512 MiB of fp32 on torch's); ~880 tokens at a 152k vocabulary.
CHUNK_ELEMENTS = 2**27


@dataclass(frozen=True)
class LogitTransform:
    """What a model does to lm_head's output before its loss: y = softcap·tanh(multiplier·x / softcap), or
    multiplier·x without softcapping. Granite: multiplier 1/logits_scaling; Cohere: logit_scale; Gemma 2: softcap."""

    multiplier: float = 1.0
    softcap: float | None = None


@dataclass(frozen=True)
class OutputHead:
    """The output projection (its weight and optional bias, read live) and the transform of its logits."""

    linear: nn.Module
    transform: LogitTransform = field(default_factory=LogitTransform)

    @property
    def weight(self) -> torch.Tensor:
        return self.linear.weight

    @property
    def bias(self) -> torch.Tensor | None:
        return getattr(self.linear, "bias", None)


class _FusedLinearCE(torch.autograd.Function):
    @staticmethod
    def forward(
        ctx: Any,
        hidden: torch.Tensor,
        weight: torch.Tensor,
        bias: torch.Tensor | None,
        targets: torch.Tensor,
        denominator: float,
        dtype: torch.dtype,
        transform: LogitTransform,
        grad_scale: float,
    ) -> torch.Tensor:
        n, vocab = hidden.shape[0], weight.shape[0]
        chunk = max(1, CHUNK_ELEMENTS // vocab)
        w = weight.to(dtype)
        h = hidden.to(dtype)
        b = None if bias is None else bias.to(dtype)
        want_h, want_w, want_b = (
            ctx.needs_input_grad[0],
            ctx.needs_input_grad[1],
            bias is not None and ctx.needs_input_grad[2],
        )
        grad_h = torch.empty_like(h) if want_h else None
        grad_w = torch.zeros(weight.shape, dtype=torch.float32, device=weight.device) if want_w else None
        grad_b = torch.zeros(vocab, dtype=torch.float32, device=weight.device) if want_b else None
        total = torch.zeros((), dtype=torch.float32, device=hidden.device)
        use_kernel = ce_kernel.kernel_available(hidden.device)
        scale = grad_scale / denominator
        for start in range(0, n, chunk):
            hc = h[start : start + chunk]
            loss_sum, pc = _chunk_loss_and_grad(hc, w, b, targets[start : start + chunk], scale, transform, use_kernel)
            total += loss_sum
            if want_h:
                grad_h[start : start + chunk] = pc @ w
            if want_w:
                # fp32 accumulation across chunks; a bf16 running sum would lose the small chunks' share.
                grad_w.add_(pc.t() @ hc)
            if want_b:
                grad_b.add_(pc.sum(0, dtype=torch.float32))
            del pc  # before the next chunk's logits: one chunk alive at a time
        ctx.save_for_backward(*(t for t in (grad_h, grad_w, grad_b) if t is not None))
        ctx.has = (want_h, want_w, want_b)
        ctx.dtypes = (hidden.dtype, weight.dtype, None if bias is None else bias.dtype)
        return total * scale

    @staticmethod
    def backward(ctx: Any, grad_out: torch.Tensor) -> Any:
        saved = list(ctx.saved_tensors)
        grads = [saved.pop(0).mul(grad_out).to(dtype) if want else None for want, dtype in zip(ctx.has, ctx.dtypes)]
        return grads[0], grads[1], grads[2], None, None, None, None, None


def _chunk_loss_and_grad(
    hc: torch.Tensor,
    w: torch.Tensor,
    b: torch.Tensor | None,
    tc: torch.Tensor,
    scale: float,
    transform: LogitTransform,
    use_kernel: bool,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One chunk's summed loss and scale · d loss / d(raw logits) in the compute dtype."""
    logits = hc @ w.t()
    if b is not None:
        logits.add_(b)
    if use_kernel:
        rows = ce_kernel.cross_entropy_grad_(logits, tc, scale, transform.multiplier, transform.softcap)
        return rows.sum(), logits  # gradient in place
    z = logits.float()  # a copy unless the compute dtype is fp32 already
    if transform.multiplier != 1.0:
        z.mul_(transform.multiplier)
    tanh = None
    if transform.softcap is not None:
        tanh = z.div_(transform.softcap).tanh_()
        z = tanh * transform.softcap
    lse = torch.logsumexp(z, dim=-1)
    picked = z.gather(1, tc.unsqueeze(1)).squeeze(1)
    loss_sum = (lse - picked).sum()
    probs = z.sub_(lse.unsqueeze(1)).exp_()  # in place in the fp32 chunk
    probs.scatter_add_(1, tc.unsqueeze(1), torch.full_like(picked, -1.0).unsqueeze(1))
    if tanh is not None:
        probs.mul_(tanh.square_().neg_().add_(1.0))
    # Scaled (by the loss scale, over the token count) in fp32, before the cast to the compute dtype.
    probs.mul_(scale * transform.multiplier)
    return loss_sum, probs.to(hc.dtype)


def transformed_logits(
    h: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None, transform: LogitTransform
) -> torch.Tensor:
    """fp32 logits as the model's forward forms them: (h Wᵀ + b) in h's dtype, then the transform."""
    logits = h @ w.t()
    if b is not None:
        logits = logits + b
    z = logits.float() * transform.multiplier
    if transform.softcap is not None:
        z = torch.tanh(z / transform.softcap) * transform.softcap
    return z


def fused_linear_cross_entropy(
    hidden: torch.Tensor,
    weight: torch.Tensor,
    targets: torch.Tensor,
    denominator: float | None = None,
    dtype: torch.dtype | None = None,
    *,
    bias: torch.Tensor | None = None,
    transform: LogitTransform = LogitTransform(),
    grad_scale: float = 1.0,
) -> torch.Tensor:
    """grad_scale · (sum of token cross-entropies over positions whose target is not IGNORE) / `denominator`
    (default: their count). hidden: (..., H); targets: (...) aligned with hidden (already shifted)."""
    h = hidden.reshape(-1, hidden.shape[-1])
    t = targets.reshape(-1)
    keep = (t != IGNORE).nonzero().squeeze(1)
    h, t = h.index_select(0, keep), t.index_select(0, keep)
    denom = float(denominator if denominator is not None else max(1, int(keep.numel())))
    if dtype is None:
        dtype = torch.get_autocast_dtype(h.device.type) if torch.is_autocast_enabled(h.device.type) else hidden.dtype
    if not torch.is_grad_enabled():
        return _loss_only(h, weight, bias, t, dtype, transform) * (grad_scale / denom)
    return _FusedLinearCE.apply(h, weight, bias, t, denom, dtype, transform, float(grad_scale))


def _loss_only(
    h: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    t: torch.Tensor,
    dtype: torch.dtype,
    transform: LogitTransform,
) -> torch.Tensor:
    chunk = max(1, CHUNK_ELEMENTS // weight.shape[0])
    w = weight.to(dtype)
    b = None if bias is None else bias.to(dtype)
    total = torch.zeros((), dtype=torch.float32, device=h.device)
    for start in range(0, h.shape[0], chunk):
        logits = transformed_logits(h[start : start + chunk].to(dtype), w, b, transform)
        total += (
            torch.logsumexp(logits, dim=-1) - logits.gather(1, t[start : start + chunk].unsqueeze(1)).squeeze(1)
        ).sum()
    return total


def reference_cross_entropy(
    hidden: torch.Tensor,
    weight: torch.Tensor,
    targets: torch.Tensor,
    denominator: float | None = None,
    bias: torch.Tensor | None = None,
    transform: LogitTransform = LogitTransform(),
) -> torch.Tensor:
    """The plain formulation, for tests: full fp32 logits."""
    h = hidden.reshape(-1, hidden.shape[-1]).float()
    logits = transformed_logits(h, weight.float(), None if bias is None else bias.float(), transform)
    t = targets.reshape(-1)
    total = torch.nn.functional.cross_entropy(logits, t, ignore_index=IGNORE, reduction="sum")
    denom = float(denominator if denominator is not None else max(1, int((t != IGNORE).sum())))
    return total / denom
