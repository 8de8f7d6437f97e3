"""Optimizer and learning-rate schedule from the plan's training section."""

from __future__ import annotations

from typing import Any

import torch

from .plan import TrainingPlan
from .schedule import lr_factor, warmup_steps


def _groups(params: list[torch.nn.Parameter], weight_decay: float) -> list[dict[str, Any]]:
    # As transformers' Trainer: no decay on biases and norm weights (the 1-D parameters).
    decay = [p for p in params if p.ndim >= 2]
    no_decay = [p for p in params if p.ndim < 2]
    groups = [{"params": decay, "weight_decay": weight_decay}]
    if no_decay:
        groups.append({"params": no_decay, "weight_decay": 0.0})
    return groups


def build_optimizer(
    plan: TrainingPlan, params: list[torch.nn.Parameter], device: torch.device
) -> tuple[torch.optim.Optimizer, str | None]:
    """The optimizer and, when the plan's choice was replaced, a note saying why."""
    t = plan.training
    groups = _groups(params, t.weight_decay)
    note = None
    name = t.optim
    if name in ("adamw_8bit", "paged_adamw_8bit"):
        try:
            import bitsandbytes as bnb

            cls = bnb.optim.PagedAdamW8bit if name.startswith("paged") else bnb.optim.AdamW8bit
            return cls(groups, lr=t.learning_rate), None
        except Exception:
            note = (
                f"training.optim {name} needs bitsandbytes, which is not importable: using fused AdamW (32-bit states)"
            )
            name = "adamw_torch"
    if name == "adafactor":
        from transformers.optimization import Adafactor

        return Adafactor(
            groups, lr=t.learning_rate, scale_parameter=False, relative_step=False, warmup_init=False
        ), note
    if name == "sgd":
        return torch.optim.SGD(groups, lr=t.learning_rate), note
    # Fused AdamW: one kernel for all parameters instead of several per tensor.
    fused = device.type == "cuda"
    return torch.optim.AdamW(groups, lr=t.learning_rate, betas=(0.9, 0.999), eps=1e-8, fused=fused), note


def build_scheduler(
    plan: TrainingPlan, optimizer: torch.optim.Optimizer, total: int
) -> torch.optim.lr_scheduler.LambdaLR:
    t = plan.training
    warm = warmup_steps(total, t.warmup_steps, t.warmup_ratio)
    kind = t.lr_scheduler_type
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: lr_factor(kind, step, total, warm))
