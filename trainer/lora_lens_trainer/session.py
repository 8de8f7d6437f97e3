"""One training process's state, typed: the model and its parts, optimizer, schedule, loss scaler, the objective
with its data, and the progress a checkpoint stores. Built once per run; dropped as a whole before the merge, so
the memory it held is free for it."""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from .distributed import Placement
from .objectives import Datasets, ModelParts, Objective
from .parallel import Single

if TYPE_CHECKING:
    from .modeling import Setup
    from .plan import TrainingPlan
    from .scaler import LossScaler


@dataclass
class Progress:
    """Where the data order stands and what was done: saved in every checkpoint's trainer_state.json."""

    epoch: int = 0
    batch_index: int = 0
    tokens_seen: int = 0
    elapsed_s: float = 0.0

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> Progress:
        return cls(int(state["epoch"]), int(state["batch_index"]), int(state["tokens_seen"]), float(state["elapsed_s"]))

    def state(self) -> dict[str, Any]:
        return {
            "epoch": self.epoch,
            "batch_index": self.batch_index,
            "tokens_seen": self.tokens_seen,
            "elapsed_s": self.elapsed_s,
        }


@dataclass
class Tally:
    """What the run reports when it ends, however it ends: kept outside the session so a failure while the
    session is built still has a step to report."""

    step: int = 0
    last_loss: float | None = None
    skipped_steps: int = 0


@dataclass
class Session:
    placement: Placement
    setup: Setup
    parts: ModelParts
    params: list[nn.Parameter]
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    scaler: LossScaler | None  # fp16 compute only
    tokenizer: Any  # a transformers tokenizer (PreTrainedTokenizerBase); typed loosely to keep transformers unimported
    objective: Objective
    data: Datasets
    total: int
    fingerprint: dict[str, Any]
    progress: Progress = field(default_factory=Progress)
    parallel: Single = field(default_factory=Single)  # one process, or DDP/FSDP across torchrun's ranks

    @property
    def model(self) -> nn.Module:
        return self.setup.model

    @property
    def device(self) -> torch.device:
        return self.placement.device


def build(
    plan: TrainingPlan,
    placement: Placement,
    objective: Objective,
    warn: Callable[[str, str], object],
    parallel: Single | None = None,
    on_load: Callable[..., object] | None = None,
) -> Session:
    """Seeds, tokenizer, data, model, optimizer and schedule, in this order (the order the seeded RNG is drawn
    in, which a bit-exact resume depends on). `warn(kind, message)` reports what the user should know; `on_load` gets
    the streaming loader's `loading` event fields."""
    from .data.order import total_steps
    from .init_from import merge_run_adapter
    from .lifecycle import fingerprint
    from .model.stream_load import available_ram_bytes
    from .modeling import decoder_and_head, load_model, load_tokenizer
    from .offload_ram import check_offload_ram, check_offloaded_states, local_config_file
    from .optim import build_optimizer, build_scheduler

    t = plan.training
    parallel = parallel or Single()
    random.seed(t.seed)
    torch.manual_seed(t.seed)
    tokenizer = load_tokenizer(plan)
    data = objective.load(tokenizer)
    for text in data.warnings:
        warn("data", text)
    prints = fingerprint.of_run(plan)
    n_batches = math.ceil(data.num_items / t.per_device_train_batch_size)
    # A step takes accumulation × ranks batches of the one global order (see data.order.rank_share).
    total = total_steps(n_batches, t.gradient_accumulation_steps * parallel.world_size, t.num_train_epochs, t.max_steps)

    # Before the load, which may take many minutes: a run whose offloaded activations cannot be pinned here stops now.
    activation_bytes = check_offload_ram(plan, local_config_file(plan), available_ram_bytes())
    setup = load_model(plan, placement.device, on_load)
    # The head probe runs on the whole model; FSDP then replaces the parameters with their shards.
    # init_from: the finished run's adapter merged into the base before anything reads the weights.
    merge_run_adapter(setup.model, plan)
    body, head = decoder_and_head(setup.model, setup.autocast_dtype)
    # Before the ranks' wrapping and before a resume loads trained weights: the model is still the starting one.
    objective.prepare(ModelParts(body, head, placement.device, setup.autocast_dtype, plan.model.attn_implementation))
    parallel.wrap(setup.model, plan)
    params = [p for p in setup.model.parameters() if p.requires_grad]
    optimizer, note = build_optimizer(plan, params, placement.device)
    if note:
        warn("optimizer", note)
    # Before the first step, which allocates the gradients and optimizer states (offloaded: in CPU memory).
    check_offloaded_states(plan, optimizer, available_ram_bytes(), placement.device.type == "cuda", activation_bytes)
    scheduler = build_scheduler(plan, optimizer, total)
    scaler = None
    if setup.autocast_dtype == torch.float16:
        from .scaler import LossScaler

        scaler = LossScaler(enabled=True)
    parts = ModelParts(body, head, placement.device, setup.autocast_dtype, plan.model.attn_implementation)
    return Session(
        placement,
        setup,
        parts,
        params,
        optimizer,
        scheduler,
        scaler,
        tokenizer,
        objective,
        data,
        total,
        prints,
        parallel=parallel,
    )
