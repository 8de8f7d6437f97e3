"""Stop, kill and resume the real trainer on the CPU (a tiny Llama built here, real torch): the resumed run's loss
sequence and final adapter are bit-identical to an uninterrupted run's, after SIGTERM (with a second signal while
the stop checkpoint is written) and after SIGKILL, for LoRA with dropout and for QLoRA (built-in NF4) with
packing; a damaged newest checkpoint falls back to the previous one and says so; a changed dataset is refused
unless --resume-anyway; a stop at the last step still exports."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

torch = pytest.importorskip("torch", reason="the lifecycle tests run the real trainer: they need torch (CPU is enough)")
pytest.importorskip("transformers", reason="the lifecycle tests need transformers")
pytest.importorskip("peft", reason="the lifecycle tests merge through peft")

from tests.cpu.trainer_process import losses, signal_at_step, train, train_until, write_plan  # noqa: E402
from tests.plans import make_plan  # noqa: E402
from tests.tiny_model import build_model_dir, chat_rows, write_jsonl  # noqa: E402

STEPS, SAVE_EVERY = 20, 5


@pytest.fixture(scope="module")
def assets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("lifecycle")
    return {
        "root": root,
        "model": build_model_dir(root / "tiny-llama", hidden=64, layers=2),
        "train": write_jsonl(root / "train.jsonl", chat_rows(32)),
    }


def plan_for(assets: dict[str, Path], method: str, **overrides: object) -> dict:
    lora = {
        "r": 8,
        "lora_alpha": 16,
        "lora_dropout": 0.1 if method == "lora" else 0.0,
        "target_modules": "all-linear",
        "bias": "none",
        "use_rslora": False,
        "use_dora": False,
    }
    settings: dict = {
        "training__max_steps": STEPS,
        "training__save_steps": SAVE_EVERY,
        "training__learning_rate": 3e-3,
        "training__lr_scheduler_type": "cosine",
        "training__warmup_steps": 3,
        "data__packing": method == "qlora",
        "data__max_length": 128,
    }
    plan = make_plan(str(assets["model"]), str(assets["train"]), method=method, lora=lora, **{**settings, **overrides})
    plan["output"] = {
        "dir": str(assets["root"]),
        "merge": False,
        "merge_dtype": "bfloat16",
        "merge_base": "dequantized",
        "safe_serialization": True,
    }
    return plan


@pytest.fixture(scope="module")
def reference(assets: dict[str, Path]) -> dict[str, Path]:
    """An uninterrupted run per method: what every interrupted run must reproduce exactly."""
    out = {}
    for method in ("lora", "qlora"):
        run_dir = assets["root"] / f"reference-{method}"
        write_plan(run_dir, plan_for(assets, method))
        rc, events, stderr = train(run_dir)
        assert rc == 0, stderr[-3000:]
        assert events[-1]["status"] == "completed" and sorted(losses(events)) == list(range(1, STEPS + 1))
        out[method] = run_dir
    return out


def _adapter_bytes(run_dir: Path) -> bytes:
    return (run_dir / "adapter" / "adapter_model.safetensors").read_bytes()


def _assert_same_run(run_dir: Path, reference_dir: Path, events: list[dict]) -> None:
    from tests.cpu.trainer_process import read_events

    expected = losses(read_events(reference_dir))
    got = losses(events)
    assert sorted(got) == list(range(1, STEPS + 1))
    different = {s: (got[s], expected[s]) for s in expected if got[s] != expected[s]}
    assert different == {}, f"steps whose loss differs from the uninterrupted run: {different}"
    assert _adapter_bytes(run_dir) == _adapter_bytes(reference_dir)


def _sigterm_twice(at: int):
    """SIGTERM at a step; a second SIGTERM as soon as the stop checkpoint is announced (`saving`)."""
    state = {"first": False}

    def act(event: dict, proc: subprocess.Popen) -> bool:
        if not state["first"] and event["event"] == "step" and event["step"] >= at:
            proc.send_signal(signal.SIGTERM)
            state["first"] = True
        elif state["first"] and event["event"] == "saving":
            proc.send_signal(signal.SIGTERM)
            return True
        return False

    return act


@pytest.mark.parametrize("method, first_signal", [("lora", "sigterm"), ("qlora", "sigkill")])
def test_resume_after_sigterm_and_sigkill_is_bit_exact(assets, reference, tmp_path, method, first_signal):
    run_dir = tmp_path / "run"
    write_plan(run_dir, plan_for(assets, method))
    # LoRA: SIGTERM (and a second one while saving), then SIGKILL mid-resume. QLoRA: the other way round.
    stages = [_sigterm_twice(7), signal_at_step(13, signal.SIGKILL)]
    if first_signal == "sigkill":
        stages = [signal_at_step(8, signal.SIGKILL), _sigterm_twice(13)]
    rc, events, stderr = train_until(run_dir, stages[0])
    assert (rc == 0) == (first_signal == "sigterm"), stderr[-3000:]
    if first_signal == "sigterm":
        end = events[-1]
        assert end["event"] == "end" and end["status"] == "stopped" and end["adapter_path"] is None
        saved = [e["step"] for e in events if e["event"] == "checkpoint"]
        assert saved[-1] == end["step"], "the stop checkpoint was not written"
    else:
        assert rc == -signal.SIGKILL and events[-1]["event"] != "end"
    rc, events, stderr = train_until(run_dir, stages[1], "--resume")
    assert rc in (0, -signal.SIGKILL), stderr[-3000:]
    rc, events, stderr = train(run_dir, "--resume")
    assert rc == 0, stderr[-3000:]
    starts = [e for e in events if e["event"] == "start"]
    assert len(starts) == 3 and all(s["resumed_from_step"] for s in starts[1:])
    assert events[-1]["status"] == "completed" and events[-1]["adapter_path"]
    assert not list((run_dir / "checkpoints").glob(".*tmp*")), "a half-written checkpoint was left behind"
    _assert_same_run(run_dir, reference[method], events)


def _copy_run(source: Path, target: Path) -> Path:
    shutil.copytree(source, target)
    return target


def test_a_damaged_newest_checkpoint_falls_back_to_the_previous_with_a_warning(reference, tmp_path):
    run_dir = _copy_run(reference["lora"], tmp_path / "run")
    newest = run_dir / "checkpoints" / f"step-{STEPS - SAVE_EVERY:07d}"
    weights = newest / "trainable.safetensors"
    data = bytearray(weights.read_bytes())
    data[-64:] = bytes(64)  # same size, different content: only the stored hash can tell
    weights.write_bytes(bytes(data))
    rc, events, stderr = train(run_dir, "--resume")
    assert rc == 0, stderr[-3000:]
    warning = next(e for e in events if e["event"] == "warning" and e.get("kind") == "checkpoint")
    assert newest.name in warning["message"] and "damaged" in warning["message"]
    assert f"step-{STEPS - 2 * SAVE_EVERY:07d}" in warning["message"]
    start = [e for e in events if e["event"] == "start"][-1]
    assert start["resumed_from_step"] == STEPS - 2 * SAVE_EVERY
    # Set aside for inspection; the resumed run then wrote a good step-15 of its own.
    assert newest.with_name(newest.name + ".damaged").is_dir()
    after = events[events.index(start) + 1 :]
    assert [e["step"] for e in after if e["event"] == "step"] == list(range(STEPS - 2 * SAVE_EVERY + 1, STEPS + 1))
    _assert_same_run(run_dir, reference["lora"], events)


def test_resume_is_refused_on_a_changed_dataset_or_plan_unless_resume_anyway(assets, reference, tmp_path):
    run_dir = _copy_run(reference["lora"], tmp_path / "run")
    plan = json.loads((run_dir / "plan.json").read_text())
    plan["training"]["learning_rate"] = 1e-3  # locked: changes what is learned
    plan["training"]["logging_steps"] = 2  # free on resume: not reported
    (run_dir / "plan.json").write_text(json.dumps(plan))
    original = assets["train"].read_bytes()
    try:
        assets["train"].write_bytes(original + (json.dumps(chat_rows(33)[-1]) + "\n").encode())
        rc, events, _ = train(run_dir, "--resume")
        assert rc == 1
        error = [e for e in events if e["event"] == "error"][-1]
        assert error["kind"] == "config" and "--resume refused" in error["message"]
        assert f"data.train {assets['train']} changed since the checkpoint" in error["message"], error
        assert "training.learning_rate: 0.003 -> 0.001" in error["message"] and "logging_steps" not in error["message"]
        assert any("--resume-anyway" in a for a in error["advice"])
        assert events[-1]["status"] == "failed"
        rc, events, stderr = train(run_dir, "--resume-anyway")
        assert rc == 0, stderr[-3000:]
        assert any(e["event"] == "warning" and "--resume-anyway" in e["message"] for e in events)
        assert events[-1]["status"] == "completed"
    finally:
        assets["train"].write_bytes(original)


def test_a_stop_at_the_last_step_still_exports(assets, tmp_path):
    run_dir = tmp_path / "run"
    # One long step (8 accumulated micro-batches): the SIGTERM sent on `start` lands inside it.
    write_plan(run_dir, plan_for(assets, "lora", training__max_steps=1, training__gradient_accumulation_steps=8))

    def act(event: dict, proc: subprocess.Popen) -> bool:
        if event["event"] == "start":
            proc.send_signal(signal.SIGTERM)
            return True
        return False

    rc, events, stderr = train_until(run_dir, act)
    assert rc == 0, stderr[-3000:]
    end = events[-1]
    assert end["status"] == "completed" and end["step"] == 1 and Path(end["adapter_path"]).is_dir()
    assert "stop requested at the last step" in (run_dir / "trainer.log").read_text()
