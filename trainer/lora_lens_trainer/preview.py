"""python -m lora_lens_trainer preview --plan plan.json [--rows N] [--sample N --seed S]: the training rows as the
trainer will feed them, printed as one JSON object (schemas/preview.schema.json) for `lora-lens preview` and the
editor's preview panel.

Every rendering goes through the trainer's own data path (readers, cleaning, data/tokenize.py's row_example and
truncation), so what the preview shows is what training reads: the same token ids, the same trained (label != -100)
positions, the same max_length cut and the same rows dropped for having nothing left to train. Where the config
names a template and the model's tokenizer_config.json carries another, each row is rendered with both.
"""

from __future__ import annotations

import csv
import hashlib
import json
import random
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import schema_check
from .data.clean import clean_rows, row_key
from .data.masking import masking_of
from .data.readers import DataError, read_dataset
from .data.tokenize import IGNORE, Example, chat_template_for, row_example, trains_anything, truncated

# Tokens listed past max_length, so that the cut shows what it drops without shipping a whole long document.
SHOWN_PAST_CUT = 32
MAX_SELECTED = 5000


class PreviewReportError(AssertionError):
    """The report does not match schemas/preview.schema.json: a bug here, never the user's."""


@dataclass(frozen=True)
class Selection:
    first: int
    sample: int
    seed: int
    # Rows asked for by index, or by the 1-based file line the data-safety findings name (the editor's "open row
    # in preview"): shown with the first rows.
    rows: tuple[int, ...] = ()
    lines: tuple[int, ...] = ()


def content_hash(row: dict[str, Any]) -> str:
    """The row's identity for spot-check marks: sha256 of its canonical JSON, as read from the file."""
    text = json.dumps(row, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def selected_indices(total: int, selection: Selection) -> tuple[list[int], list[int]]:
    """The first rows (and those asked for by index) and a seeded sample of all rows (the same seed and file give
    the same sample)."""
    first = sorted(set(range(min(selection.first, total))) | {i for i in selection.rows if 0 <= i < total})
    sample = sorted(random.Random(selection.seed).sample(range(total), min(selection.sample, total)))
    return first, sample


def index_of_line(path: str, line: int) -> int | None:
    """The 0-based row index, as readers.py counts rows, of the row that starts on this 1-based line of a .jsonl or
    .csv file (blank lines are no rows; a CSV header is none either); None when no row starts there."""
    suffix = Path(path).suffix.lower()
    if suffix == ".jsonl":
        count = 0
        with open(path, encoding="utf-8") as fh:
            for number, text in enumerate(fh, 1):
                if number == line:
                    return count if text.strip() else None
                count += 1 if text.strip() else 0
        return None
    if suffix == ".csv":
        with open(path, newline="", encoding="utf-8") as fh:
            reader = csv.reader(fh)
            start, index = 1, -1  # the header is not a row
            for record in reader:
                if record:
                    if start == line:
                        return index if index >= 0 else None
                    index += 1
                start = reader.line_num + 1
        return None
    return None


def _special_ids(tokenizer: Any) -> set[int]:
    ids = set(getattr(tokenizer, "all_special_ids", []) or [])
    for token_id, added in (getattr(tokenizer, "added_tokens_decoder", {}) or {}).items():
        if getattr(added, "special", False):
            ids.add(int(token_id))
    return ids


def rendering(ex: Example, tokenizer: Any, max_length: int, specials: set[int]) -> dict[str, Any]:
    """One example as the preview shows it: tokens up to a little past the cut, each trained or masked."""
    kept = truncated(ex, max_length)
    shown = ex.input_ids[: max_length + SHOWN_PAST_CUT]
    return {
        "ids": shown,
        "tokens": [str(t) for t in tokenizer.convert_ids_to_tokens(shown)],
        "text": [tokenizer.decode([i]) for i in shown],
        "trained": [label != IGNORE for label in ex.labels[: len(shown)]],
        "special": [i in specials for i in shown],
        "token_count": len(ex.input_ids),
        "trained_count": sum(1 for label in kept.labels if label != IGNORE),
        "truncated_at": max_length if len(ex.input_ids) > max_length else None,
        "dropped": not trains_anything(kept),
    }


def first_difference(a: list[int], b: list[int]) -> int | None:
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return i
    return None if len(a) == len(b) else min(len(a), len(b))


def own_template(tokenizer: Any, setting: str, config_template: str | None) -> tuple[str, str | None]:
    """('same' | 'differs' | 'none', the tokenizer's own Jinja when it differs from the config's)."""
    own = getattr(tokenizer, "chat_template", None)
    if not isinstance(own, str) or not own:
        return "none", None
    if setting == "auto" or own == config_template:
        return "same", None
    return "differs", own


def _row_entry(
    index: int, raw: dict[str, Any], row: dict[str, Any], ctx: dict[str, Any], duplicate_of: int | None
) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "index": index,
        "content_hash": content_hash(raw),
        "duplicate_of": duplicate_of,
        "error": None,
        "rendering": None,
        "own_template": None,
    }
    tok, fmt, max_length, specials = ctx["tokenizer"], ctx["format"], ctx["max_length"], ctx["specials"]
    try:
        ex = row_example(row, index, tok, fmt, ctx["template"], ctx["train_on_prompt"], ctx["masking"])
        entry["rendering"] = rendering(ex, tok, max_length, specials)
    except DataError as error:
        entry["error"] = str(error)
        return entry
    if ctx["own"] is not None:
        try:
            other = row_example(row, index, tok, fmt, ctx["own"], ctx["train_on_prompt"], ctx["masking"])
            own = rendering(other, tok, max_length, specials)
            own["first_difference"] = first_difference(ex.input_ids, other.input_ids)
            entry["own_template"] = own
        except DataError as error:
            entry["own_template"] = {"error": str(error)}
    return entry


def _duplicates(rows: list[dict[str, Any]]) -> dict[int, int]:
    """Row index -> the earlier row it repeats (data.dedupe drops these in training)."""
    seen: dict[str, int] = {}
    out: dict[int, int] = {}
    for i, row in enumerate(rows):
        key = row_key(row)
        if key in seen:
            out[i] = seen[key]
        else:
            seen[key] = i
    return out


def _notes(plan: Any, own_state: str) -> list[str]:
    d = plan.data
    notes = []
    if d.strip_html:
        notes.append("data.strip_html: rows are shown after HTML is stripped, as the trainer reads them")
    if d.dedupe:
        notes.append("data.dedupe: a row that repeats an earlier one is dropped in training (duplicate_of says which)")
    if d.packing:
        notes.append(f"data.packing: training packs rows together up to max_length {d.max_length}; shown one by one")
    if own_state == "differs":
        notes.append(
            f"data.chat_template {d.chat_template if len(d.chat_template) < 40 else '(inline Jinja)'} differs from "
            "the template in the model's tokenizer_config.json: each row is also rendered with the model's own "
            "(own_template), which is what inference will use"
        )
    return notes


def build_report(plan: Any, tokenizer: Any, selection: Selection) -> dict[str, Any]:
    d = plan.data
    raw_rows = read_dataset(d.train)
    rows, _ = clean_rows(raw_rows, dedupe=False, html_strip=d.strip_html)
    template = chat_template_for(tokenizer, d.format, d.chat_template)
    own_state, own = own_template(tokenizer, d.chat_template, template) if d.format == "chat" else ("none", None)
    located = [{"line": n, "index": _located(d.train, n)} for n in selection.lines]
    asked = tuple(x["index"] for x in located if x["index"] is not None)
    first, sample = selected_indices(
        len(rows), Selection(selection.first, selection.sample, selection.seed, selection.rows + asked)
    )
    duplicates = _duplicates(rows) if d.dedupe else {}
    ctx = {
        "tokenizer": tokenizer,
        "format": d.format,
        "max_length": d.max_length,
        "specials": _special_ids(tokenizer),
        "template": template,
        "train_on_prompt": d.train_on_prompt,
        "masking": masking_of(d),
        "own": own,
    }
    entries = [_row_entry(i, raw_rows[i], rows[i], ctx, duplicates.get(i)) for i in sorted(set(first) | set(sample))]
    return {
        "dataset": d.train,
        "format": d.format,
        "total_rows": len(rows),
        "max_length": d.max_length,
        "train_on_prompt": d.train_on_prompt,
        "chat_template": d.chat_template if d.format == "chat" else None,
        "tokenizer_template": own_state,
        "tokenizer": plan.model.name_or_path,
        "seed": selection.seed,
        "first": first,
        "sample": sample,
        "notes": _notes(plan, own_state),
        "located": located,
        "rows": entries,
    }


def _located(path: str, line: int) -> int | None:
    try:
        return index_of_line(path, line) if "://" not in path else None
    except (OSError, UnicodeDecodeError, csv.Error):
        return None


def checked(report: dict[str, Any]) -> dict[str, Any]:
    found = schema_check.find_schema("preview.schema.json")
    if found is None:
        return report
    problems = schema_check.errors(schema_check.load_schema(found), report)
    if problems:
        raise PreviewReportError(f"the preview does not match {found.name}: {'; '.join(problems[:5])}")
    return report


def run(plan_path: Path, selection: Selection) -> int:
    """Prints the report (one JSON line) and returns 0; a plan, model or data problem is one line on stderr, exit 1."""
    from .modeling import ModelError, load_tokenizer
    from .plan import PlanError, read_plan

    if selection.first + selection.sample + len(selection.rows) > MAX_SELECTED:
        print(f"lora_lens_trainer preview: at most {MAX_SELECTED} rows at once (--rows + --sample)", file=sys.stderr)
        return 2
    try:
        plan = read_plan(plan_path)
        report = build_report(plan, load_tokenizer(plan), selection)
    except (PlanError, ModelError, DataError) as error:
        print(f"lora_lens_trainer preview: {error}", file=sys.stderr)
        return 1
    print(json.dumps(checked(report), ensure_ascii=False))
    return 0
