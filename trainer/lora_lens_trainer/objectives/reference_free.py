"""Reference-free preference objectives: ORPO (Hong et al. 2024) and SimPO (Meng et al. 2024), on the same loop and
pair data as DPO but with no reference forward (so no adapter to disable: they also run with full fine-tuning).
Each side of a pair is scored by its completion's mean token log-probability (p̄), as TRL 1.13's ORPOTrainer and
CPOTrainer(loss_type="simpo") do, and the chosen side adds a cross-entropy (NLL) term:

  ORPO   NLL(chosen, prompt AND completion tokens, as TRL's ORPOTrainer) - β·log σ(log-odds), with
         log-odds = (p̄c - p̄r) - (log(1 - e^p̄c) - log(1 - e^p̄r))
  SimPO  -(1-ε)·log σ(β(p̄c - p̄r) - γ) - ε·log σ(-(β(p̄c - p̄r) - γ)) + α·NLL(chosen completion tokens) (α is TRL's
         cpo_alpha; 0 is SimPO as published, α > 0 is CPO's behaviour-cloning term)

A step's loss is the mean over its pairs of the pair term plus the NLL averaged over every NLL token of the step's
micro-batches (one batch's token mean in TRL; uneven micro-batches weigh each token alike). Metrics as TRL logs
them: rewards/* (β · p̄), logps/* (p̄), nll_loss, and for ORPO log_odds_ratio and log_odds_chosen. TRL's
logits/chosen and logits/rejected (means of vocabulary-wide logits) are not reported: the loss never holds them.

Under data parallelism the NLL's token count is each rank's own (the pair count is the whole step's)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
import torch.nn.functional as F

from ..collate import Batch, collate_padded
from ..data.preference import PreferencePair
from ..data.tokenize import IGNORE, Example
from ..plan import OrpoPlan, PlanError, SimpoPlan
from ..step import autocast_context
from .base import ModelParts, Objective, StepBatch
from .dpo import METRICS as DPO_METRICS
from .dpo import DpoDatasets, DpoObjective, _Sums, _token_logps, load_pairs

# A plan without the block (written by hand, or before it existed) gets TRL's defaults; SimPO's are the paper's
# (γ = 0.5 as TRL's simpo_gamma; α = 0: no NLL term, SimPO as published, where TRL's CPO default is 1).
DEFAULTS: dict[str, Any] = {
    "orpo": OrpoPlan(beta=0.1),
    "simpo": SimpoPlan(beta=2.0, gamma=0.5, cpo_alpha=0.0, label_smoothing=0.0),
}


@dataclass
class ScoredPairBatch:
    """Pairs as one batch (chosen rows, then rejected rows) whose targets are every real token; `completion`
    marks the targets that belong to the answer, `nll` those the NLL term trains on."""

    rows: Batch
    completion: torch.Tensor  # (2n, L) bool
    nll: torch.Tensor  # (2n, L) bool, False on the rejected rows
    n_pairs: int
    nll_tokens: int

    @property
    def n_tokens(self) -> int:
        return self.rows.n_tokens

    def to(self, device: torch.device) -> ScoredPairBatch:
        return ScoredPairBatch(
            self.rows.to(device), self.completion.to(device), self.nll.to(device), self.n_pairs, self.nll_tokens
        )


@dataclass(frozen=True)
class PairScores:
    """What a batch's forward yields: each side's mean completion log-prob (with gradient) and the NLL sum."""

    chosen: torch.Tensor
    rejected: torch.Tensor
    nll_sum: torch.Tensor


def collate_scored(pairs: Sequence[PreferencePair], pad_id: int, nll_on_prompt: bool) -> ScoredPairBatch:
    def example(prompt: list[int], completion: list[int]) -> Example:
        return Example(prompt + completion, prompt + completion)

    sides = [(p.prompt_ids, p.chosen_ids) for p in pairs] + [(p.prompt_ids, p.rejected_ids) for p in pairs]
    rows = collate_padded([example(p, c) for p, c in sides], pad_id)
    length = rows.targets.shape[1]
    positions = torch.arange(length).unsqueeze(0)
    # targets[t] is token t+1: the answer's targets start one position before its first token.
    starts = torch.tensor([len(p) - 1 for p, _ in sides]).unsqueeze(1)
    real = rows.targets != IGNORE
    completion = real & (positions >= starts)
    nll = (real if nll_on_prompt else completion).clone()
    nll[len(pairs) :] = False
    return ScoredPairBatch(rows, completion, nll, len(pairs), int(nll.sum()))


def score_pairs(parts: ModelParts, batch: ScoredPairBatch) -> PairScores:
    """One forward over both sides; the head only over real targets, a chunk at a time (dpo._token_logps)."""
    rows = batch.rows
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
    row = keep // length
    in_completion = batch.completion.reshape(-1).index_select(0, keep)
    in_nll = batch.nll.reshape(-1).index_select(0, keep)
    zeros = torch.zeros(n_rows, dtype=torch.float32, device=per_token.device)
    sums = zeros.index_add(0, row, torch.where(in_completion, per_token, 0.0))
    counts = batch.completion.sum(1).clamp(min=1).to(sums.dtype)
    chosen, rejected = (sums / counts).chunk(2)
    return PairScores(chosen, rejected, -torch.where(in_nll, per_token, 0.0).sum())


def _log1mexp(x: torch.Tensor) -> torch.Tensor:
    """log(1 - e^x) for x < 0, switching form at -ln 2 to avoid cancellation (as TRL's ORPO)."""
    return torch.where(x < -0.6931471805599453, torch.log1p(-torch.exp(x)), torch.log(-torch.expm1(x)))


class _ReferenceFreeObjective(DpoObjective):
    """DPO's pair data and batching, a loss of its own, and no reference."""

    block: ClassVar[str]
    metrics: ClassVar[tuple[str, ...]]
    nll_on_prompt: ClassVar[bool]

    def __init__(self, plan: Any) -> None:
        Objective.__init__(self, plan)
        if plan.data.packing:
            raise PlanError(
                "data.packing does not apply to preference pairs (each pair is two whole sequences): set "
                "data.packing: false",
                ("data.packing",),
            )
        self._train_sums = _Sums(self.metrics)
        self._train_nll: tuple[torch.Tensor | float, int] = (0.0, 0)  # summed on the device: no sync per batch
        self._step_nll_tokens = 1

    @property
    def nll_weight(self) -> float:
        return 1.0

    def prepare(self, parts: ModelParts) -> None:
        """Nothing to precompute: there is no reference (DPO's full-fine-tuning reference log-probs do not apply)."""

    def pair_terms(self, scores: PairScores) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Each pair's loss term and the extra metric values per pair (beyond DPO's six), in self.metrics order."""
        raise NotImplementedError

    def load(self, tokenizer: Any) -> DpoDatasets:
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        self.data = load_pairs(self.plan, tokenizer)
        return self.data

    def collate(self, indices: list[int]) -> ScoredPairBatch:  # type: ignore[override]
        assert self.data.train_pairs is not None
        return collate_scored([self.data.train_pairs[i] for i in indices], self.pad_id, self.nll_on_prompt)

    def denominator(self, micro: Sequence[StepBatch]) -> float:
        # The NLL averages over the step's NLL tokens, the pair term over its pairs: the loop passes one figure
        # back to loss(), the pair count, and the token count is kept for the same step.
        self._step_nll_tokens = max(1, sum(m.nll_tokens for m in micro))  # type: ignore[attr-defined]
        return float(max(1, sum(m.n_pairs for m in micro)))  # type: ignore[attr-defined]

    def loss(self, parts: ModelParts, batch: StepBatch, denominator: float, loss_scale: float = 1.0) -> torch.Tensor:
        assert isinstance(batch, ScoredPairBatch)
        per_pair, nll_sum, stats = self._batch(parts, batch)
        self._train_sums.add(stats, batch.n_pairs)
        self._train_nll = (self._train_nll[0] + nll_sum.detach(), self._train_nll[1] + batch.nll_tokens)
        total = per_pair.sum() / denominator + self.nll_weight * nll_sum / self._step_nll_tokens
        return total * loss_scale

    def _batch(self, parts: ModelParts, batch: ScoredPairBatch) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        scores = score_pairs(parts, batch)
        per_pair, extra = self.pair_terms(scores)
        with torch.no_grad():
            beta = self.beta
            chosen_reward, rejected_reward = beta * scores.chosen, beta * scores.rejected
            stats = torch.stack(
                [
                    chosen_reward.sum(),
                    rejected_reward.sum(),
                    (chosen_reward - rejected_reward).sum(),
                    (chosen_reward > rejected_reward).float().sum(),
                    scores.chosen.sum(),
                    scores.rejected.sum(),
                    *[e.sum() for e in extra],
                ]
            )
        return per_pair, scores.nll_sum, stats.float()

    @property
    def settings(self) -> Any:  # type: ignore[override]
        return getattr(self.plan, self.block, None) or DEFAULTS[self.block]

    @property
    def beta(self) -> float:
        return float(self.settings.beta)

    def _with_nll(self, metrics: dict[str, float], nll: tuple[torch.Tensor | float, int]) -> dict[str, float]:
        if self.nll_weight and nll[1]:
            metrics["nll_loss"] = float(nll[0]) / nll[1]
        return metrics

    def step_metrics(self) -> dict[str, float]:
        metrics = self._with_nll(self._train_sums.take(), self._train_nll)
        self._train_nll = (0.0, 0)
        return metrics

    def evaluate(self, parts: ModelParts) -> dict[str, Any]:
        bs = self.plan.training.per_device_eval_batch_size
        pairs = self.data.eval_pairs or []
        sums, pair_total, nll_sum, nll_tokens = _Sums(self.metrics), 0.0, 0.0, 0
        parts.body.eval()
        with torch.no_grad():
            for start in range(0, len(pairs), bs):
                batch = collate_scored(pairs[start : start + bs], self.pad_id, self.nll_on_prompt).to(parts.device)
                per_pair, batch_nll, stats = self._batch(parts, batch)
                pair_total += float(per_pair.sum())
                nll_sum += float(batch_nll)
                nll_tokens += batch.nll_tokens
                sums.add(stats, batch.n_pairs)
        parts.body.train()
        loss = pair_total / max(1, len(pairs)) + self.nll_weight * nll_sum / max(1, nll_tokens)
        metrics = {f"eval_{k}": v for k, v in self._with_nll(sums.take(), (nll_sum, nll_tokens)).items()}
        return {"eval_loss": loss, **metrics, "eval_pairs": len(pairs)}


class OrpoObjective(_ReferenceFreeObjective):
    name = "orpo"
    block = "orpo"
    metrics = (*DPO_METRICS, "log_odds_ratio", "log_odds_chosen")
    nll_on_prompt = True  # TRL's ORPOTrainer: "orpo chosen nll loss is computed over the full prompt and response"

    def pair_terms(self, scores: PairScores) -> tuple[torch.Tensor, list[torch.Tensor]]:
        log_odds = (scores.chosen - scores.rejected) - (_log1mexp(scores.chosen) - _log1mexp(scores.rejected))
        ratio = F.logsigmoid(log_odds)
        return -self.beta * ratio, [ratio.detach(), log_odds.detach()]


class SimpoObjective(_ReferenceFreeObjective):
    name = "simpo"
    block = "simpo"
    metrics = DPO_METRICS
    nll_on_prompt = False  # TRL's CPOTrainer: the chosen completion's tokens

    @property
    def nll_weight(self) -> float:
        return float(self.settings.cpo_alpha)

    def pair_terms(self, scores: PairScores) -> tuple[torch.Tensor, list[torch.Tensor]]:
        s = self.settings
        logits = self.beta * (scores.chosen - scores.rejected) - float(s.gamma)
        eps = float(s.label_smoothing)
        return -(1 - eps) * F.logsigmoid(logits) - eps * F.logsigmoid(-logits), []
