"""Rows whose columns are not JSON (a parquet or Hub dataset's timestamp, bytes or date column beside the text):
data.dedupe and the preview's content hash and duplicate marks read them as training does, instead of a
TypeError traceback ('Object of type datetime is not JSON serializable')."""

from __future__ import annotations

import datetime
import json
import subprocess
import sys
from pathlib import Path

import pytest

from lora_lens_trainer.data.clean import clean_rows
from tests.plans import make_plan
from tests.tiny_model import build_tokenizer

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

TRAINER = Path(__file__).resolve().parents[2]
WHEN = [datetime.datetime(2024, 1, 1, 12), datetime.datetime(2024, 1, 1, 12), datetime.datetime(2024, 1, 2)]


def test_dedupe_reads_timestamps_and_bytes() -> None:
    rows = [{"text": "same", "when": WHEN[0], "blob": b"\x00"}, {"text": "same", "when": WHEN[1], "blob": b"\x00"}]
    rows.append({"text": "same", "when": WHEN[2], "blob": b"\x00"})
    kept, dropped = clean_rows(rows, dedupe=True, html_strip=False)
    assert dropped == 1 and [r["when"] for r in kept] == [WHEN[0], WHEN[2]]


def test_the_preview_shows_a_parquet_with_a_timestamp_column(tmp_path: Path) -> None:
    tok = tmp_path / "tok"
    tok.mkdir()
    build_tokenizer(tok, ["hello world", "plain words"])
    data = tmp_path / "rows.parquet"
    table = {"text": ["hello world", "hello world", "plain words"], "when": WHEN, "blob": [b"\x00", b"\x00", b"\xff"]}
    pq.write_table(pa.table(table), data)
    plan = make_plan(str(tok), str(data), data__format="text", data__dedupe=True)
    plan_path = tmp_path / "plan.json"
    plan_path.write_text(json.dumps(plan), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "lora_lens_trainer", "preview", "--plan", str(plan_path)],
        cwd=TRAINER,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    rows = json.loads(done.stdout)["rows"]
    assert [r["duplicate_of"] for r in rows] == [None, 0, None]
    assert rows[0]["content_hash"] == rows[1]["content_hash"] != rows[2]["content_hash"]
