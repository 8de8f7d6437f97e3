"""The seeded, deterministic order of examples: shuffling, length grouping, packing, batches.

Everything here is a pure function of (lengths, seed, epoch), so a resumed run finds the same batches by
(epoch, batch index) alone and a checkpoint only has to store that position.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Packed:
    """One row of a packed batch: the examples it concatenates, in order."""

    members: tuple[int, ...]


def shuffled(n: int, seed: int, epoch: int) -> list[int]:
    order = list(range(n))
    random.Random(seed * 1_000_003 + epoch).shuffle(order)
    return order


def group_by_length(order: list[int], lengths: list[int], batch_size: int, seed: int, epoch: int) -> list[int]:
    """transformers' LengthGroupedSampler idea: sort within mega-batches of 50 batches, longest first, so a batch
    holds similar lengths (less padding) while the order between mega-batches stays random."""
    mega = max(batch_size * 50, 1)
    out: list[int] = []
    for start in range(0, len(order), mega):
        chunk = sorted(order[start : start + mega], key=lambda i: -lengths[i])
        out.extend(chunk)
    batches = [out[i : i + batch_size] for i in range(0, len(out), batch_size)]
    # The longest batch first surfaces an out-of-memory error at step 1 instead of hours in.
    if batches:
        longest = max(range(len(batches)), key=lambda b: max(lengths[i] for i in batches[b]))
        batches[0], batches[longest] = batches[longest], batches[0]
        rest = batches[1:]
        random.Random(seed * 1_000_003 + epoch + 7).shuffle(rest)
        batches = [batches[0], *rest]
    return [i for b in batches for i in b]


def pack(order: list[int], lengths: list[int], max_length: int) -> list[Packed]:
    """Greedy packing in the given order: a row is closed when the next example does not fit."""
    rows: list[Packed] = []
    current: list[int] = []
    used = 0
    for i in order:
        n = min(lengths[i], max_length)
        if current and used + n > max_length:
            rows.append(Packed(tuple(current)))
            current, used = [], 0
        current.append(i)
        used += n
    if current:
        rows.append(Packed(tuple(current)))
    return rows


def epoch_batches(
    n_items: int, lengths: list[int], batch_size: int, seed: int, epoch: int, by_length: bool
) -> list[list[int]]:
    """Batches of item indices for one epoch (items are examples, or packed rows when packing)."""
    order = shuffled(n_items, seed, epoch)
    if by_length:
        order = group_by_length(order, lengths, batch_size, seed, epoch)
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def rank_share(group: list[list[int]], rank: int, world: int) -> list[tuple[list[int], float]]:
    """This rank's micro-batches of one optimizer step, each with the weight of its loss. `group` is the step's
    batches of the one global order (accumulation × world of them): rank r takes every world-th from r, so the
    ranks together cover exactly the batches one process accumulating the whole group would, whatever the world
    size. Every rank runs as many micro-batches as the largest share (their collectives must pair up): a rank short
    of it at an epoch's ragged end repeats the group's first batch with weight 0, which adds nothing."""
    if world == 1:
        return [(b, 1.0) for b in group]
    mine = [(b, 1.0) for b in group[rank::world]]
    rounds = math.ceil(len(group) / world)
    return mine + [(group[0], 0.0)] * (rounds - len(mine))


def steps_per_epoch(n_batches: int, accumulation: int) -> int:
    return math.ceil(n_batches / accumulation)


def total_steps(n_batches: int, accumulation: int, epochs: float, max_steps: int) -> int:
    if max_steps > 0:
        return max_steps
    return max(1, math.ceil(steps_per_epoch(n_batches, accumulation) * epochs))
