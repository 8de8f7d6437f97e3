"""A dataset that is not UTF-8 (a Latin-1 export, a stray byte) is a DataError naming the file, the line and the
byte, with what to do, for every text format readers.py reads: training, the dry run and the preview all print it
as their one line instead of a UnicodeDecodeError traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from lora_lens_trainer.data.readers import DataError, read_rows
from tests.plans import make_plan
from tests.tiny_model import build_tokenizer, chat_rows

TRAINER = Path(__file__).resolve().parents[2]
GOOD = json.dumps({"text": "plain words"}).encode()


@pytest.mark.parametrize(
    ("name", "content", "line"),
    [
        ("train.jsonl", GOOD + b"\n" + GOOD + b'\n{"text": "caf\xe9"}\n', 3),
        ("train.json", b'[{"text": "ok"},\n {"text": "caf\xe9"}]', 2),
        ("train.csv", b"text\nplain\ncaf\xe9 au lait\n", 3),
    ],
)
def test_a_latin1_byte_is_named_with_its_line(tmp_path: Path, name: str, content: bytes, line: int) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(DataError) as caught:
        read_rows(path)
    message = str(caught.value)
    assert message.startswith(f"{path}:{line}: not UTF-8"), message
    assert "0xe9" in message and "save the file as UTF-8" in message


def test_the_preview_says_it_in_one_line(tmp_path: Path) -> None:
    pytest.importorskip("tokenizers", reason="the preview tokenizes (bash scripts/setup-trainer-venv.sh installs it)")
    tok = tmp_path / "tok"
    tok.mkdir()
    build_tokenizer(tok, [m["content"] for r in chat_rows(8) for m in r["messages"]])
    data = tmp_path / "train.jsonl"
    data.write_bytes(b"\n".join(json.dumps(r).encode() for r in chat_rows(3)) + b'\n{"messages": "caf\xe9"}\n')
    plan_path = tmp_path / "plan.json"
    plan_path.write_text(json.dumps(make_plan(str(tok), str(data), data__chat_template="auto")), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "lora_lens_trainer", "preview", "--plan", str(plan_path)],
        cwd=TRAINER,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"lora_lens_trainer preview: {data}:4: not UTF-8 text (byte 0xe9 at column 18); save the file as UTF-8"
        " (for example: iconv -f latin1 -t utf-8)"
    ], done.stderr


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("train.jsonl", b'{"text": "a"}\r\n{"text": "b"}\r\n'),
        ("train.json", b'[{"text": "a"}, {"text": "b"}]'),
        ("train.csv", b"text\r\na\r\nb\r\n"),
    ],
)
def test_a_byte_order_mark_is_read_past_as_the_editor_does(tmp_path: Path, name: str, content: bytes) -> None:
    """Windows tools (Notepad, Excel's 'CSV UTF-8') start the file with a UTF-8 byte order mark. The editor's data
    check reads past it (core/data/inspect.ts stripBom); the trainer refused row 1 ('Unexpected UTF-8 BOM') or, in a
    CSV, named the first column '\\ufefftext', so the check passed and the run (and the preview) did not."""
    path = tmp_path / name
    path.write_bytes(b"\xef\xbb\xbf" + content)
    assert read_rows(path) == [{"text": "a"}, {"text": "b"}]
