"""One forward + loss: the model body gives hidden states, the fused loss projects only trained positions.
Shared by the training loop, evaluation and the benchmark, so the benchmark measures what users run."""

from __future__ import annotations

import contextlib
from typing import Any

import torch
from torch import nn

from .collate import Batch
from .loss import OutputHead, fused_linear_cross_entropy


def autocast_context(device: torch.device, dtype: torch.dtype | None) -> Any:
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def _mask_for(mask: torch.Tensor | None, attn_implementation: str, dtype: torch.dtype) -> torch.Tensor | None:
    if mask is None or mask.dim() != 4:
        return mask
    if attn_implementation == "flash_attention_2":
        # FlashAttention-2 splits packed rows at position-id resets itself.
        return None
    if attn_implementation == "eager":
        # Eager attention adds the mask to the scores: 0 where allowed, the dtype's minimum elsewhere.
        return torch.zeros(mask.shape, dtype=dtype, device=mask.device).masked_fill_(~mask, torch.finfo(dtype).min)
    return mask


def batch_loss(
    body: nn.Module,
    head: OutputHead | nn.Module,
    batch: Batch,
    denominator: float,
    device: torch.device,
    autocast_dtype: torch.dtype | None,
    attn_implementation: str,
    *,
    loss_scale: float = 1.0,
) -> torch.Tensor:
    """loss_scale · (the batch's summed token losses / denominator). Its backward yields gradients scaled by
    loss_scale (fp16: a LossScaler's scale; the caller divides the value for logging). `head` is the OutputHead
    from modeling.decoder_and_head, or a bare output linear (bias read from it, no logit transform)."""
    out_head = head if isinstance(head, OutputHead) else OutputHead(head)
    with autocast_context(device, autocast_dtype):
        compute = autocast_dtype or out_head.weight.dtype
        mask = _mask_for(batch.attention_mask, attn_implementation, compute)
        out = body(input_ids=batch.input_ids, attention_mask=mask, position_ids=batch.position_ids, use_cache=False)
        hidden = out[0] if isinstance(out, tuple) else out.last_hidden_state
        return fused_linear_cross_entropy(
            hidden,
            out_head.weight,
            batch.targets,
            denominator,
            bias=out_head.bias,
            transform=out_head.transform,
            grad_scale=loss_scale,
        )
