"""Optional cleaning: HTML stripped from text fields, exact duplicates dropped (first one kept)."""

from __future__ import annotations

import html
import json
import re
from typing import Any

_TAG = re.compile(r"<[^>]+>")
_SCRIPT = re.compile(r"<(script|style)\b[^>]*>.*?</\1\s*>", re.IGNORECASE | re.DOTALL)


def strip_html(text: str) -> str:
    without = _TAG.sub("", _SCRIPT.sub("", text))
    return html.unescape(without)


def _map_strings(value: Any, fn: Any) -> Any:
    if isinstance(value, str):
        return fn(value)
    if isinstance(value, list):
        return [_map_strings(v, fn) for v in value]
    if isinstance(value, dict):
        return {k: (v if k == "role" else _map_strings(v, fn)) for k, v in value.items()}
    return value


def row_key(row: dict[str, Any]) -> str:
    """A row's canonical JSON, its identity for data.dedupe and the preview's duplicate marks. A value JSON has no
    form for (a parquet or Hub dataset's timestamp, date or bytes column) is written as its str()."""
    return json.dumps(row, sort_keys=True, ensure_ascii=False, default=str)


def clean_rows(rows: list[dict[str, Any]], *, dedupe: bool, html_strip: bool) -> tuple[list[dict[str, Any]], int]:
    """The cleaned rows and how many duplicates were dropped."""
    if html_strip:
        rows = [_map_strings(r, strip_html) for r in rows]
    if not dedupe:
        return rows, 0
    seen: set[str] = set()
    kept = []
    for row in rows:
        key = row_key(row)
        if key not in seen:
            seen.add(key)
            kept.append(row)
    return kept, len(rows) - len(kept)
