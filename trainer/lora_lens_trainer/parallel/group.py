"""What DDP and FSDP share: the small collectives through which the ranks agree once per step, the per-rank RNG
states a checkpoint keeps, and the rule that only rank 0 writes files."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
import torch.distributed as dist

from . import Single, check_layout

if TYPE_CHECKING:
    from ..distributed import Placement
    from ..lifecycle.checkpoint import Loaded
    from ..session import Session

RANK_RNG_FILE = "rng-ranks.pt"
MEMORY_KEYS = ("allocated_bytes", "reserved_bytes", "peak_allocated_bytes", "device_used_bytes")


class Grouped(Single):
    def __init__(self, placement: Placement) -> None:
        self.placement = placement
        self.world_size, self.rank, self.is_main = placement.world_size, placement.rank, placement.is_main
        # Collectives of small figures go through the process group's device (NCCL needs CUDA tensors).
        self.device = placement.device

    def total(self, values: list[float]) -> list[float]:
        t = torch.tensor(values, dtype=torch.float64, device=self.device)
        dist.all_reduce(t)
        return [float(v) for v in t.tolist()]

    def loss_total(self, loss_sum: torch.Tensor) -> torch.Tensor:
        # Each rank's loss carries the factor world_size (so averaged gradients are summed ones): the mean over the
        # ranks is the step's loss.
        t = loss_sum.detach().clone()
        dist.all_reduce(t)
        return t / self.world_size

    def any(self, flag: bool) -> bool:
        t = torch.tensor([1.0 if flag else 0.0], device=self.device)
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return bool(t.item() > 0)

    def memory(self, figures: dict[str, float]) -> dict[str, Any]:
        """The maximum over the ranks (what must fit on every card) and each rank's figures."""
        mine = torch.tensor([float(figures[k]) for k in MEMORY_KEYS], dtype=torch.float64, device=self.device)
        every = [torch.zeros_like(mine) for _ in range(self.world_size)]
        dist.all_gather(every, mine)
        rows = [dict(zip(MEMORY_KEYS, t.tolist(), strict=True)) for t in every]
        out: dict[str, Any] = {k: max(r[k] for r in rows) for k in MEMORY_KEYS}
        out["rank_memory"] = [{"rank": i, **r} for i, r in enumerate(rows)]
        return out

    def stamp(self) -> dict[str, Any]:
        return {"world_size": self.world_size, "distributed": self.name}

    def rng_states(self) -> list[Any] | None:
        """Every rank's RNG state, on rank 0 (None elsewhere): dropout draws differ per rank."""
        from ..lifecycle.checkpoint import rng_state

        gathered: list[Any] = [None] * self.world_size
        dist.all_gather_object(gathered, rng_state())
        return gathered if self.is_main else None

    def restore_rng(self, loaded: Loaded) -> None:
        from ..lifecycle.checkpoint import set_rng_state

        states = torch.load(loaded.path / RANK_RNG_FILE, weights_only=True)
        set_rng_state(states[self.rank])

    def barrier(self) -> None:
        dist.barrier()

    def export(self, write: Callable[[], Path], s: Session) -> Path:
        """Rank 0 writes (the parameters are whole on every rank under DDP; FSDP gathers first), the others wait."""
        path = write() if self.is_main else Path()
        self.barrier()
        return path

    def _main_writes(
        self, write: Callable[[Callable[[Path], None] | None], Path], extra: Callable[[Path], None]
    ) -> Path:
        path = write(extra) if self.is_main else Path()
        self.barrier()
        return path

    def apply(self, loaded: Loaded, s: Session) -> None:
        check_layout(loaded, self)
        self._apply(loaded, s)
        self.restore_rng(loaded)

    def _apply(self, loaded: Loaded, s: Session) -> None:
        raise NotImplementedError

    def close(self) -> None:
        with contextlib.suppress(Exception):
            dist.destroy_process_group()


def write_rank_rng(states: list[Any] | None) -> Callable[[Path], None]:
    def extra(folder: Path) -> None:
        if states is not None:
            torch.save(states, folder / RANK_RNG_FILE)

    return extra
