"""The GPU suite: real training runs of a tiny Llama model built in the test, through the trainer's CLI.

Skips (with the reason) where torch or CUDA is absent, as in CI. On an H100 it takes about two minutes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

torch = pytest.importorskip(
    "torch", reason="the GPU suite needs torch (pip install torch transformers peft safetensors)"
)
if not torch.cuda.is_available():
    pytest.skip("the GPU suite needs a CUDA GPU; none is visible here", allow_module_level=True)
pytest.importorskip("transformers")
pytest.importorskip("peft")

from lora_lens_trainer import schema_check  # noqa: E402
from tests.plans import make_plan  # noqa: E402
from tests.tiny_model import build_model_dir, chat_rows, write_jsonl  # noqa: E402

TRAINER_DIR = Path(__file__).resolve().parents[2]
SCHEMA = schema_check.load_schema(schema_check.find_events_schema())


@pytest.fixture(scope="session")
def assets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("assets")
    model = build_model_dir(root / "tiny-llama")
    train = write_jsonl(root / "train.jsonl", chat_rows(32))
    evals = write_jsonl(root / "eval.jsonl", chat_rows(8))
    return {"model": model, "train": train, "eval": evals, "root": root}


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"PYTHONPATH": str(TRAINER_DIR), "PYTHONUNBUFFERED": "1", "LORA_LENS_VALIDATE_EVENTS": "1"}, **extra)
    return env


def _cmd(run_dir: Path, resume: bool = False) -> list[str]:
    cmd = [
        sys.executable,
        "-m",
        "lora_lens_trainer",
        "run",
        "--plan",
        str(run_dir / "plan.json"),
        "--run-dir",
        str(run_dir),
    ]
    return cmd + (["--resume"] if resume else [])


def _write_plan(run_dir: Path, plan: dict) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "plan.json").write_text(json.dumps(plan))


def read_events(run_dir: Path) -> list[dict]:
    events = [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines() if line.strip()]
    for event in events:
        assert schema_check.errors(SCHEMA, event) == [], event
    return events


def train(run_dir: Path, plan: dict, resume: bool = False, **env: str) -> tuple[int, list[dict], str]:
    if not resume:
        _write_plan(run_dir, plan)
    proc = subprocess.run(
        _cmd(run_dir, resume), cwd=TRAINER_DIR, env=_env(**env), capture_output=True, text=True, timeout=600
    )
    return proc.returncode, read_events(run_dir), proc.stderr


def losses(events: list[dict]) -> dict[int, float]:
    return {e["step"]: e["loss"] for e in events if e["event"] == "step"}


# LoRA on a random base learns slower than full fine-tuning: a larger step, and a lower bar for how far it falls.
@pytest.mark.parametrize("method, lr, fraction", [("full", 1e-3, 0.35), ("lora", 1e-2, 0.6), ("qlora", 1e-2, 0.6)])
def test_loss_falls_on_a_memorizable_set(assets, tmp_path, method, lr, fraction):
    plan = make_plan(
        str(assets["model"]),
        str(assets["train"]),
        method=method,
        eval_path=str(assets["eval"]),
        training__learning_rate=lr,
        training__max_steps=60,
        training__eval_steps=30,
        training__gradient_checkpointing=method != "full",
        training__warmup_steps=5,
    )
    rc, events, stderr = train(tmp_path / method, plan)
    assert rc == 0, stderr[-3000:]
    start = events[0]
    assert start["event"] == "start" and start["method"] == method and start["total_steps"] == 60
    if method == "qlora":
        assert start["quantization_backend"] in ("builtin-nf4", "bitsandbytes")
    seq = losses(events)
    first, last = seq[1], sum(seq[s] for s in range(56, 61)) / 5
    assert last < fraction * first, (method, first, last)
    evals = [e for e in events if e["event"] == "eval"]
    assert len(evals) == 2 and evals[1]["eval_loss"] < evals[0]["eval_loss"]
    assert events[-1]["event"] == "end" and events[-1]["status"] == "completed"
    out = tmp_path / method / ("model" if method == "full" else "adapter")
    assert (out / ("model.safetensors" if method == "full" else "adapter_model.safetensors")).is_file()
    step = next(e for e in events if e["event"] == "step")
    assert step["peak_allocated_bytes"] > 0 and step["tokens_per_second"] > 0


def test_stop_then_resume_gives_the_uninterrupted_loss_sequence(assets, tmp_path):
    plan = make_plan(
        str(assets["model"]),
        str(assets["train"]),
        training__max_steps=200,
        training__learning_rate=1e-3,
        training__gradient_accumulation_steps=2,
        training__per_device_train_batch_size=2,
        training__save_steps=1000,
        training__lr_scheduler_type="cosine",
        training__warmup_steps=10,
        data__group_by_length=True,
        lora={
            "r": 8,
            "lora_alpha": 16,
            "lora_dropout": 0.1,
            "target_modules": "all-linear",
            "bias": "none",
            "use_rslora": False,
            "use_dora": False,
        },
    )
    rc, full_events, stderr = train(tmp_path / "whole", plan)
    assert rc == 0, stderr[-3000:]
    reference = losses(full_events)

    run_dir = tmp_path / "interrupted"
    _write_plan(run_dir, plan)
    proc = subprocess.Popen(
        _cmd(run_dir), cwd=TRAINER_DIR, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.time() + 300
    while time.time() < deadline:
        line = proc.stdout.readline()
        if line.startswith("{") and json.loads(line).get("event") == "step" and json.loads(line)["step"] >= 20:
            proc.send_signal(signal.SIGINT)
            break
    proc.communicate(timeout=300)
    assert proc.returncode == 0
    first = read_events(run_dir)
    end = first[-1]
    assert end["event"] == "end" and end["status"] == "stopped", end
    stopped_at = end["step"]
    assert 20 <= stopped_at < 200
    assert any(e["event"] == "checkpoint" and e["step"] == stopped_at for e in first)
    assert not list((run_dir / "checkpoints").glob(".*tmp*")), "a half-written checkpoint was left behind"

    rc, both, stderr = train(run_dir, plan, resume=True)
    assert rc == 0, stderr[-3000:]
    second_start = [e for e in both if e["event"] == "start"][1]
    assert second_start["resumed_from_step"] == stopped_at
    combined = losses(both)
    assert sorted(combined) == list(range(1, 201))
    for step in range(1, 201):
        assert combined[step] == pytest.approx(reference[step], rel=2e-2, abs=2e-3), step


def test_merged_logits_match_the_adapter_model(assets, tmp_path):
    plan = make_plan(
        str(assets["model"]),
        str(assets["train"]),
        training__max_steps=30,
        training__learning_rate=3e-3,
        output={"dir": str(tmp_path), "merge": True, "merge_dtype": "float32", "safe_serialization": True},
    )
    run_dir = tmp_path / "run"
    rc, events, stderr = train(run_dir, plan)
    assert rc == 0, stderr[-3000:]
    report = json.loads((run_dir / "merged" / "merge_report.json").read_text())
    assert report["max_abs_logit_diff"] < 1e-3 * max(1.0, report["max_abs_logit"]), report
    # The adapter must have moved the model, or the comparison above proves nothing.
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(assets["model"], dtype=torch.float32).cuda()
    ids = torch.randint(0, base.config.vocab_size, (2, 24), device="cuda")
    with torch.no_grad():
        plain = base(input_ids=ids).logits
        adapted = PeftModel.from_pretrained(base, str(run_dir / "adapter")).eval()(input_ids=ids).logits
        merged = (
            AutoModelForCausalLM.from_pretrained(run_dir / "merged", dtype=torch.float32).cuda()(input_ids=ids).logits
        )
    assert (adapted - plain).abs().max() > 1e-2
    assert (adapted - merged).abs().max() < 1e-3 * max(1.0, float(adapted.abs().max()))


def test_out_of_memory_reports_an_oom_event_and_leaves_nothing_half_written(assets, tmp_path):
    long_rows = [{"text": " ".join(["capital city of a country"] * 400)} for _ in range(64)]
    data = write_jsonl(tmp_path / "long.jsonl", long_rows)
    plan = make_plan(
        str(assets["model"]),
        str(data),
        data__format="text",
        data__max_length=2048,
        training__per_device_train_batch_size=64,
        training__max_steps=5,
        training__save_steps=1,
    )
    run_dir = tmp_path / "oom"
    rc, events, stderr = train(run_dir, plan, LORA_LENS_GPU_MEMORY_LIMIT=str(256 * 1024**2))
    assert rc == 3, stderr[-3000:]
    error = next(e for e in events if e["event"] == "error")
    assert error["kind"] == "oom"
    assert error["memory"]["total_bytes"] > 0 and error["memory"]["peak_allocated_bytes"] > 0
    assert any("per_device_train_batch_size from 64 to 32" in a for a in error["advice"])
    assert any("gradient_checkpointing" in a for a in error["advice"])
    assert events[-1] == {**events[-1], "event": "end", "status": "failed"}
    assert not (run_dir / "adapter").exists()
    leftovers = [p for p in run_dir.rglob("*") if ".tmp" in p.name]
    assert leftovers == []


def test_a_bad_plan_fails_with_a_config_error(tmp_path):
    plan = make_plan("/nonexistent-model", "/nonexistent/train.jsonl")
    plan["training"]["learning_rate"] = "fast"
    rc, events, _ = train(tmp_path / "bad", plan)
    assert rc == 1
    assert events[0]["event"] == "error" and events[0]["kind"] == "config" and "learning_rate" in events[0]["message"]
    assert events[-1]["status"] == "failed"


def test_missing_model_is_a_model_error_naming_offline_mode(assets, tmp_path):
    plan = make_plan(str(tmp_path / "no-such-model"), str(assets["train"]))
    rc, events, _ = train(tmp_path / "missing", plan)
    assert rc == 1
    error = next(e for e in events if e["event"] == "error")
    assert error["kind"] == "model" and "never downloads" in error["message"]
