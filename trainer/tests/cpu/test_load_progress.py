"""`loading` events of the streaming NF4 load (model/load_progress.py): the reporter's phases and pacing, and the real
trainer process on a tiny model saved as several shards, whose events validate against schemas/events.schema.json
(LORA_LENS_VALIDATE_EVENTS=1 in the child, and again here) and come before the start event."""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch", reason="the loader is torch code")

from lora_lens_trainer import schema_check  # noqa: E402
from lora_lens_trainer.model.load_progress import EVERY_ENV, LoadReport  # noqa: E402
from tests.plans import make_plan  # noqa: E402


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_reporter_sends_start_at_most_one_progress_a_second_and_done(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv(EVERY_ENV, raising=False)
    got: list[dict] = []
    clock = Clock()
    report = LoadReport("org/model", lambda **fields: got.append(fields), clock)
    report.start(4, 400)
    for i, dt in enumerate((0.4, 0.7, 0.2, 0.1), start=1):  # 0.4 s: too soon; 1.1 s: sent; 0.2 s: too soon; last
        clock.now += dt
        report(i, 4, 100 * i, 400)
    assert [(e["phase"], e["tensors_done"], e["loaded_bytes"]) for e in got] == [
        ("start", 0, 0),
        ("progress", 2, 200),
        ("done", 4, 400),
    ]
    assert all(e["model"] == "org/model" and e["tensors_total"] == 4 and e["total_bytes"] == 400 for e in got)


def test_a_bad_pacing_value_falls_back_to_one_second(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture):
    monkeypatch.setenv(EVERY_ENV, "soon")
    assert LoadReport("m", None).every_s == 1.0
    assert "LORA_LENS_LOADING_EVENT_EVERY_S='soon' is not a number of seconds" in caplog.text


def _sharded_model(folder: Path) -> Path:
    from transformers import AutoModelForCausalLM

    from tests.tiny_model import build_model_dir

    build_model_dir(folder)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.bfloat16)
    for old in folder.glob("model*.safetensors"):
        old.unlink()
    model.save_pretrained(folder, safe_serialization=True, max_shard_size="200KB")
    assert len(list(folder.glob("model-*.safetensors"))) >= 3
    return folder


def test_the_trainer_reports_the_streaming_load_as_loading_events(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from tests.cpu.trainer_process import train, write_plan
    from tests.tiny_model import chat_rows, write_jsonl

    model_dir = _sharded_model(tmp_path / "model")
    train_file = write_jsonl(tmp_path / "train.jsonl", chat_rows(8))
    run_dir = tmp_path / "run"
    plan = make_plan(str(model_dir), str(train_file), method="qlora", out=str(tmp_path / "out"), training__max_steps=1)
    write_plan(run_dir, plan)
    monkeypatch.setenv(EVERY_ENV, "0")  # a progress event after every tensor: the model loads in milliseconds
    code, events, stderr = train(run_dir)
    assert code == 0, stderr
    schema = schema_check.load_schema(schema_check.find_events_schema())
    loading = [e for e in events if e["event"] == "loading"]
    for event in loading:
        assert schema_check.errors(schema, event) == [], event
    names = [e["event"] for e in events]
    assert names.index("start") > max(i for i, n in enumerate(names) if n == "loading"), names
    assert [e["phase"] for e in loading] == ["start"] + ["progress"] * (len(loading) - 2) + ["done"]
    total, tensors = loading[0]["total_bytes"], loading[0]["tensors_total"]
    assert len(loading) - 1 == tensors  # start, then one event per tensor (the last one is done)
    assert loading[-1]["loaded_bytes"] == total and loading[-1]["tensors_done"] == tensors
    done = [e["loaded_bytes"] for e in loading]
    assert done == sorted(done) and done[0] == 0
    # The checkpoint's bytes: every tensor of every shard, headers aside.
    shards = sum(p.stat().st_size for p in model_dir.glob("model-*.safetensors"))
    assert 0.9 * shards < total <= shards
