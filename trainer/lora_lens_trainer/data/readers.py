"""Rows from .jsonl, .json, .csv and .parquet files, or a Hugging Face Hub dataset (hub.py), as a list of dicts."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any


class DataError(ValueError):
    """The dataset cannot be used as the plan says; the message names the file and, where it can, the row."""


def read_dataset(ref: str | Path) -> list[dict[str, Any]]:
    """The rows a plan's data.train or data.eval names: a local file, or `hf://datasets/<owner>/<name>[?...]`
    read through Hugging Face's datasets library (hub.py). Training, the dry run and the preview all read here."""
    if isinstance(ref, str) and ref.startswith("hf://datasets/"):
        from .hub import read_hub_dataset

        return read_hub_dataset(ref)
    return read_rows(ref)


def read_rows(path: str | Path) -> list[dict[str, Any]]:
    p = Path(path)
    if not p.is_file():
        raise DataError(f"{p}: no such file")
    suffix = p.suffix.lower()
    try:
        if suffix == ".jsonl":
            return _read_jsonl(p)
        if suffix == ".json":
            return _read_json(p)
        if suffix == ".csv":
            with open(p, newline="", encoding="utf-8-sig") as fh:
                return [dict(row) for row in csv.DictReader(fh)]
    except UnicodeDecodeError as error:
        raise _not_utf8(p) from error
    if suffix == ".parquet":
        try:
            import pyarrow.parquet as pq
        except ImportError as error:
            raise DataError(f"{p}: reading .parquet needs pyarrow (pip install pyarrow)") from error
        return pq.read_table(p).to_pylist()
    raise DataError(f"{p}: unsupported extension {suffix!r} (use .jsonl, .json, .csv or .parquet)")


def _not_utf8(p: Path) -> DataError:
    """The first line that is not UTF-8, found again byte line by byte line: the text reader decodes in chunks, so
    its error says neither the line nor the column."""
    with open(p, "rb") as fh:
        for number, raw in enumerate(fh, 1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as error:
                return DataError(
                    f"{p}:{number}: not UTF-8 text (byte 0x{raw[error.start]:02x} at column {error.start + 1}); "
                    "save the file as UTF-8 (for example: iconv -f latin1 -t utf-8)"
                )
    return DataError(f"{p}: not UTF-8 text; save the file as UTF-8 (for example: iconv -f latin1 -t utf-8)")


def _read_jsonl(p: Path) -> list[dict[str, Any]]:
    rows = []
    with open(p, encoding="utf-8-sig") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as error:
                raise DataError(f"{p}:{number}: not JSON ({error.msg})") from error
            if not isinstance(row, dict):
                raise DataError(f"{p}:{number}: each line must be a JSON object")
            rows.append(row)
    return rows


def _read_json(p: Path) -> list[dict[str, Any]]:
    try:
        value = json.loads(p.read_text(encoding="utf-8-sig"))
    except json.JSONDecodeError as error:
        raise DataError(f"{p}: not JSON ({error.msg} at line {error.lineno})") from error
    # Both a bare list of rows and the {"data": [...]} wrapper that some exporters write are common.
    if isinstance(value, dict) and isinstance(value.get("data"), list):
        value = value["data"]
    if not isinstance(value, list) or not all(isinstance(r, dict) for r in value):
        raise DataError(f'{p}: expected a list of objects (or {{"data": [...]}})')
    return value
