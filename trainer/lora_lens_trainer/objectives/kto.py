"""Kahneman-Tversky optimisation (KTO, Ethayarajh et al. 2024) on the same loop: unpaired rows `{prompt, completion,
label}` (label true: a desirable answer, false: an undesirable one), text or chat, tokenized as DPO's pairs are (TRL's
preparation). Each answer is scored by its summed token log-probability against the reference (the model with its
adapters disabled), and the loss compares that log-ratio with a KL estimate, as TRL 1.13's KTOTrainer computes it:

  desirable    w_d · (1 - σ(β(log-ratio - KL)))
  undesirable  w_u · (1 - σ(β(KL - log-ratio)))

KL is estimated per micro-batch from mismatched pairs: each prompt with the previous row's completion (the first
with the last: TRL's rotation by one within a batch), the policy's and the reference's log-probs under no_grad,
averaged and clamped at 0. A step's loss is the mean over all its rows. Metrics as TRL logs them: rewards/chosen,
logps/chosen (desirable rows), rewards/rejected, logps/rejected (undesirable rows), rewards/margins (when a step had
both), kl. Full fine-tuning is refused: the KL pairs change with every batch, so there is no log-prob to precompute,
and the bundled trainer keeps no frozen copy."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from ..collate import Batch, collate_padded
from ..data.clean import clean_rows
from ..data.preference import tokenize_pairs
from ..data.readers import DataError, read_dataset
from ..data.templates import resolve_chat_template
from ..data.tokenize import IGNORE, Example
from ..lora import adapters_disabled
from ..plan import KtoPlan, PlanError
from .base import Datasets, ModelParts, Objective, StepBatch
from .dpo import sequence_logps

DEFAULTS = KtoPlan(beta=0.1, desirable_weight=1.0, undesirable_weight=1.0)
# Sums kept per step event: desirable reward and log-prob, their count, the same for undesirable rows, KL and batches.
_STATS = 8


@dataclass(frozen=True)
class KtoItem:
    prompt_ids: list[int]
    completion_ids: list[int]  # whole: the KL row of the next item in a batch takes it, cut to max_length there
    desirable: bool


@dataclass
class KtoBatch:
    rows: Batch  # prompt + own completion; targets on the completion only
    kl_rows: Batch  # prompt + the previous row's completion
    desirable: torch.Tensor  # (n,) bool
    n_items: int

    @property
    def n_tokens(self) -> int:
        return self.rows.n_tokens

    def to(self, device: torch.device) -> KtoBatch:
        return KtoBatch(self.rows.to(device), self.kl_rows.to(device), self.desirable.to(device), self.n_items)


@dataclass
class KtoDatasets(Datasets):
    train_items: list[KtoItem] | None = None
    eval_items: list[KtoItem] | None = None


def collate_kto(items: Sequence[KtoItem], pad_id: int, max_length: int) -> KtoBatch:
    def example(prompt: list[int], completion: list[int]) -> Example:
        return Example((prompt + completion)[:max_length], ([IGNORE] * len(prompt) + completion)[:max_length])

    rows = [example(it.prompt_ids, it.completion_ids) for it in items]
    kl = [example(it.prompt_ids, items[i - 1].completion_ids) for i, it in enumerate(items)]
    desirable = torch.tensor([it.desirable for it in items], dtype=torch.bool)
    return KtoBatch(collate_padded(rows, pad_id), collate_padded(kl, pad_id), desirable, len(items))


class KtoObjective(Objective):
    name = "kto"

    def __init__(self, plan: Any) -> None:
        super().__init__(plan)
        self.settings: KtoPlan = getattr(plan, "kto", None) or DEFAULTS
        if plan.method == "full":
            raise PlanError(
                "objective kto with method full needs a frozen reference model (its KL pairs change with every "
                "batch, so the reference cannot be precomputed), which the bundled trainer does not keep: use "
                "method lora or qlora (the reference is the model with the adapter disabled)",
                ("method",),
            )
        if plan.data.packing:
            raise PlanError(
                "data.packing does not apply to KTO rows (each is scored whole, with a mismatched KL row): set "
                "data.packing: false",
                ("data.packing",),
            )
        if plan.training.per_device_train_batch_size < 2:
            raise PlanError(
                "objective kto estimates its KL term from the other rows of a micro-batch: "
                "training.per_device_train_batch_size must be 2 or more",
                ("training.per_device_train_batch_size",),
            )
        self._train = torch.zeros(_STATS, dtype=torch.float64)

    def load(self, tokenizer: Any) -> KtoDatasets:
        self.pad_id: int = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        self.data = load_items(self.plan, tokenizer)
        return self.data

    def collate(self, indices: list[int]) -> KtoBatch:  # type: ignore[override]
        assert self.data.train_items is not None
        return collate_kto([self.data.train_items[i] for i in indices], self.pad_id, self.plan.data.max_length)

    def denominator(self, micro: Sequence[StepBatch]) -> float:
        return float(max(1, sum(m.n_items for m in micro)))  # type: ignore[attr-defined]

    def loss(self, parts: ModelParts, batch: StepBatch, denominator: float, loss_scale: float = 1.0) -> torch.Tensor:
        assert isinstance(batch, KtoBatch)
        losses, stats = kto_losses(parts, batch, self.settings)
        self._train = self._train.to(stats.device) + stats.double()
        return losses.sum() * (loss_scale / denominator)

    def step_metrics(self) -> dict[str, float]:
        sums = self._train.cpu().tolist()
        self._train = torch.zeros(_STATS, dtype=torch.float64)
        return metrics_of(sums)

    @property
    def has_eval(self) -> bool:
        return bool(self.data.eval_items)

    def evaluate(self, parts: ModelParts) -> dict[str, Any]:
        items = self.data.eval_items or []
        bs = max(2, self.plan.training.per_device_eval_batch_size)
        total, sums = 0.0, torch.zeros(_STATS, dtype=torch.float64)
        parts.body.eval()
        with torch.no_grad():
            for start in range(0, len(items), bs):
                batch = collate_kto(items[start : start + bs], self.pad_id, self.plan.data.max_length)
                losses, stats = kto_losses(parts, batch.to(parts.device), self.settings)
                total += float(losses.sum())
                sums += stats.double().cpu()
        parts.body.train()
        metrics = {f"eval_{k}": v for k, v in metrics_of(sums.tolist()).items()}
        return {"eval_loss": total / max(1, len(items)), **metrics, "eval_pairs": len(items)}


def kto_losses(parts: ModelParts, batch: KtoBatch, s: KtoPlan) -> tuple[torch.Tensor, torch.Tensor]:
    """Each row's weighted loss (with gradient) and the detached metric sums (_STATS of them)."""
    logps = sequence_logps(parts, batch.rows)
    with torch.no_grad():
        kl_logps = sequence_logps(parts, batch.kl_rows)
        with adapters_disabled(parts.body):
            ref = sequence_logps(parts, batch.rows)
            ref_kl = sequence_logps(parts, batch.kl_rows)
        kl = (kl_logps - ref_kl).mean().clamp(min=0)
    ratio = logps - ref
    good = batch.desirable
    losses = torch.where(
        good,
        s.desirable_weight * (1 - torch.sigmoid(s.beta * (ratio - kl))),
        s.undesirable_weight * (1 - torch.sigmoid(s.beta * (kl - ratio))),
    )
    with torch.no_grad():
        rewards, bad = s.beta * ratio, ~good
        stats = torch.stack(
            [
                rewards[good].sum(),
                logps[good].sum(),
                good.sum().float(),
                rewards[bad].sum(),
                logps[bad].sum(),
                bad.sum().float(),
                kl,
                torch.ones((), device=kl.device),
            ]
        )
    return losses, stats


def metrics_of(sums: list[float]) -> dict[str, float]:
    good_reward, good_logps, n_good, bad_reward, bad_logps, n_bad, kl, batches = sums
    out: dict[str, float] = {}
    if n_good:
        out["rewards/chosen"], out["logps/chosen"] = good_reward / n_good, good_logps / n_good
    if n_bad:
        out["rewards/rejected"], out["logps/rejected"] = bad_reward / n_bad, bad_logps / n_bad
    if n_good and n_bad:
        out["rewards/margins"] = out["rewards/chosen"] - out["rewards/rejected"]
    if batches:
        out["kl"] = kl / batches
    return out


def _items(rows: list[dict[str, Any]], tokenizer: Any, template: str | None, max_length: int) -> list[KtoItem]:
    labels = []
    as_pairs = []
    for index, row in enumerate(rows):
        missing = [k for k in ("prompt", "completion", "label") if k not in row]
        if missing:
            raise DataError(
                f"row {index}: a KTO row needs 'prompt', 'completion' and 'label' (missing: {', '.join(missing)})"
            )
        if not isinstance(row["label"], bool):
            raise DataError(f"row {index}: 'label' must be true (a desirable answer) or false, not {row['label']!r}")
        labels.append(row["label"])
        as_pairs.append({"prompt": row["prompt"], "chosen": row["completion"], "rejected": row["completion"]})
    # Tokenized whole (the KL rows take other rows' completions); a prompt that fills max_length is dropped.
    pairs, _ = tokenize_pairs(as_pairs, tokenizer, template, 1 << 30)
    return [
        KtoItem(p.prompt_ids, p.chosen_ids, label) for p, label in zip(pairs, labels) if len(p.prompt_ids) < max_length
    ]


def load_items(plan: Any, tokenizer: Any) -> KtoDatasets:
    d = plan.data
    template = resolve_chat_template(tokenizer, d.chat_template)
    warnings: list[str] = []

    def items_of(path: str, what: str) -> tuple[list[KtoItem], int]:
        rows, dropped = clean_rows(read_dataset(path), dedupe=d.dedupe, html_strip=d.strip_html)
        if dropped:
            warnings.append(f"{what}: {dropped} duplicate rows dropped (data.dedupe)")
        try:
            items = _items(rows, tokenizer, template, d.max_length)
        except DataError as error:
            raise DataError(f"{path}: {error}") from error
        if len(items) < len(rows):
            warnings.append(
                f"{what}: {len(rows) - len(items)} rows were skipped: their prompt alone fills data.max_length "
                f"{d.max_length} (raise data.max_length or shorten them)"
            )
        return items, len(rows)

    train, n_train = items_of(d.train, "train")
    if len(train) < 2:
        raise DataError(f"{d.train}: KTO needs at least 2 usable rows ({{prompt, completion, label}})")
    if all(it.desirable for it in train) or not any(it.desirable for it in train):
        warnings.append("train: every row has the same label: KTO learns from desirable and undesirable answers")
    evals, n_eval = items_of(d.eval, "eval") if d.eval else ([], None)
    lengths = [min(d.max_length, len(it.prompt_ids) + len(it.completion_ids)) for it in train]
    return KtoDatasets(lengths, n_train, n_eval, warnings, train_items=train, eval_items=evals)
