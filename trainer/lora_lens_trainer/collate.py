"""Batches of examples to tensors: right padding, or packed rows with per-example position ids and a
block-diagonal causal mask so packed examples never attend to each other (or, for FlashAttention-2, one flat
row whose position ids restart at each example)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .data.tokenize import IGNORE, Example


@dataclass
class Batch:
    input_ids: Any
    targets: Any  # labels shifted left by one: targets[t] is what position t predicts; IGNORE where nothing trains
    attention_mask: Any  # (B, L) padding mask, or a (B, 1, L, L) boolean block-causal mask when packed, or None
    position_ids: Any
    n_tokens: int  # real (non-padding) tokens, for throughput
    n_targets: int  # trained targets, the loss's denominator

    def to(self, device: Any) -> Batch:
        move = lambda t: None if t is None else t.to(device, non_blocking=True)
        return Batch(
            move(self.input_ids),
            move(self.targets),
            move(self.attention_mask),
            move(self.position_ids),
            self.n_tokens,
            self.n_targets,
        )


def _shift(labels: list[int]) -> list[int]:
    return labels[1:] + [IGNORE]


def collate_padded(examples: Sequence[Example], pad_id: int) -> Batch:
    import torch

    length = max(len(e.input_ids) for e in examples)
    ids = torch.full((len(examples), length), pad_id, dtype=torch.long)
    targets = torch.full((len(examples), length), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(examples), length), dtype=torch.long)
    for row, e in enumerate(examples):
        n = len(e.input_ids)
        ids[row, :n] = torch.tensor(e.input_ids)
        targets[row, :n] = torch.tensor(_shift(e.labels))
        mask[row, :n] = 1
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    all_real = bool(mask.all())
    return Batch(ids, targets, None if all_real else mask, positions, int(mask.sum()), int((targets != IGNORE).sum()))


def collate_packed(rows: Sequence[Sequence[Example]], pad_id: int, max_length: int, flatten: bool = False) -> Batch:
    """Packed rows as (B, L) with a block-causal mask; with `flatten`, as one (1, N) row of every real token and
    no mask, the examples told apart by their position ids restarting at 0 (what FlashAttention-2 reads)."""
    import torch

    length = max(sum(len(e.input_ids) for e in members) for members in rows)
    length = min(length, max_length)
    b = len(rows)
    ids = torch.full((b, length), pad_id, dtype=torch.long)
    targets = torch.full((b, length), IGNORE, dtype=torch.long)
    positions = torch.zeros((b, length), dtype=torch.long)
    segment = torch.full((b, length), -1, dtype=torch.long)
    for r, members in enumerate(rows):
        at = 0
        for s, e in enumerate(members):
            n = min(len(e.input_ids), length - at)
            if n <= 0:
                break
            ids[r, at : at + n] = torch.tensor(e.input_ids[:n])
            # The shift stays inside the example: its last token predicts nothing, never the next example's first.
            targets[r, at : at + n] = torch.tensor(_shift(e.labels[:n]))
            positions[r, at : at + n] = torch.arange(n)
            segment[r, at : at + n] = s
            at += n
    real = segment >= 0
    n_tokens, n_targets = int(real.sum()), int((targets != IGNORE).sum())
    if flatten:
        # Row-major order keeps each row's examples contiguous and in order; padding is dropped, not attended.
        return Batch(ids[real][None], targets[real][None], None, positions[real][None], n_tokens, n_targets)
    same = segment[:, :, None] == segment[:, None, :]
    causal = torch.ones((length, length), dtype=torch.bool).tril()
    real3 = real[:, :, None]
    block = (
        same & causal & real3
    ) | ~real3  # padding rows attend to themselves only, so softmax never sees an empty row
    block = block | torch.eye(length, dtype=torch.bool)
    return Batch(ids, targets, block[:, None, :, :], positions, n_tokens, n_targets)
