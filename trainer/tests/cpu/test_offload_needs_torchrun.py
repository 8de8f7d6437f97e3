"""FSDP's CPU offload on one GPU runs only as a one-rank torchrun (lora-lens run starts it so, issue 21). The same
plan started as one plain process would train unwrapped, the whole model on the GPU, which is what the offload was
asked to avoid: the trainer refuses it with the command that works, before the model is loaded."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("torch", reason="the refusal is checked on the real trainer: it needs torch")
pytest.importorskip("transformers", reason="the real trainer needs transformers")

from tests.cpu.trainer_process import read_events, train, write_plan  # noqa: E402
from tests.plans import make_plan  # noqa: E402
from tests.tiny_model import build_model_dir, chat_rows, write_jsonl  # noqa: E402


def test_offload_in_one_plain_process_is_refused_with_the_torchrun_command(tmp_path: Path) -> None:
    model = build_model_dir(tmp_path / "tiny-llama", hidden=32, layers=1)
    rows = write_jsonl(tmp_path / "train.jsonl", chat_rows(8))
    plan = make_plan(
        str(model),
        str(rows),
        method="full",
        lora=None,
        precision="fp32",
        training__max_steps=2,
        hardware__num_gpus=1,
        hardware__distributed="fsdp",
        out=str(tmp_path),
    )
    plan["hardware"]["fsdp"] = {"offload_params": True}
    run_dir = tmp_path / "run"
    write_plan(run_dir, plan)
    code, events, stderr = train(run_dir)
    assert code != 0, stderr
    errors = [e for e in events if e["event"] == "error"]
    assert errors, events
    assert "hardware.fsdp.offload_params needs the trainer started by torchrun" in errors[0]["message"]
    assert "--nproc_per_node 1" in errors[0]["message"]
    assert not any(e["event"] in ("start", "step") for e in events), "refused before training"
    assert read_events(run_dir) == events

    # Without offload the same plan is one plain process, as before (the launch refuses it; the trainer runs it).
    plan["hardware"]["fsdp"] = {"offload_params": False}
    plain = tmp_path / "plain"
    write_plan(plain, plan)
    code, events, stderr = train(plain)
    assert code == 0, stderr
    assert events[-1]["event"] == "end" and events[-1]["status"] == "completed", events[-3:]
