"""Direct preference optimisation (DPO, Rafailov et al. 2023) and its IPO and hinge variants, on the same loop as
SFT. An item is a pair: its chosen and rejected sequences go through the model in one forward (the batch's chosen
rows, then its rejected rows, as TRL's concatenated forward), each scored by the sum of its completion tokens'
log-probabilities (the prompt is masked). The reference is the same model with its adapters disabled (LoRA and
QLoRA: no second copy of the weights), scored under no_grad on the same batch. With full fine-tuning there is no
adapter to disable: the reference log-probabilities of every pair are computed once from the starting weights,
before training (TRL's precompute_ref_log_probs), and kept (8 bytes a pair) instead of a frozen copy of the model.
A resume computes them again from the model files before it loads the checkpoint, so they are the same.

Losses as TRL 1.13's DPOTrainer computes them, with Δ = (log π(c) - log π_ref(c)) - (log π(r) - log π_ref(r)):
  sigmoid  -(1-ε)·log σ(βΔ) - ε·log σ(-βΔ)   (ε = label_smoothing: conservative DPO; TRL 1.13 has ε = 0 here)
  hinge    max(0, 1 - βΔ)
  ipo      (Δ' - 1/(2β))², Δ' with each log-ratio divided by its completion's token count (as TRL does)
A step's loss is the mean over every pair of its micro-batches (the denominator is the step's pair count), so an
uneven last micro-batch weighs each pair as much as a full one. Metrics, named as TRL logs them: rewards/chosen
and rewards/rejected (β · the log-ratio), rewards/margins, rewards/accuracies, logps/chosen, logps/rejected,
averaged over the pairs since the last step event."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint

from ..collate import Batch, collate_padded
from ..data.clean import clean_rows
from ..data.preference import PairCounts, PreferencePair, tokenize_pairs
from ..data.readers import DataError, read_dataset
from ..data.templates import resolve_chat_template
from ..data.tokenize import IGNORE, Example
from ..lora import adapters_disabled
from ..loss import CHUNK_ELEMENTS, OutputHead, transformed_logits
from ..plan import PlanError
from ..step import autocast_context
from .base import Datasets, ModelParts, Objective, StepBatch

METRICS = (
    "rewards/chosen",
    "rewards/rejected",
    "rewards/margins",
    "rewards/accuracies",
    "logps/chosen",
    "logps/rejected",
)
LOSSES = ("sigmoid", "hinge", "ipo")


@dataclass
class PreferenceBatch:
    """A micro-batch of pairs: rows 0..n-1 are the chosen sequences, rows n..2n-1 the rejected ones."""

    rows: Batch  # targets are the completion tokens only (IGNORE on the prompt and the padding)
    completion_lengths: torch.Tensor  # (2n,) tokens of each row's completion, for IPO's per-token log-ratio
    n_pairs: int
    reference: torch.Tensor | None = None  # (2n,) precomputed reference log-probs (full fine-tuning), else None

    @property
    def n_tokens(self) -> int:
        return self.rows.n_tokens

    def to(self, device: torch.device) -> PreferenceBatch:
        ref = None if self.reference is None else self.reference.to(device)
        return PreferenceBatch(self.rows.to(device), self.completion_lengths.to(device), self.n_pairs, ref)


@dataclass
class DpoDatasets(Datasets):
    train_pairs: list[PreferencePair] | None = None
    eval_pairs: list[PreferencePair] | None = None


@dataclass(frozen=True)
class DpoSettings:
    beta: float = 0.1
    loss: str = "sigmoid"
    label_smoothing: float = 0.0


def settings_of(plan: Any) -> DpoSettings:
    block = getattr(plan, "dpo", None)
    if block is None:
        return DpoSettings()
    return DpoSettings(float(block.beta), str(block.loss), float(block.label_smoothing))


class DpoObjective(Objective):
    name = "dpo"

    def __init__(self, plan: Any) -> None:
        super().__init__(plan)
        self.settings = settings_of(plan)
        if self.settings.loss not in LOSSES:
            raise PlanError(
                f"dpo.loss {self.settings.loss!r} is not one the trainer computes ({', '.join(LOSSES)})", ("dpo.loss",)
            )
        # Full fine-tuning has no adapter to disable: the reference log-probs are computed once (prepare).
        self.precompute = plan.method == "full"
        self._reference: dict[str, torch.Tensor] = {}
        if plan.data.packing:
            raise PlanError(
                "data.packing does not apply to preference pairs (each pair is two whole sequences): set "
                "data.packing: false",
                ("data.packing",),
            )
        self._train_sums = _Sums()

    def load(self, tokenizer: Any) -> DpoDatasets:
        self.pad_id: int = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        self.data = load_pairs(self.plan, tokenizer)
        return self.data

    # The loop hands each objective back the batch its own collate made (a pair batch here, not StepBatch).
    def collate(self, indices: list[int]) -> PreferenceBatch:  # type: ignore[override]
        assert self.data.train_pairs is not None
        batch = collate_pairs([self.data.train_pairs[i] for i in indices], self.pad_id)
        return self._with_reference(batch, "train", indices)

    def _with_reference(self, batch: PreferenceBatch, split: str, indices: Sequence[int]) -> PreferenceBatch:
        if not self.precompute:
            return batch
        ref = self._reference[split]  # (pairs, 2): chosen, rejected
        rows = torch.tensor(list(indices), dtype=torch.long)
        batch.reference = torch.cat([ref[rows, 0], ref[rows, 1]])
        return batch

    def prepare(self, parts: ModelParts) -> None:
        if not self.precompute:
            return
        bs = self.plan.training.per_device_eval_batch_size
        was_training = parts.body.training
        parts.body.eval()
        with torch.no_grad():
            for split, pairs in (("train", self.data.train_pairs or []), ("eval", self.data.eval_pairs or [])):
                out = []
                for start in range(0, len(pairs), bs):
                    batch = collate_pairs(pairs[start : start + bs], self.pad_id).to(parts.device)
                    chosen, rejected = sequence_logps(parts, batch.rows).float().cpu().chunk(2)
                    out.append(torch.stack([chosen, rejected], dim=1))
                self._reference[split] = torch.cat(out) if out else torch.zeros((0, 2))
        parts.body.train(was_training)

    def denominator(self, micro: Sequence[StepBatch]) -> float:
        return float(max(1, sum(m.n_pairs for m in micro)))  # type: ignore[attr-defined]

    def loss(self, parts: ModelParts, batch: StepBatch, denominator: float, loss_scale: float = 1.0) -> torch.Tensor:
        assert isinstance(batch, PreferenceBatch)
        per_pair, stats = pair_losses(parts, batch, self.settings)
        self._train_sums.add(stats, batch.n_pairs)
        return per_pair.sum() * (loss_scale / denominator)

    def step_metrics(self) -> dict[str, float]:
        return self._train_sums.take()

    @property
    def has_eval(self) -> bool:
        return bool(self.data.eval_pairs)

    def evaluate(self, parts: ModelParts) -> dict[str, Any]:
        bs = self.plan.training.per_device_eval_batch_size
        pairs = self.data.eval_pairs or []
        sums, total = _Sums(), torch.zeros((), dtype=torch.float64)
        parts.body.eval()
        with torch.no_grad():
            for start in range(0, len(pairs), bs):
                batch = collate_pairs(pairs[start : start + bs], self.pad_id)
                batch = self._with_reference(batch, "eval", range(start, start + batch.n_pairs)).to(parts.device)
                per_pair, stats = pair_losses(parts, batch, self.settings)
                total += per_pair.sum().double().cpu()
                sums.add(stats, batch.n_pairs)
        parts.body.train()
        metrics = {f"eval_{k}": v for k, v in sums.take().items()}
        return {"eval_loss": float(total) / max(1, len(pairs)), **metrics, "eval_pairs": len(pairs)}


class _Sums:
    """Metric sums over pairs, kept on the device (no sync per micro-batch) until an event reads them."""

    def __init__(self, names: Sequence[str] = METRICS) -> None:
        self.names = tuple(names)
        self.values: torch.Tensor | None = None
        self.pairs = 0

    def add(self, stats: torch.Tensor, n_pairs: int) -> None:
        self.values = stats if self.values is None else self.values + stats
        self.pairs += n_pairs

    def take(self) -> dict[str, float]:
        if self.values is None or self.pairs == 0:
            return {}
        means = (self.values.double() / self.pairs).tolist()
        self.values, self.pairs = None, 0
        return dict(zip(self.names, means))


def collate_pairs(pairs: Sequence[PreferencePair], pad_id: int) -> PreferenceBatch:
    def example(prompt: list[int], completion: list[int]) -> Example:
        return Example(prompt + completion, [IGNORE] * len(prompt) + completion)

    rows = [example(p.prompt_ids, p.chosen_ids) for p in pairs] + [example(p.prompt_ids, p.rejected_ids) for p in pairs]
    lengths = torch.tensor(
        [len(p.chosen_ids) for p in pairs] + [len(p.rejected_ids) for p in pairs], dtype=torch.float32
    )
    return PreferenceBatch(collate_padded(rows, pad_id), lengths, len(pairs))


def pair_losses(parts: ModelParts, batch: PreferenceBatch, s: DpoSettings) -> tuple[torch.Tensor, torch.Tensor]:
    """Each pair's loss (with gradient) and the detached metric sums over the batch's pairs, in METRICS order."""
    logps = sequence_logps(parts, batch.rows)
    if batch.reference is not None:
        ref = batch.reference
    else:
        with torch.no_grad(), adapters_disabled(parts.body):
            ref = sequence_logps(parts, batch.rows)
    chosen, rejected = logps.chunk(2)
    chosen_ratio, rejected_ratio = (logps - ref).chunk(2)
    delta = chosen_ratio - rejected_ratio
    if s.loss == "sigmoid":
        per_pair = -(1 - s.label_smoothing) * F.logsigmoid(s.beta * delta) - s.label_smoothing * F.logsigmoid(
            -s.beta * delta
        )
    elif s.loss == "hinge":
        per_pair = torch.relu(1 - s.beta * delta)
    else:
        n_chosen, n_rejected = batch.completion_lengths.clamp(min=1.0).chunk(2)
        per_pair = (chosen_ratio / n_chosen - rejected_ratio / n_rejected - 1 / (2 * s.beta)) ** 2
    with torch.no_grad():
        chosen_reward, rejected_reward = s.beta * chosen_ratio, s.beta * rejected_ratio
        stats = torch.stack(
            [
                chosen_reward.sum(),
                rejected_reward.sum(),
                (chosen_reward - rejected_reward).sum(),
                (chosen_reward > rejected_reward).float().sum(),
                chosen.sum(),
                rejected.sum(),
            ]
        )
    return per_pair, stats.float()


def sequence_logps(parts: ModelParts, rows: Batch) -> torch.Tensor:
    """Each row's summed log-probability of its target tokens, in fp32: one forward of the body, then the head
    over the target positions only, a chunk at a time (with gradient, each chunk's logits are recomputed in
    backward rather than kept: one chunk of vocabulary-wide logits alive at a time)."""
    with autocast_context(parts.device, parts.autocast_dtype):
        out = parts.body(
            input_ids=rows.input_ids,
            attention_mask=rows.attention_mask,
            position_ids=rows.position_ids,
            use_cache=False,
        )
        hidden = out[0] if isinstance(out, tuple) else out.last_hidden_state
        n_rows, length = rows.targets.shape
        targets = rows.targets.reshape(-1)
        keep = (targets != IGNORE).nonzero().squeeze(1)
        h = hidden.reshape(-1, hidden.shape[-1]).index_select(0, keep)
        per_token = _token_logps(h, targets.index_select(0, keep), parts.head, parts.autocast_dtype)
    return torch.zeros(n_rows, dtype=torch.float32, device=h.device).index_add_(0, keep // length, per_token)


def _token_logps(
    h: torch.Tensor, targets: torch.Tensor, head: OutputHead, autocast_dtype: torch.dtype | None
) -> torch.Tensor:
    dtype = autocast_dtype or head.weight.dtype
    chunk = max(1, CHUNK_ELEMENTS // head.weight.shape[0])

    def logps(hc: torch.Tensor, tc: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None) -> torch.Tensor:
        z = transformed_logits(hc.to(dtype), w.to(dtype), None if b is None else b.to(dtype), head.transform)
        return z.gather(1, tc.unsqueeze(1)).squeeze(1) - torch.logsumexp(z, dim=-1)

    parts = []
    for start in range(0, h.shape[0], chunk):
        args = (h[start : start + chunk], targets[start : start + chunk], head.weight, head.bias)
        parts.append(checkpoint(logps, *args, use_reentrant=False) if torch.is_grad_enabled() else logps(*args))
    return torch.cat(parts) if parts else h.new_zeros(0, dtype=torch.float32)


def load_pairs(plan: Any, tokenizer: Any) -> DpoDatasets:
    d = plan.data
    warnings: list[str] = []
    template = resolve_chat_template(tokenizer, d.chat_template)

    def pairs_of(path: str, what: str) -> tuple[list[PreferencePair], int]:
        rows, dropped_dupes = clean_rows(read_dataset(path), dedupe=d.dedupe, html_strip=d.strip_html)
        if dropped_dupes:
            warnings.append(f"{what}: {dropped_dupes} duplicate rows dropped (data.dedupe)")
        try:
            pairs, counts = tokenize_pairs(rows, tokenizer, template, d.max_length)
        except DataError as error:
            raise DataError(f"{path}: {error}") from error
        warnings.extend(_count_warnings(what, counts, d.max_length))
        return pairs, len(rows)

    train, n_train = pairs_of(d.train, "train")
    if not train:
        raise DataError(
            f"{d.train}: no usable preference pairs (each row needs prompt, chosen and rejected, with a "
            f"prompt shorter than data.max_length {d.max_length})"
        )
    evals, n_eval = pairs_of(d.eval, "eval") if d.eval else ([], None)
    lengths = [2 * len(p.prompt_ids) + len(p.chosen_ids) + len(p.rejected_ids) for p in train]
    return DpoDatasets(lengths, n_train, n_eval, warnings, train_pairs=train, eval_pairs=evals)


def _count_warnings(what: str, counts: PairCounts, max_length: int) -> list[str]:
    out = []
    if counts.prompt_too_long:
        out.append(
            f"{what}: {counts.prompt_too_long} rows were skipped: their prompt alone fills data.max_length "
            f"{max_length}, leaving no completion token to compare (raise data.max_length or shorten them)"
        )
    if counts.truncated:
        out.append(
            f"{what}: {counts.truncated} pairs were truncated to data.max_length {max_length} (the end of "
            "their chosen or rejected answer is not compared)"
        )
    if counts.identical:
        out.append(
            f"{what}: {counts.identical} rows have the same chosen and rejected answer: they teach nothing "
            "(remove them or fix the data)"
        )
    return out
