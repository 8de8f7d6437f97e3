"""Which chat tokens train, as the users' tools decide it, for the masking the plan carries beyond train_on_prompt.

- Ours (nothing set): every assistant turn trains, its end-of-turn text included (tokenize.py's prefix spans).
- axolotl's chat_template strategy (`roles_to_train`, `train_on_eos`; axolotl's defaults [assistant] and turn when
  only one is set), reproduced from src/axolotl/prompt_strategies/chat_template.py (ChatTemplateStrategy): a turn
  trains when train_on_inputs is set or its role is listed; its content tokens are found as axolotl's find_turn
  finds them, by tokenizing the conversation up to the turn with the content and with "[[dummy_message]]" and
  taking the differing tokens; the end-of-turn token is the tokenizer's eos found within 3 tokens after the content,
  trained for `turn` (trained turns), `all`, `last` (the conversation's last one only) or `none`.
- LLaMA-Factory's `mask_history` (src/llamafactory/data/processor/supervised.py): only the last assistant turn's
  response trains; with train_on_prompt the prompts still train and the earlier responses do not.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

IGNORE = -100
DUMMY = "[[dummy_message]]"
EOS_WINDOW = 3  # axolotl: abs(eos_idx - turn_end_idx) <= 3 ("allow for some template padding")

Render = Callable[[list[dict[str, Any]], bool], str]


@dataclass(frozen=True)
class Masking:
    roles_to_train: tuple[str, ...] | None = None
    train_on_eos: str | None = None
    mask_history: bool = False

    @property
    def axolotl(self) -> bool:
        return self.roles_to_train is not None or self.train_on_eos is not None


def masking_of(data: Any) -> Masking:
    """The plan's data section's masking (absent fields: ours)."""
    roles = getattr(data, "roles_to_train", None)
    return Masking(
        tuple(roles) if roles is not None else None,
        getattr(data, "train_on_eos", None),
        bool(getattr(data, "mask_history", False)),
    )


def _find_turn(
    encode: Callable[[str], list[int]], render: Render, messages: list[dict[str, Any]], i: int, name: str
) -> tuple[int, int]:
    """axolotl's find_turn: the token range of message i's content, or (-1, -1) where it cannot be told."""
    # axolotl: Mistral's and Gemma's templates render no system message alone (told by the tokenizer's path).
    if i == 0 and messages[0]["role"] == "system" and ("mistral" in name.lower() or "gemma" in name.lower()):
        return -1, -1
    dummy_ids = encode(render(messages[:i] + [{"role": messages[i]["role"], "content": DUMMY}], False))
    full_ids = encode(render(messages[: i + 1], False))
    if not dummy_ids or not full_ids:
        return -1, -1
    shortest = min(len(dummy_ids), len(full_ids))
    start = next((k for k in range(shortest) if dummy_ids[k] != full_ids[k]), None)
    end = next((len(full_ids) - k for k in range(shortest) if dummy_ids[-1 - k] != full_ids[-1 - k]), None)
    if start is None or end is None or end <= start:
        return -1, -1
    return start, end


def axolotl_labels(
    ids: Sequence[int],
    messages: list[dict[str, Any]],
    render: Render,
    encode: Callable[[str], list[int]],
    eos_id: int | None,
    masking: Masking,
    train_on_prompt: bool,
    name: str = "",
) -> list[int]:
    """Labels as axolotl's ChatTemplateStrategy._tokenize_single_prompt sets them (no per-message training fields)."""
    roles = set(masking.roles_to_train if masking.roles_to_train is not None else ("assistant",))
    mode = masking.train_on_eos if masking.train_on_eos is not None else "turn"
    labels = [IGNORE] * len(ids)
    last_eos = -1
    for i, message in enumerate(messages):
        should_train = train_on_prompt or message["role"] in roles
        start, end = _find_turn(encode, render, messages, i, name)
        if start == -1:
            continue
        if should_train:
            labels[start:end] = ids[start:end]
        eos = next((k for k in range(end, len(ids)) if ids[k] == eos_id), -1) if eos_id is not None else -1
        if eos != -1 and eos - end <= EOS_WINDOW:
            last_eos = eos
            if mode == "all" or (mode == "turn" and should_train):
                labels[eos] = ids[eos]
    if mode == "last" and last_eos != -1:
        labels[last_eos] = ids[last_eos]
    return labels


def history_masked(spans: list[tuple[int, int]]) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """LLaMA-Factory's mask_history on assistant spans: (the trained span, the history spans that do not train)."""
    return spans[-1:], spans[:-1]
