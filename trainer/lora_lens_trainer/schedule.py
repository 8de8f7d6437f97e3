"""Learning-rate multipliers as in transformers' get_scheduler, as pure functions of the step."""

from __future__ import annotations

import math


def warmup_steps(total: int, warmup_steps_setting: int, warmup_ratio: float) -> int:
    # transformers: an explicit warmup_steps wins over the ratio.
    return warmup_steps_setting if warmup_steps_setting > 0 else math.ceil(total * warmup_ratio)


def lr_factor(kind: str, step: int, total: int, warmup: int) -> float:
    """Multiplier of the base learning rate for optimizer step `step` (0-based, as LambdaLR counts)."""
    if kind != "constant" and step < warmup:
        return float(step) / float(max(1, warmup))
    if kind in ("constant", "constant_with_warmup"):
        return 1.0
    if kind == "linear":
        # transformers' form (not 1 − progress): they differ where the warmup fills the whole run.
        return max(0.0, float(total - step) / float(max(1, total - warmup)))
    progress = float(step - warmup) / float(max(1, total - warmup))
    if kind == "cosine":
        return max(0.0, 0.5 * (1.0 + math.cos(math.pi * progress)))
    raise ValueError(f"unknown lr_scheduler_type {kind!r}")
