"""`python -m lora_lens_trainer preview`: the rows rendered by the trainer's own data path, checked token by token
against tokenize_rows (what training feeds the model) with a real tokenizer built here; the report matches
schemas/preview.schema.json; a config template that differs from the model's own gets the second rendering."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from lora_lens_trainer import schema_check
from lora_lens_trainer.data.tokenize import IGNORE, tokenize_rows
from tests.plans import make_plan
from tests.tiny_model import build_tokenizer, chat_rows, write_jsonl

pytest.importorskip("tokenizers", reason="the preview tokenizes (bash scripts/setup-trainer-venv.sh installs it)")

TRAINER = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def tokenizer_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("tok")
    corpus = [m["content"] for r in chat_rows(32) for m in r["messages"]] + ["plain words for the text rows"] * 3
    build_tokenizer(folder, corpus)
    return folder


def _preview(tmp_path: Path, plan: dict, *args: str) -> tuple[int, dict | None, str]:
    plan_path = tmp_path / "plan.json"
    plan_path.write_text(json.dumps(plan), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "lora_lens_trainer", "preview", "--plan", str(plan_path), *args],
        cwd=TRAINER,
        capture_output=True,
        text=True,
        timeout=120,
    )
    report = json.loads(done.stdout) if done.returncode == 0 else None
    return done.returncode, report, done.stderr


def _schema_problems(report: dict) -> list[str]:
    found = schema_check.find_schema("preview.schema.json")
    assert found is not None
    return schema_check.errors(schema_check.load_schema(found), report)


def test_chat_rows_match_the_trainers_tokens_and_labels(tmp_path: Path, tokenizer_dir: Path) -> None:
    from transformers import AutoTokenizer

    rows = chat_rows(20)
    data = write_jsonl(tmp_path / "train.jsonl", rows)
    plan = make_plan(str(tokenizer_dir), str(data), data__chat_template="auto", data__max_length=24)
    code, report, stderr = _preview(tmp_path, plan, "--rows", "3", "--sample", "4", "--seed", "7")
    assert code == 0, stderr
    assert _schema_problems(report) == []
    assert report["first"] == [0, 1, 2] and len(report["sample"]) == 4
    assert report["tokenizer_template"] == "same"
    tok = AutoTokenizer.from_pretrained(tokenizer_dir)
    examples, _ = tokenize_rows(rows, tok, "chat", "auto", 10_000, train_on_prompt=False)
    for entry in report["rows"]:
        r = entry["rendering"]
        ex = examples[entry["index"]]
        assert r["token_count"] == len(ex.input_ids)
        assert r["ids"] == ex.input_ids[: 24 + 32]
        assert r["trained"] == [label != IGNORE for label in ex.labels[: len(r["ids"])]]
        assert r["truncated_at"] == (24 if len(ex.input_ids) > 24 else None)
        assert "<|im_start|>" in r["tokens"] and r["special"][r["tokens"].index("<|im_start|>")]
        trained_text = "".join(t for t, on in zip(r["text"], r["trained"]) if on)
        assert "capital" in trained_text and "What is" not in trained_text


def test_the_sample_is_reproducible_and_the_seed_changes_it(tmp_path: Path, tokenizer_dir: Path) -> None:
    data = write_jsonl(tmp_path / "train.jsonl", chat_rows(64))
    plan = make_plan(str(tokenizer_dir), str(data), data__chat_template="auto")
    samples = [_preview(tmp_path, plan, "--rows", "0", "--sample", "5", "--seed", s)[1]["sample"] for s in "113"]
    assert samples[0] == samples[1] and samples[0] != samples[2]


def test_a_named_template_that_differs_from_the_models_own_is_rendered_both_ways(
    tmp_path: Path, tokenizer_dir: Path
) -> None:
    data = write_jsonl(tmp_path / "train.jsonl", chat_rows(4))
    plan = make_plan(str(tokenizer_dir), str(data), data__chat_template="qwen2.5")
    code, report, stderr = _preview(tmp_path, plan, "--rows", "2")
    assert code == 0, stderr
    assert _schema_problems(report) == []
    assert report["tokenizer_template"] == "differs"
    # The rows carry their own system turn, so only the default-system insertion could differ: it does not here.
    row = report["rows"][0]
    assert row["own_template"] is not None and row["own_template"]["first_difference"] is None
    plan = make_plan(str(tokenizer_dir), str(data), data__chat_template="llama3")
    _code, report, _ = _preview(tmp_path, plan, "--rows", "1")
    own = report["rows"][0]["own_template"]
    assert own["first_difference"] == 0 and own["ids"] != report["rows"][0]["rendering"]["ids"]


def test_instruction_masking_train_on_prompt_and_dropped_rows(tmp_path: Path, tokenizer_dir: Path) -> None:
    rows = [
        {"prompt": "What is the capital of Peru? " * 8, "completion": "Lima."},
        {"prompt": "Hi", "completion": "Oslo."},
    ]
    data = write_jsonl(tmp_path / "train.jsonl", rows)
    plan = make_plan(str(tokenizer_dir), str(data), data__format="instruction", data__max_length=16)
    _code, report, _ = _preview(tmp_path, plan, "--rows", "2")
    long, short = (e["rendering"] for e in report["rows"])
    assert long["dropped"] and long["truncated_at"] == 16 and long["trained_count"] == 0
    assert not short["dropped"] and short["trained"][0] is False and short["trained"][-1] is True
    plan = make_plan(str(tokenizer_dir), str(data), data__format="instruction", data__train_on_prompt=True)
    _code, report, _ = _preview(tmp_path, plan, "--rows", "1")
    assert all(report["rows"][0]["rendering"]["trained"])


def test_a_bad_row_is_reported_on_the_row_and_a_missing_file_fails(tmp_path: Path, tokenizer_dir: Path) -> None:
    data = write_jsonl(tmp_path / "train.jsonl", [chat_rows(1)[0], {"messages": "not a list"}])
    plan = make_plan(str(tokenizer_dir), str(data), data__chat_template="auto")
    _code, report, _ = _preview(tmp_path, plan, "--rows", "2")
    assert report["rows"][1]["error"].startswith("row 1: 'messages' must be")
    plan = make_plan(str(tokenizer_dir), str(tmp_path / "absent.jsonl"))
    code, report, stderr = _preview(tmp_path, plan)
    assert code == 1 and report is None and "absent.jsonl: no such file" in stderr


def test_a_file_line_maps_to_the_row_index_the_reader_counts(tmp_path: Path) -> None:
    from lora_lens_trainer.data.readers import read_rows
    from lora_lens_trainer.preview import index_of_line

    jsonl = tmp_path / "rows.jsonl"
    jsonl.write_text('{"text": "a"}\n\n{"text": "b"}\n{"text": "c"}\n', encoding="utf-8")
    assert [index_of_line(str(jsonl), n) for n in (1, 2, 3, 4, 5)] == [0, None, 1, 2, None]
    assert read_rows(jsonl)[2] == {"text": "c"}
    csv_file = tmp_path / "rows.csv"
    csv_file.write_text('text,label\n"two\nlines",x\nplain,y\n', encoding="utf-8")
    assert [index_of_line(str(csv_file), n) for n in (1, 2, 3, 4)] == [None, 0, None, 1]
    assert read_rows(csv_file)[1]["text"] == "plain"
