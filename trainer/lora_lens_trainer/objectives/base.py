"""What a training objective supplies to the loop: its data as trainable items, a batch of them as tensors, the
loss of a batch and its eval metrics. The loop (loop.py) owns everything else: order, accumulation, optimizer
steps, cadence, checkpoints. SFT is the first objective; a preference objective (DPO) adds its own items and loss
on the same loop."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import torch
from torch import nn

if TYPE_CHECKING:
    from typing_extensions import Self

    from ..loss import OutputHead
    from ..plan import TrainingPlan


class StepBatch(Protocol):
    """A collated micro-batch, as the loop sees it."""

    n_tokens: int  # real tokens: the throughput figure counts these

    def to(self, device: torch.device) -> Self: ...


@dataclass(frozen=True)
class ModelParts:
    """What computing a loss needs of the model: the decoder body, the output head, where and in which precision."""

    body: nn.Module
    head: OutputHead
    device: torch.device
    autocast_dtype: torch.dtype | None
    attn_implementation: str


@dataclass
class Datasets:
    """The objective's training items as the loop orders them: one length per item (length-grouped batches and
    the token count read them), and the row counts the start event reports."""

    item_lengths: list[int]
    num_train_rows: int
    num_eval_rows: int | None
    warnings: list[str] = field(default_factory=list)

    @property
    def num_items(self) -> int:
        return len(self.item_lengths)


class Objective(ABC):
    name: ClassVar[str]

    def __init__(self, plan: TrainingPlan) -> None:
        self.plan = plan

    @abstractmethod
    def load(self, tokenizer: Any) -> Datasets:
        """Reads and tokenizes the plan's data; the items stay with the objective, the loop gets their lengths."""

    @abstractmethod
    def collate(self, indices: list[int]) -> StepBatch:
        """The training items at these indices as one micro-batch (on the CPU)."""

    @abstractmethod
    def denominator(self, micro: Sequence[StepBatch]) -> float:
        """What the summed losses of one optimizer step's micro-batches are divided by."""

    @abstractmethod
    def loss(self, parts: ModelParts, batch: StepBatch, denominator: float, loss_scale: float = 1.0) -> torch.Tensor:
        """loss_scale · the batch's share of the step's loss; its backward accumulates the gradients."""

    def prepare(self, parts: ModelParts) -> None:  # noqa: B027  (a hook: most objectives need nothing here)
        """Called once the model is loaded, before any update and before a resume restores trained weights: what
        the objective derives from the starting model (full-fine-tuning DPO: its reference log-probabilities)."""

    def step_metrics(self) -> dict[str, float]:
        """Objective-specific figures for the next step event (DPO's rewards), averaged since the last one; the
        loss, learning rate and throughput are the loop's."""
        return {}

    @property
    @abstractmethod
    def has_eval(self) -> bool:
        """Whether there is eval data to run `evaluate` on."""

    @abstractmethod
    def evaluate(self, parts: ModelParts) -> dict[str, Any]:
        """The eval event's metrics (eval_loss and its details), with the model in eval mode and no gradients."""
