"""Rows to token ids and labels: chat through the tokenizer's chat template, instruction and text as plain text.

Labels are -100 on every token that should not train (the prompt, unless train_on_prompt). For chat rows the
assistant spans are found by rendering growing prefixes of the conversation: the text the template adds for
message i is what lies between render(messages[:i]) and render(messages[:i+1]), and the tokens whose character
offsets fall inside an assistant message's span are the trained ones. This works with any template whose render
of a prefix is a prefix of the full render, which holds for the common ones (ChatML, Llama 3, Mistral, Gemma).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .readers import DataError

IGNORE = -100

# Named templates for tokenizers that ship none (base models). Inline Jinja in the plan takes precedence.
NAMED_TEMPLATES: dict[str, str] = {
    "chatml": (
        "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\n' + m['content'] + '<|im_end|>\n' }}{% endfor %}"
        "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
    ),
    "llama3": (
        "{{ bos_token }}{% for m in messages %}{{ '<|start_header_id|>' + m['role'] + '<|end_header_id|>\n\n' + m['content'] + '<|eot_id|>' }}{% endfor %}"
        "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}"
    ),
    "zephyr": (
        "{% for m in messages %}{{ '<|' + m['role'] + '|>\n' + m['content'] + eos_token + '\n' }}{% endfor %}"
        "{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% endif %}"
    ),
}


@dataclass(frozen=True)
class Example:
    input_ids: list[int]
    labels: list[int]

    @property
    def trained_tokens(self) -> int:
        return sum(1 for label in self.labels if label != IGNORE)


def resolve_chat_template(tokenizer: Any, setting: str) -> str | None:
    """The Jinja text to use: the tokenizer's own ('auto'), a named one, or the inline Jinja itself."""
    if setting == "auto":
        return getattr(tokenizer, "chat_template", None) or None
    if setting in NAMED_TEMPLATES:
        return NAMED_TEMPLATES[setting]
    if "{%" in setting or "{{" in setting:
        return setting
    raise DataError(f"data.chat_template: {setting!r} is neither 'auto', a known name ({', '.join(NAMED_TEMPLATES)}) nor Jinja")


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


def _chat_example(tokenizer: Any, template: str, messages: Any, index: int, train_on_prompt: bool) -> Example:
    if not isinstance(messages, list) or not messages:
        raise DataError(f"row {index}: 'messages' must be a non-empty list of {{role, content}}")
    for m in messages:
        if not isinstance(m, dict) or not isinstance(m.get("role"), str) or not isinstance(m.get("content"), str):
            raise DataError(f"row {index}: every message needs string 'role' and 'content'")

    def render(msgs: list[dict[str, Any]], generation_prompt: bool) -> str:
        return tokenizer.apply_chat_template(msgs, chat_template=template, tokenize=False, add_generation_prompt=generation_prompt)

    full = render(messages, False)
    spans: list[tuple[int, int]] = []
    for i, m in enumerate(messages):
        if m["role"] != "assistant":
            continue
        before = render(messages[:i], True) if i else ""
        through = render(messages[: i + 1], False)
        if not full.startswith(through) or not through.startswith(before):
            raise DataError(f"row {index}: the chat template does not render prefixes as prefixes; set data.train_on_prompt: true or use another template")
        spans.append((len(before), len(through)))
    if not spans and not train_on_prompt:
        raise DataError(f"row {index}: no assistant message to train on")
    enc = tokenizer(full, add_special_tokens=False, return_offsets_mapping=True)
    ids = list(enc["input_ids"])
    labels = []
    for token, (start, end) in zip(ids, enc["offset_mapping"]):
        inside = any(s <= start and end <= e and end > start for s, e in spans)
        labels.append(token if train_on_prompt or inside else IGNORE)
    return Example(ids, labels)


def tokenize_rows(rows: list[dict[str, Any]], tokenizer: Any, fmt: str, chat_template: str, max_length: int,
                  train_on_prompt: bool) -> tuple[list[Example], int]:
    """Examples truncated to max_length, and how many rows were dropped for having nothing left to train."""
    template = resolve_chat_template(tokenizer, chat_template) if fmt == "chat" else None
    if fmt == "chat" and template is None:
        raise DataError("data.format is chat but the tokenizer has no chat template: set data.chat_template "
                        f"(a name: {', '.join(NAMED_TEMPLATES)}; or inline Jinja)")
    examples: list[Example] = []
    dropped = 0
    for index, row in enumerate(rows):
        if fmt == "chat":
            ex = _chat_example(tokenizer, template or "", row.get("messages"), index, train_on_prompt)
        elif fmt == "instruction":
            prompt = _bos(tokenizer) + _encode(tokenizer, _text_of(row, "prompt", index))
            completion = _encode(tokenizer, _text_of(row, "completion", index)) + _eos(tokenizer)
            ex = Example(prompt + completion, (prompt if train_on_prompt else [IGNORE] * len(prompt)) + completion)
        elif fmt == "text":
            ids = _bos(tokenizer) + _encode(tokenizer, _text_of(row, "text", index)) + _eos(tokenizer)
            ex = Example(ids, list(ids))
        else:
            raise DataError(f"data.format: unknown {fmt!r}")
        ex = Example(ex.input_ids[:max_length], ex.labels[:max_length])
        # One trained label predicts nothing after the causal shift when it is the first token.
        if sum(1 for label in ex.labels[1:] if label != IGNORE) == 0:
            dropped += 1
            continue
        examples.append(ex)
    return examples, dropped
