"""Gradient checkpointing of exactly the decoder layers the plan names.

`gradient_checkpointing: auto` is resolved on the TypeScript side from the memory estimate
(server/src/core/estimate/autoCheckpoint.ts): the plan carries `checkpoint_layers`, the count of decoder layers to
checkpoint, the first ones (0..k-1). Those are the cheapest to checkpoint: backward reaches them last, after the later
layers' saved activations are freed, so their recompute never adds to the peak. The trainer applies the count as is
and derives nothing; absent, every layer is checkpointed (`true`, and `auto` when the GPU was unknown).

transformers' decoder layers (GradientCheckpointingLayer) run through torch.utils.checkpoint when their
`gradient_checkpointing` flag is set; `gradient_checkpointing_enable` sets it on every layer, and the layers past
the count are switched back off here.
"""

from __future__ import annotations

from torch import nn
from transformers.modeling_layers import GradientCheckpointingLayer


class CheckpointingError(ValueError):
    """The plan's layer count does not match the model (a plan made for another architecture)."""


def decoder_layers(model: nn.Module) -> list[nn.Module]:
    """The layers transformers can checkpoint, in forward order (a decoder's layers)."""
    return [m for m in model.modules() if isinstance(m, GradientCheckpointingLayer)]


def checkpointed_layers(model: nn.Module) -> list[int]:
    """Indices of the decoder layers that will run checkpointed in training."""
    return [i for i, m in enumerate(decoder_layers(model)) if getattr(m, "gradient_checkpointing", False)]


def apply_checkpointing(model: nn.Module, enabled: bool, layers: int | None) -> int:
    """Checkpoints the first `layers` decoder layers (all when None; none when not `enabled`); returns how many.
    The others are switched off even if something enabled them before (PEFT's k-bit preparation does)."""
    found = decoder_layers(model)
    if layers is not None and layers > len(found):
        raise CheckpointingError(
            f"training.checkpoint_layers is {layers} but the model has {len(found)} decoder layers: the plan was made "
            "for another model; check the config again (lora-lens check) so auto chooses for this one"
        )
    count = 0 if not enabled else len(found) if layers is None else layers
    if count > 0:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})  # type: ignore[operator]
    for layer in found[count:]:
        setattr(layer, "gradient_checkpointing", False)  # noqa: B010 (nn.Module types attributes as Tensor | Module)
    return count
