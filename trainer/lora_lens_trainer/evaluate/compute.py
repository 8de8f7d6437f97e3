"""Loss and perplexity over examples, and batched greedy generation with a KV cache."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

from ..data.tokenize import IGNORE, Example


@dataclass(frozen=True)
class LossFigures:
    loss: float
    perplexity: float
    tokens: int

    def as_dict(self) -> dict[str, Any]:
        return {"loss": self.loss, "perplexity": self.perplexity, "tokens": self.tokens}


def _batches(order: list[int], size: int) -> list[list[int]]:
    return [order[i : i + size] for i in range(0, len(order), size)]


def loss(model: Any, examples: list[Example], batch_size: int, pad_id: int, device: Any) -> LossFigures:
    """The mean cross-entropy per scored token (labels not -100, after the causal shift) over every example, and
    its exponential. Token-weighted, so a batch's padding or its lengths do not change it."""
    import torch
    import torch.nn.functional as F

    total, tokens = 0.0, 0
    order = sorted(range(len(examples)), key=lambda i: len(examples[i].input_ids))
    with torch.no_grad():
        for batch in _batches(order, batch_size):
            width = max(len(examples[i].input_ids) for i in batch)
            ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
            labels = torch.full((len(batch), width), IGNORE, dtype=torch.long)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            for row, i in enumerate(batch):
                n = len(examples[i].input_ids)
                ids[row, :n] = torch.tensor(examples[i].input_ids)
                labels[row, :n] = torch.tensor(examples[i].labels)
                mask[row, :n] = 1
            # The head's 16-bit logits, scored a row at a time: an fp32 copy of the whole batch's (and its
            # log-softmax) is 12 bytes a logit, 30 GB for 8 rows of 2048 tokens over a 152k vocabulary, where
            # evaluation ran out of memory after training had fit (unsloth #1147).
            logits = model(input_ids=ids.to(device), attention_mask=mask.to(device)).logits
            shifted = labels[:, 1:].to(device)
            for row in range(logits.shape[0]):
                total += float(
                    F.cross_entropy(logits[row, :-1].float(), shifted[row], ignore_index=IGNORE, reduction="sum")
                )
            del logits
            tokens += int((shifted != IGNORE).sum())
    mean = total / tokens if tokens else float("nan")
    return LossFigures(mean, math.exp(mean) if tokens and mean < 700 else float("inf"), tokens)


@dataclass(frozen=True)
class Sampling:
    """temperature 0: greedy; above 0, sampling, the generator seeded with `seed` before the first batch."""

    temperature: float = 0.0
    seed: int = 0


@dataclass(frozen=True)
class Generated:
    token_ids: list[list[int]]
    # Per prompt: whether it ended at a stop token (else at max_new_tokens).
    stopped: list[bool]
    seconds: float

    @property
    def tokens(self) -> int:
        return sum(len(t) for t in self.token_ids)


def generate(
    model: Any,
    prompts: list[list[int]],
    stop_ids: list[int],
    max_new_tokens: int,
    batch_size: int,
    pad_id: int,
    device: Any,
    sampling: Sampling = Sampling(),
) -> Generated:
    """Greedy (or sampled) continuations, batched by length with left padding (transformers' generate keeps the KV
    cache and derives positions from the attention mask); each cut before its first stop token."""
    import torch

    sample = sampling.temperature > 0
    if sample:
        torch.manual_seed(sampling.seed)

    out: list[list[int]] = [[] for _ in prompts]
    stopped = [False] * len(prompts)
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
    started = time.perf_counter()
    with torch.no_grad():
        for batch in _batches(order, batch_size):
            width = max(len(prompts[i]) for i in batch)
            ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            for row, i in enumerate(batch):
                n = len(prompts[i])
                ids[row, width - n :] = torch.tensor(prompts[i])
                mask[row, width - n :] = 1
            result = model.generate(
                input_ids=ids.to(device),
                attention_mask=mask.to(device),
                do_sample=sample,
                max_new_tokens=max_new_tokens,
                eos_token_id=stop_ids,
                pad_token_id=pad_id,
                use_cache=True,
                temperature=sampling.temperature if sample else None,
                top_p=None,
                top_k=None,
            )
            for row, i in enumerate(batch):
                new = result[row, width:].tolist()
                cut = next((k for k, t in enumerate(new) if t in stop_ids), None)
                stopped[i] = cut is not None
                out[i] = new[:cut] if cut is not None else new
    if device.type == "cuda":
        torch.cuda.synchronize()
    return Generated(out, stopped, time.perf_counter() - started)
