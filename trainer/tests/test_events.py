import json

import pytest

from lora_lens_trainer import schema_check
from lora_lens_trainer.events import EventSchemaError, EventWriter

SCHEMA = schema_check.load_schema(schema_check.find_events_schema())

STEP = dict(
    step=3,
    total_steps=10,
    epoch=0.3,
    loss=1.5,
    learning_rate=1e-4,
    grad_norm=0.7,
    tokens_per_second=1200.0,
    tokens_seen=4096,
    allocated_bytes=1e9,
    reserved_bytes=2e9,
    peak_allocated_bytes=1.5e9,
    device_used_bytes=2.5e9,
    elapsed_s=3.2,
    eta_s=7.0,
)


def test_every_kind_of_event_the_trainer_writes_conforms(tmp_path, monkeypatch):
    monkeypatch.setenv("LORA_LENS_VALIDATE_EVENTS", "1")
    writer = EventWriter(tmp_path / "events.jsonl")
    writer.emit(
        "start",
        run_id="r1",
        total_steps=10,
        num_train_rows=32,
        num_eval_rows=None,
        method="lora",
        model="/m",
        trainable_params=10,
        total_params=100,
        estimate_peak_bytes=None,
        gpu={"name": "H100", "memory_bytes": 8e10},
        quantization_backend="builtin-nf4",
        resumed_from_step=None,
    )
    writer.emit("step", **STEP)
    writer.emit("eval", step=3, eval_loss=1.2, elapsed_s=3.3)
    writer.emit("checkpoint", step=3, path="/runs/r1/checkpoints/step-0000003")
    writer.emit("warning", kind="data", message="2 rows truncated")
    writer.emit(
        "error",
        kind="oom",
        message="CUDA out of memory",
        step=3,
        advice=["lower batch"],
        memory={
            "allocated_bytes": 1.0,
            "reserved_bytes": 2.0,
            "peak_allocated_bytes": 3.0,
            "total_bytes": 4.0,
            "estimate_peak_bytes": None,
        },
    )
    writer.emit("end", status="failed", step=3, final_loss=1.5, elapsed_s=4.0, adapter_path=None)
    writer.close()
    lines = (tmp_path / "events.jsonl").read_text().splitlines()
    assert len(lines) == 7
    for line in lines:
        assert schema_check.errors(SCHEMA, json.loads(line)) == []


def test_a_non_conforming_event_is_refused_before_it_is_written(tmp_path, monkeypatch):
    monkeypatch.setenv("LORA_LENS_VALIDATE_EVENTS", "1")
    writer = EventWriter(tmp_path / "events.jsonl")
    bad = dict(STEP)
    del bad["grad_norm"]
    with pytest.raises(EventSchemaError, match="grad_norm"):
        writer.emit("step", **bad)
    with pytest.raises(EventSchemaError, match="status"):
        writer.emit("end", status="crashed", step=1)
    writer.close()
    assert (tmp_path / "events.jsonl").read_text() == ""


def test_non_finite_numbers_never_reach_the_stream(tmp_path):
    writer = EventWriter(tmp_path / "events.jsonl")
    writer.emit("eval", step=1, eval_loss=float("nan"))
    writer.close()
    assert json.loads((tmp_path / "events.jsonl").read_text())["eval_loss"] is None


@pytest.mark.parametrize(
    "event, problem",
    [
        ({"event": "step", "time": 1}, "missing required 'step'"),
        ({"event": "start", "time": "now"}, "expected number"),
        ({"event": "nope", "time": 1}, "is not one of"),
        ({"event": "end", "time": 1, "status": "completed", "step": -1}, "below the minimum"),
        ({"event": "error", "time": 1, "kind": "oom", "message": "m", "advice": [3]}, "expected string"),
    ],
)
def test_the_checker_catches_each_rule_it_implements(event, problem):
    assert any(problem in e for e in schema_check.errors(SCHEMA, event))


def test_the_checker_refuses_schema_keywords_it_does_not_implement():
    with pytest.raises(ValueError, match="format"):
        schema_check.errors({"type": "string", "format": "date"}, "a")
