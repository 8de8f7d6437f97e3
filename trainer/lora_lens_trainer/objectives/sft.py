"""Supervised fine-tuning: chat or text rows tokenized with the plan's template, trained on the assistant tokens
(or all of them with train_on_prompt), optionally packed; the loss is the token-level cross-entropy over the
trained targets of a whole optimizer step, computed by the fused head (step.batch_loss)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from ..collate import Batch, collate_packed, collate_padded
from ..data.clean import clean_rows
from ..data.masking import masking_of
from ..data.order import pack, shuffled
from ..data.readers import DataError, read_dataset
from ..data.tokenize import Example, tokenize_rows
from ..step import batch_loss
from .base import Datasets, ModelParts, Objective, StepBatch


@dataclass
class SftDatasets(Datasets):
    train_items: list[list[Example]] | None = None  # one entry per training item: an example, or a packed row
    eval_examples: list[Example] | None = None


class SftObjective(Objective):
    name = "sft"

    def load(self, tokenizer: Any) -> SftDatasets:
        self.data = load_data(self.plan, tokenizer)
        self.pad_id: int = tokenizer.pad_token_id
        return self.data

    def collate(self, indices: list[int]) -> Batch:
        d = self.plan.data
        assert self.data.train_items is not None
        items = [self.data.train_items[i] for i in indices]
        if d.packing:
            # FlashAttention-2 finds packed examples from position-id resets only in a batch of one row: packed
            # micro-batches become one row there, so attention never crosses examples.
            flatten = self.plan.model.attn_implementation == "flash_attention_2"
            return collate_packed(items, self.pad_id, d.max_length, flatten=flatten)
        return collate_padded([it[0] for it in items], self.pad_id)

    def denominator(self, micro: Sequence[StepBatch]) -> float:
        # Every trained target of the step weighs the same, however the micro-batches split them.
        return float(max(1, sum(m.n_targets for m in micro)))  # type: ignore[attr-defined]

    def loss(self, parts: ModelParts, batch: StepBatch, denominator: float, loss_scale: float = 1.0) -> torch.Tensor:
        assert isinstance(batch, Batch)
        return batch_loss(
            parts.body,
            parts.head,
            batch,
            denominator,
            parts.device,
            parts.autocast_dtype,
            parts.attn_implementation,
            loss_scale=loss_scale,
        )

    @property
    def has_eval(self) -> bool:
        return bool(self.data.eval_examples)

    def evaluate(self, parts: ModelParts) -> dict[str, Any]:
        bs = self.plan.training.per_device_eval_batch_size
        examples = self.data.eval_examples or []
        total_loss, total_targets = 0.0, 0
        parts.body.eval()
        with torch.no_grad():
            for start in range(0, len(examples), bs):
                batch = collate_padded(examples[start : start + bs], self.pad_id).to(parts.device)
                total_loss += float(self.loss(parts, batch, 1.0).item())
                total_targets += batch.n_targets
        parts.body.train()
        # Summed over every eval target, then divided once: a mean per token (transformers' Trainer averages the
        # per-batch means instead, which weighs a short last batch as much as a full one).
        return {
            "eval_loss": total_loss / max(1, total_targets),
            "eval_loss_reduction": "token",
            "eval_tokens": total_targets,
        }


def load_data(plan: Any, tokenizer: Any) -> SftDatasets:
    d = plan.data
    warnings: list[str] = []

    def examples_of(path: str, what: str) -> tuple[list[Example], int]:
        rows, dropped_dupes = clean_rows(read_dataset(path), dedupe=d.dedupe, html_strip=d.strip_html)
        if dropped_dupes:
            warnings.append(f"{what}: {dropped_dupes} duplicate rows dropped (data.dedupe)")
        try:
            examples, empty = tokenize_rows(
                rows, tokenizer, d.format, d.chat_template, d.max_length, d.train_on_prompt, masking_of(d)
            )
        except DataError as error:
            raise DataError(f"{path}: {error}") from error
        if empty:
            warnings.append(
                f"{what}: {empty} rows have no trained token within max_length {d.max_length} and were skipped"
            )
        truncated = sum(1 for e in examples if len(e.input_ids) >= d.max_length)
        if truncated:
            warnings.append(f"{what}: {truncated} rows were truncated to max_length {d.max_length}")
        return examples, len(rows)

    train, n_train = examples_of(d.train, "train")
    if not train:
        raise DataError(f"{d.train}: no usable training rows")
    evals, n_eval = examples_of(d.eval, "eval") if d.eval else ([], None)
    if d.packing:
        lengths = [len(e.input_ids) for e in train]
        rows = pack(shuffled(len(train), plan.training.seed, -1), lengths, d.max_length)
        items = [[train[i] for i in r.members] for r in rows]
    else:
        items = [[e] for e in train]
    return SftDatasets(
        [sum(len(e.input_ids) for e in it) for it in items],
        n_train,
        n_eval,
        warnings,
        train_items=items,
        eval_examples=evals,
    )
