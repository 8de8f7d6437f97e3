"""Preference rows to token ids: `{prompt, chosen, rejected}`, each side a string (text) or a list of chat messages
(TRL's conversational preference format: the prompt's messages, then the chosen and rejected answers as messages).

Tokenized as TRL's DPOTrainer does (1.13, `_prepare_dataset`), so a run here and a TRL run see the same ids: the
prompt alone, then prompt + chosen and prompt + rejected as one text each (a chat row through the chat template,
the prompt rendered with the generation prompt); the completion is what follows the prompt's tokens. A text row's
chosen and rejected end with the end-of-sequence token (added unless already there). Truncation keeps the start:
a pair is cut to `max_length` tokens per side, and a prompt that fills `max_length` alone leaves nothing to train
on, so its row is dropped (TRL drops it too) and counted."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .readers import DataError
from .tokenize import check_messages

SIDES = ("prompt", "chosen", "rejected")


@dataclass(frozen=True)
class PreferencePair:
    prompt_ids: list[int]
    chosen_ids: list[int]  # the completion only, after the prompt; empty when truncation left none
    rejected_ids: list[int]


@dataclass
class PairCounts:
    """What tokenizing dropped or cut, for the run's warnings."""

    prompt_too_long: int = 0
    truncated: int = 0
    identical: int = 0  # chosen == rejected: such a pair pulls both ways at once and teaches nothing


def _conversational(row: dict[str, Any], index: int) -> bool:
    kinds = {side: type(row.get(side)).__name__ for side in SIDES}
    if all(k == "str" for k in kinds.values()):
        return False
    if all(k == "list" for k in kinds.values()):
        return True
    missing = [side for side in SIDES if side not in row]
    if missing:
        raise DataError(
            f"row {index}: a preference row needs 'prompt', 'chosen' and 'rejected' (missing: "
            f"{', '.join(missing)}); for KTO's unpaired {{prompt, completion, label}} rows, set objective: kto"
        )
    raise DataError(
        f"row {index}: 'prompt', 'chosen' and 'rejected' must all be strings (text) or all be lists "
        f"of {{role, content}} messages (chat); here: {', '.join(f'{s} {k}' for s, k in kinds.items())}"
    )


def _ids(encoded: Any) -> list[int]:
    ids = encoded["input_ids"] if isinstance(encoded, dict) or hasattr(encoded, "keys") else encoded
    return list(ids)


def _tokenize_chat(tokenizer: Any, template: str, row: dict[str, Any], index: int) -> tuple[list[int], ...]:
    prompt = check_messages(row["prompt"], index)
    chosen, rejected = (check_messages(row[side], index) for side in ("chosen", "rejected"))

    def render(messages: list[dict[str, Any]], generation_prompt: bool) -> list[int]:
        try:
            return _ids(
                tokenizer.apply_chat_template(
                    messages,
                    chat_template=template,
                    tokenize=True,
                    return_dict=True,
                    add_generation_prompt=generation_prompt,
                )
            )
        except Exception as error:  # jinja2's TemplateError (raise_exception in the template) and template bugs
            raise DataError(f"row {index}: {error}") from error

    return render(prompt, True), render(prompt + chosen, False), render(prompt + rejected, False)


def _tokenize_text(tokenizer: Any, row: dict[str, Any]) -> tuple[list[int], ...]:
    eos = getattr(tokenizer, "eos_token", None) or ""

    def ended(text: str) -> str:
        return text if not eos or text.endswith(eos) else text + eos

    prompt = row["prompt"]
    return (
        _ids(tokenizer(prompt)),
        _ids(tokenizer(prompt + ended(row["chosen"]))),
        _ids(tokenizer(prompt + ended(row["rejected"]))),
    )


def tokenize_pairs(
    rows: list[dict[str, Any]], tokenizer: Any, template: str | None, max_length: int
) -> tuple[list[PreferencePair], PairCounts]:
    """The pairs that keep a trainable completion, and the counts of what was dropped, cut or suspicious."""
    pairs: list[PreferencePair] = []
    counts = PairCounts()
    for index, row in enumerate(rows):
        if _conversational(row, index):
            if template is None:
                raise DataError(
                    f"row {index}: chat preference rows need a chat template: the tokenizer has none; "
                    "set data.chat_template"
                )
            prompt, with_chosen, with_rejected = _tokenize_chat(tokenizer, template, row, index)
        else:
            prompt, with_chosen, with_rejected = _tokenize_text(tokenizer, row)
        if len(prompt) >= max_length:
            counts.prompt_too_long += 1
            continue
        if len(with_chosen) > max_length or len(with_rejected) > max_length:
            counts.truncated += 1
        if row["chosen"] == row["rejected"]:
            counts.identical += 1
        # The completion is what follows the prompt's tokens, as TRL takes it (a template that re-tokenizes the
        # prompt's end differently inside the longer text shifts the boundary by those tokens, there as here).
        chosen, rejected = with_chosen[len(prompt) : max_length], with_rejected[len(prompt) : max_length]
        pairs.append(PreferencePair(prompt, chosen, rejected))
    return pairs, counts
