"""The evaluation file as prompts with references (for generation) and as training examples (for the loss), and a
general-text file as fixed-length chunks (for the forgetting check).

A chat row's prompt is every turn before its last assistant turn, rendered with the chat template and the
generation prompt; its reference is that last assistant turn. An instruction row's prompt is `prompt` (after BOS,
as training sees it) and its reference `completion`. The loss uses the training tokenisation (data/tokenize.py),
so the evaluation loss means what the training's eval loss means."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..data.readers import DataError, read_dataset, read_rows
from ..data.tokenize import Example, check_messages, tokenize_rows
from . import EvalError


@dataclass(frozen=True)
class Prompt:
    row: int
    # What predictions.jsonl shows: the last user turn (chat) or the prompt text (instruction).
    text: str
    reference: str
    input_ids: list[int]


def read_eval_rows(path: Path | str, limit: int | None) -> list[dict[str, Any]]:
    try:
        rows = read_dataset(path)
    except DataError as error:
        raise EvalError(str(error)) from error
    if not rows:
        raise EvalError(f"{path} holds no rows")
    return rows[:limit] if limit else rows


def _chat_prompt(tokenizer: Any, template: str, row: dict[str, Any], index: int) -> tuple[str, str, list[int]]:
    messages = check_messages(row.get("messages"), index)
    last = max((i for i, m in enumerate(messages) if m["role"] == "assistant"), default=None)
    if last is None or last == 0:
        raise EvalError(f"row {index}: no assistant turn after a prompt to use as the reference")
    turns = messages[:last]
    try:
        text = tokenizer.apply_chat_template(turns, chat_template=template, tokenize=False, add_generation_prompt=True)
    except Exception as error:  # the template's raise_exception, or a template bug
        raise EvalError(f"row {index}: the chat template refuses the prompt: {error}") from error
    shown = next((m["content"] for m in reversed(turns) if m["role"] == "user"), turns[-1]["content"])
    return shown, messages[last]["content"], list(tokenizer(text, add_special_tokens=False)["input_ids"])


def prompts(
    rows: list[dict[str, Any]], tokenizer: Any, fmt: str, template: str | None, max_length: int
) -> list[Prompt]:
    """One prompt per row; a prompt longer than max_length keeps its last max_length tokens (the turn being answered)."""
    out = []
    for index, row in enumerate(rows):
        if fmt == "chat":
            assert template is not None
            shown, reference, ids = _chat_prompt(tokenizer, template, row, index)
        elif fmt == "instruction":
            prompt, completion = row.get("prompt"), row.get("completion")
            if not isinstance(prompt, str) or not isinstance(completion, str):
                raise EvalError(f"row {index}: an instruction row needs string 'prompt' and 'completion'")
            bos = tokenizer.bos_token_id
            ids = [bos] if isinstance(bos, int) and getattr(tokenizer, "add_bos_token", True) else []
            shown, reference, ids = (
                prompt,
                completion,
                ids + list(tokenizer(prompt, add_special_tokens=False)["input_ids"]),
            )
        else:
            return []
        out.append(Prompt(index, shown, reference, ids[-max_length:]))
    return out


def loss_examples(
    rows: list[dict[str, Any]], tokenizer: Any, fmt: str, template: str, max_length: int
) -> list[Example]:
    try:
        examples, _dropped = tokenize_rows(rows, tokenizer, fmt, template, max_length, train_on_prompt=False)
    except DataError as error:
        raise EvalError(str(error)) from error
    return examples


def general_text_chunks(path: Path, tokenizer: Any, max_length: int, max_chunks: int) -> list[Example]:
    """Plain text (.txt, .md, any file that is not a table), or .jsonl/.json/.csv/.parquet rows with a `text` field, as consecutive chunks of max_length tokens (documents
    joined with EOS), every token scored; at most `max_chunks`."""
    if not path.is_file():
        raise EvalError(f"the general-text file {path} does not exist (or is not a file)")
    if path.suffix.lower() not in (".jsonl", ".json", ".csv", ".parquet"):
        try:
            documents = [path.read_text(encoding="utf-8")]
        except UnicodeDecodeError as error:
            raise EvalError(f"the general-text file {path} is not UTF-8 text") from error
    else:
        try:
            rows = read_rows(path)
        except DataError as error:
            raise EvalError(str(error)) from error
        documents = [r["text"] for r in rows if isinstance(r.get("text"), str)]
        if not documents:
            raise EvalError(
                f"{path}: no row has a string 'text' field (the general-text file is plain text: .txt, or "
                f"rows {json.dumps({'text': '...'})})"
            )
    eos = tokenizer.eos_token_id
    ids: list[int] = []
    for document in documents:
        ids += list(tokenizer(document, add_special_tokens=False)["input_ids"]) + (
            [eos] if isinstance(eos, int) else []
        )
        if len(ids) >= max_length * max_chunks:
            break
    chunks = [ids[i : i + max_length] for i in range(0, min(len(ids), max_length * max_chunks), max_length)]
    chunks = [c for c in chunks if len(c) > 1]
    if not chunks:
        raise EvalError(f"{path}: under two tokens of text; the forgetting check needs some general text")
    return [Example(c, list(c)) for c in chunks]
