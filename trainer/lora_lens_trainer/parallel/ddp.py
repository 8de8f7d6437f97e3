"""DDP: every rank holds the whole model and optimizer; gradients are all-reduced in buckets during the backward of
a step's last micro-batch (no_sync before it). Parameters, optimizer states and so checkpoints are the same on every
rank: rank 0 writes the plain checkpoint, with each rank's RNG state beside it."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from torch import nn

from .group import Grouped, write_rank_rng

if TYPE_CHECKING:
    from ..lifecycle.checkpoint import Loaded
    from ..plan import TrainingPlan
    from ..session import Session

T = TypeVar("T")


class Through(nn.Module):
    """The one module the wrapper sees: its forward runs the objective's loss, which calls the model's body and the
    fused head directly (the loss never materialises full logits), so the wrapper's hooks see every parameter."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, compute: Callable[[], Any]) -> Any:
        return compute()


class Ddp(Grouped):
    name = "ddp"

    def wrap(self, model: nn.Module, plan: TrainingPlan) -> None:
        from torch.nn.parallel import DistributedDataParallel

        cuda = self.device.type == "cuda"
        # Buffers (rotary tables, NF4 codes) are built identically on every rank: no broadcast before each forward.
        self.wrapper = DistributedDataParallel(
            Through(model),
            device_ids=[self.device.index] if cuda else None,
            broadcast_buffers=False,
            gradient_as_bucket_view=True,
        )

    def forward(self, compute: Callable[[], T]) -> T:
        return self.wrapper(compute)

    def accumulating(self, last: bool) -> AbstractContextManager[None]:
        import contextlib

        return contextlib.nullcontext() if last else self.wrapper.no_sync()

    def save(
        self,
        write: Callable[[Callable[[Path], None] | None], Path],
        s: Session,
        folder: Path,
        step: int,
        state: dict[str, Any],
    ) -> Path:
        return self._main_writes(write, write_rank_rng(self.rng_states()))

    def _apply(self, loaded: Loaded, s: Session) -> None:
        from ..lifecycle import checkpoint

        checkpoint.apply(loaded, s.model, s.optimizer, s.scheduler)
