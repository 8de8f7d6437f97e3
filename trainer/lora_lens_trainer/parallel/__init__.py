"""How several training processes act as one (torchrun; hardware.distributed): the wrapping of the model, what the
loop does at the points where the ranks must agree (the step's denominator, its loss and tokens, whether to stop,
the gradient norm, memory figures) and how checkpoints and the export are written and read.

`Single` is one process: every method is what the loop did before there was more than one, so the one-GPU path
stays bit-identical. `ddp.Ddp` and `fsdp.Fsdp` are the two strategies of PyTorch's own stack."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import torch
from torch import nn

from ..plan import PlanError

if TYPE_CHECKING:
    from ..distributed import Placement
    from ..lifecycle.checkpoint import Loaded
    from ..plan import TrainingPlan
    from ..session import Session

T = TypeVar("T")


class Single:
    """One process, no process group."""

    name = "none"
    world_size = 1
    rank = 0
    is_main = True

    def wrap(self, model: nn.Module, plan: TrainingPlan) -> None:
        """Called once the model is built and before the optimizer sees its parameters."""

    def forward(self, compute: Callable[[], T]) -> T:
        """Runs one micro-batch's loss through the wrapper whose hooks gather parameters or reduce gradients."""
        return compute()

    def evaluate(self, compute: Callable[[], T]) -> T:
        return compute()

    def accumulating(self, last: bool) -> AbstractContextManager[None]:
        """Around the backward of a micro-batch: `last` is the step's final one (gradient sync happens there)."""
        return contextlib.nullcontext()

    def total(self, values: list[float]) -> list[float]:
        """Sums over the ranks (the step's denominator and tokens)."""
        return values

    def loss_total(self, loss_sum: torch.Tensor) -> torch.Tensor:
        """The step's loss over all ranks, from this rank's sum (which carries the world-size factor, see loop)."""
        return loss_sum

    def any(self, flag: bool) -> bool:
        """Whether any rank says yes: a stop asked of one rank stops all of them at the same step."""
        return flag

    def clip(self, params: list[nn.Parameter], max_norm: float) -> torch.Tensor:
        return torch.nn.utils.clip_grad_norm_(params, max_norm, foreach=True)

    def memory(self, figures: dict[str, float]) -> dict[str, Any]:
        """The step event's memory fields: this process's figures."""
        return figures

    def stamp(self) -> dict[str, Any]:
        """What a checkpoint records of the layout it was written by (none for one process)."""
        return {}

    def save(
        self,
        write: Callable[[Callable[[Path], None] | None], Path],
        s: Session,
        folder: Path,
        step: int,
        state: dict[str, Any],
    ) -> Path:
        """`write(extra)` writes the plain checkpoint (`extra` writes more files into its staging folder); a sharded
        strategy writes its own from the session, with `state` as trainer_state.json's progress."""
        return write(None)

    def apply(self, loaded: Loaded, s: Session) -> None:
        from ..lifecycle import checkpoint

        check_layout(loaded, self)
        checkpoint.apply(loaded, s.model, s.optimizer, s.scheduler)

    def export(self, write: Callable[[], Path], s: Session) -> Path:
        return write()

    def barrier(self) -> None:
        pass

    def close(self) -> None:
        pass


def check_layout(loaded: Loaded, current: Single) -> None:
    """A checkpoint resumes on the layout that wrote it: the same number of processes and strategy. Another world
    size would change the global batch (each rank's batch × accumulation × ranks) and the per-rank RNG streams."""
    ranks = int(loaded.progress.get("world_size", 1))
    strategy = str(loaded.progress.get("distributed", "none"))
    if ranks == current.world_size and (ranks == 1 or strategy == current.name):
        return
    from ..problems import ConfigProblem

    raise ConfigProblem(
        f"--resume refused: {loaded.path.name} was written by {ranks} training process(es) ({strategy}); this start "
        f"has {current.world_size} ({current.name})",
        [
            f"resume with hardware.num_gpus: {ranks} and hardware.distributed: {strategy}, as the run started",
            "or start a new run with the new layout (this run folder stays as it is)",
        ],
    )


def parallel_for(plan: TrainingPlan, placement: Placement) -> Single:
    """The strategy for this process: one process without torchrun, else the plan's hardware.distributed (one
    process that torchrun started with ddp or fsdp is wrapped too: world size 1 against the plain path)."""
    strategy = plan.hardware.distributed
    if placement.world_size == 1 and not (placement.torchrun and strategy in ("ddp", "fsdp")):
        from .fsdp import offloads

        if offloads(plan):
            # One plain process would keep the whole model on the GPU: the offload the plan asks for needs the
            # one-rank group, which only a torchrun-started process joins.
            raise PlanError(
                "hardware.fsdp.offload_params needs the trainer started by torchrun (a one-rank FSDP group on one "
                "GPU): lora-lens run and Run Fine-Tune start it so; by hand, python -m torch.distributed.run "
                "--standalone --nproc_per_node 1 -m lora_lens_trainer run --plan PLAN --run-dir RUN"
            )
        return Single()
    if strategy == "ddp":
        from .ddp import Ddp

        return Ddp(placement)
    if strategy == "fsdp":
        from .fsdp import Fsdp

        return Fsdp(placement, plan)
    if strategy == "none":
        raise PlanError(
            f"{placement.world_size} training processes were started (WORLD_SIZE) but "
            "hardware.distributed is none: set hardware.distributed: ddp (each GPU holds the whole model) "
            "or fsdp (parameters, gradients and optimizer states sharded over the GPUs)"
        )
    raise PlanError(
        f"hardware.distributed {strategy} is DeepSpeed's, which the bundled trainer does not run: set "
        "hardware.distributed: fsdp (PyTorch's sharding, like ZeRO-3) or ddp, or train this config "
        "with axolotl or LLaMA-Factory"
    )
