"""Dynamic loss scaling for fp16-mixed, with GradScaler's rules (torch.amp.GradScaler) as plain Python state.

fp16 has 5 exponent bits: gradients below 6e-8 flush to zero and above 65504 overflow. The loss is multiplied by
`scale` before backward (step.batch_loss(loss_scale=...); the fused loss applies it to the logit gradient in fp32,
before the cast), the gradients are divided by it before clipping and the optimizer step, and a step whose
gradients hold an inf or a nan is skipped with the scale halved. After `growth_interval` clean steps the scale
doubles again. Why not GradScaler itself: it wraps optimizer.step and owns the unscale; the loop here clips,
logs and checkpoints between those, and needs the scale as a number for batch_loss.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch


class LossScaler:
    def __init__(
        self,
        enabled: bool,
        init_scale: float = 2.0**16,
        growth_factor: float = 2.0,
        backoff_factor: float = 0.5,
        growth_interval: int = 2000,
    ) -> None:
        if growth_factor <= 1.0 or not 0.0 < backoff_factor < 1.0 or growth_interval < 1 or init_scale <= 0:
            raise ValueError(
                "LossScaler: needs init_scale > 0, growth_factor > 1, 0 < backoff_factor < 1 and "
                f"growth_interval >= 1 (got {init_scale}, {growth_factor}, {backoff_factor}, {growth_interval})"
            )
        self.enabled = enabled
        self.scale = float(init_scale) if enabled else 1.0
        self.growth_factor = float(growth_factor)
        self.backoff_factor = float(backoff_factor)
        self.growth_interval = int(growth_interval)
        self._growth_tracker = 0

    def unscale_and_check(self, params: Sequence[torch.Tensor]) -> bool:
        """Divide every gradient by the scale in place; True when any gradient holds an inf or a nan (skip the
        step). Disabled: nothing to undo and nothing checked (False)."""
        if not self.enabled:
            return False
        grads = [p.grad for p in params if p.grad is not None]
        if not grads:
            return False
        torch._foreach_mul_(grads, 1.0 / self.scale)
        finite = torch.stack([torch.isfinite(g).all() for g in grads])  # one host sync for all tensors
        return not bool(finite.all())

    def update(self, found_inf: bool) -> None:
        """After each optimizer step (taken or skipped): back off on inf/nan, grow after growth_interval clean steps."""
        if not self.enabled:
            return
        if found_inf:
            self.scale *= self.backoff_factor
            self._growth_tracker = 0
            return
        self._growth_tracker += 1
        if self._growth_tracker == self.growth_interval:
            self.scale *= self.growth_factor
            self._growth_tracker = 0

    def state_dict(self) -> dict:
        # GradScaler's keys, so a checkpoint reads the same either way.
        return {
            "enabled": self.enabled,
            "scale": self.scale,
            "growth_factor": self.growth_factor,
            "backoff_factor": self.backoff_factor,
            "growth_interval": self.growth_interval,
            "_growth_tracker": self._growth_tracker,
        }

    def load_state_dict(self, d: dict) -> None:
        if bool(d.get("enabled", True)) != self.enabled:
            raise ValueError(
                f"LossScaler: the checkpoint's loss scaling is {'on' if d.get('enabled', True) else 'off'} "
                f"but this run's is {'on' if self.enabled else 'off'} (precision changed since the checkpoint)"
            )
        if not self.enabled:
            return
        self.scale = float(d["scale"])
        self.growth_factor = float(d["growth_factor"])
        self.backoff_factor = float(d["backoff_factor"])
        self.growth_interval = int(d["growth_interval"])
        self._growth_tracker = int(d["_growth_tracker"])
