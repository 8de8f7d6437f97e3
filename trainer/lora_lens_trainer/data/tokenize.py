"""Rows to token ids and labels: chat through the tokenizer's chat template, instruction and text as plain text.

Labels are -100 on every token that should not train (the prompt, unless train_on_prompt). For chat rows the
assistant spans are found by rendering growing prefixes of the conversation: the text the template adds for
message i is what lies between render(messages[:i]) and render(messages[:i+1]), and the tokens whose character
offsets fall inside an assistant message's span are the trained ones. This works with any template whose render
of a prefix is a prefix of the full render, which holds for the common ones (ChatML, Llama 3, Mistral, Gemma; Phi-3's closing end-of-text token is allowed for).
A tool's other masking (axolotl's roles_to_train / train_on_eos, LLaMA-Factory's mask_history) is masking.py's.
The named templates live in templates.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any

from .masking import Masking, axolotl_labels, history_masked
from .readers import DataError
from .templates import NAMED, NAMED_TEMPLATES, resolve_chat_template  # noqa: F401  (NAMED_TEMPLATES: re-exported)

IGNORE = -100
OURS = Masking()


@dataclass(frozen=True)
class Example:
    input_ids: list[int]
    labels: list[int]

    @property
    def trained_tokens(self) -> int:
        return sum(1 for label in self.labels if label != IGNORE)


def _text_of(row: dict[str, Any], key: str, index: int) -> str:
    value = row.get(key)
    if not isinstance(value, str):
        raise DataError(f"row {index}: field {key!r} must be a string (format needs it)")
    return value


def _eos(tokenizer: Any) -> list[int]:
    eos = getattr(tokenizer, "eos_token_id", None)
    return [eos] if isinstance(eos, int) else []


def _encode(tokenizer: Any, text: str) -> list[int]:
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def _bos(tokenizer: Any) -> list[int]:
    bos = getattr(tokenizer, "bos_token_id", None)
    add = getattr(tokenizer, "add_bos_token", bos is not None)
    return [bos] if isinstance(bos, int) and add else []


def check_messages(messages: Any, index: int) -> list[dict[str, Any]]:
    """The row's messages, or DataError when they are not a non-empty list of {role, content} strings."""
    if not isinstance(messages, list) or not messages:
        raise DataError(f"row {index}: 'messages' must be a non-empty list of {{role, content}}")
    for m in messages:
        if not isinstance(m, dict) or not isinstance(m.get("role"), str) or not isinstance(m.get("content"), str):
            raise DataError(f"row {index}: every message needs string 'role' and 'content'")
    return messages


def _chat_example(
    tokenizer: Any, template: str, messages: Any, index: int, train_on_prompt: bool, masking: Masking
) -> Example:
    messages = check_messages(messages, index)

    def render(msgs: list[dict[str, Any]], generation_prompt: bool) -> str:
        try:
            return tokenizer.apply_chat_template(
                msgs, chat_template=template, tokenize=False, add_generation_prompt=generation_prompt
            )
        except Exception as error:  # jinja2's TemplateError (raise_exception in the template) and template bugs
            raise DataError(f"row {index}: {error}") from error

    full = render(messages, False)
    if masking.axolotl:
        ids = _encode(tokenizer, full)
        encode = partial(_encode, tokenizer)
        eos_id = getattr(tokenizer, "eos_token_id", None)
        name = str(getattr(tokenizer, "name_or_path", "") or "")
        return Example(ids, axolotl_labels(ids, messages, render, encode, eos_id, masking, train_on_prompt, name))
    eos = getattr(tokenizer, "eos_token", None) or ""
    spans: list[tuple[int, int]] = []
    for i, m in enumerate(messages):
        if m["role"] != "assistant":
            continue
        before = render(messages[:i], True) if i else ""
        through = render(messages[: i + 1], False)
        # A template that closes the whole conversation with the end-of-text token (Phi-3: `{% else %}{{ eos_token
        # }}`) renders it after the last turn only: inside a longer row the turn ends just before it.
        if not full.startswith(through) and eos and through.endswith(eos) and full.startswith(through[: -len(eos)]):
            through = through[: -len(eos)]
        if not full.startswith(through) or not through.startswith(before):
            raise DataError(
                f"row {index}: the chat template does not render prefixes as prefixes; set data.train_on_prompt: true or use another template"
            )
        spans.append((len(before), len(through)))
    if not spans and not train_on_prompt:
        raise DataError(f"row {index}: no assistant message to train on")
    spans, history = history_masked(spans) if masking.mask_history else (spans, [])
    enc = tokenizer(full, add_special_tokens=False, return_offsets_mapping=True)
    ids = list(enc["input_ids"])
    labels = []
    for token, (start, end) in zip(ids, enc["offset_mapping"]):
        trains = _within(start, end, spans) or (train_on_prompt and not _within(start, end, history))
        labels.append(token if trains else IGNORE)
    return Example(ids, labels)


def _within(start: int, end: int, ranges: list[tuple[int, int]]) -> bool:
    """Whether a non-empty token [start, end) lies inside one of the character ranges."""
    return any(s <= start and end <= e and end > start for s, e in ranges)


def chat_template_for(tokenizer: Any, fmt: str, setting: str) -> str | None:
    """The Jinja text chat rows render with (None for the other formats); DataError when there is none."""
    if fmt != "chat":
        return None
    template = resolve_chat_template(tokenizer, setting)
    if template is None:
        raise DataError(
            "data.format is chat but the tokenizer has no chat template: set data.chat_template "
            f"(a name: {', '.join(NAMED)}; or inline Jinja)"
        )
    return template


def row_example(
    row: dict[str, Any],
    index: int,
    tokenizer: Any,
    fmt: str,
    template: str | None,
    train_on_prompt: bool,
    masking: Masking = OURS,
) -> Example:
    """One row as token ids and labels, before truncation: what training and the preview both read. `masking`:
    a tool's chat masking the plan carries (masking.py); it applies to chat rows."""
    if fmt == "chat":
        return _chat_example(tokenizer, template or "", row.get("messages"), index, train_on_prompt, masking)
    if fmt == "instruction":
        prompt = _bos(tokenizer) + _encode(tokenizer, _text_of(row, "prompt", index))
        completion = _encode(tokenizer, _text_of(row, "completion", index)) + _eos(tokenizer)
        return Example(prompt + completion, (prompt if train_on_prompt else [IGNORE] * len(prompt)) + completion)
    if fmt == "text":
        ids = _bos(tokenizer) + _encode(tokenizer, _text_of(row, "text", index)) + _eos(tokenizer)
        return Example(ids, list(ids))
    raise DataError(f"data.format: unknown {fmt!r}")


def truncated(ex: Example, max_length: int) -> Example:
    return Example(ex.input_ids[:max_length], ex.labels[:max_length])


def trains_anything(ex: Example) -> bool:
    """Whether a (truncated) example has a label to learn: one trained label predicts nothing after the causal
    shift when it is the first token."""
    return any(label != IGNORE for label in ex.labels[1:])


def tokenize_rows(
    rows: list[dict[str, Any]],
    tokenizer: Any,
    fmt: str,
    chat_template: str,
    max_length: int,
    train_on_prompt: bool,
    masking: Masking = OURS,
) -> tuple[list[Example], int]:
    """Examples truncated to max_length, and how many rows were dropped for having nothing left to train."""
    template = chat_template_for(tokenizer, fmt, chat_template)
    examples: list[Example] = []
    dropped = 0
    for index, row in enumerate(rows):
        ex = truncated(row_example(row, index, tokenizer, fmt, template, train_on_prompt, masking), max_length)
        if not trains_anything(ex):
            dropped += 1
            continue
        examples.append(ex)
    return examples, dropped
