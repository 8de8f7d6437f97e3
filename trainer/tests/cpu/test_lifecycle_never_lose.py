"""A run is never lost to what happens around it (issue 17), on the real trainer as a child process: the reader
of its stdout going away, a closed terminal's SIGHUP, a second trainer on the same folder, the model folder changed
before a resume, the run folder deleted mid-run. The child is frozen (SIGSTOP) while the test acts, so where an
action lands does not depend on how busy the machine is."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import IO

import pytest

pytest.importorskip("torch", reason="the lifecycle tests run the real trainer: they need torch (CPU is enough)")
pytest.importorskip("transformers", reason="the lifecycle tests need transformers")

from lora_lens_trainer import exit_codes  # noqa: E402
from lora_lens_trainer.lifecycle.run_folder import LOCK_FILE  # noqa: E402
from tests.cpu.trainer_process import (  # noqa: E402
    TIMEOUT_S,
    TRAINER_DIR,
    command,
    env,
    losses,
    read_events,
    train,
    write_plan,
)
from tests.plans import make_plan  # noqa: E402
from tests.tiny_model import build_model_dir, chat_rows, write_jsonl  # noqa: E402

STEPS = 12


@pytest.fixture(scope="module")
def assets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("never-lose")
    return {
        "root": root,
        "model": build_model_dir(root / "tiny-llama", hidden=32, layers=1),
        "train": write_jsonl(root / "train.jsonl", chat_rows(16)),
    }


def plan_for(assets: dict[str, Path], model: Path | None = None, **overrides: object) -> dict:
    lora = {
        "r": 4,
        "lora_alpha": 8,
        "lora_dropout": 0.0,
        "target_modules": "all-linear",
        "bias": "none",
        "use_rslora": False,
        "use_dora": False,
    }
    settings: dict = {
        "training__max_steps": STEPS,
        "training__save_steps": 4,
        "training__learning_rate": 3e-3,
        "training__warmup_steps": 0,
        "data__max_length": 64,
        **overrides,
    }
    plan = make_plan(str(model or assets["model"]), str(assets["train"]), method="lora", lora=lora, **settings)
    plan["output"] = {
        "dir": str(assets["root"]),
        "merge": False,
        "merge_dtype": "bfloat16",
        "merge_base": "dequantized",
        "safe_serialization": True,
    }
    return plan


def start(run_dir: Path, *flags: str) -> tuple[subprocess.Popen, IO[str]]:
    """The trainer with stdout to a pipe the test reads (and may close) and stderr to a file, read afterwards."""
    stderr = open(run_dir.parent / f"{run_dir.name}.stderr", "w+", encoding="utf-8")
    proc = subprocess.Popen(
        command(run_dir, *flags), cwd=TRAINER_DIR, env=env(), stdout=subprocess.PIPE, stderr=stderr, text=True
    )
    return proc, stderr


def act_at(proc: subprocess.Popen, when: Callable[[dict], bool], action: Callable[[], None]) -> list[dict]:
    """Reads stdout events until `when` holds, then runs `action` with the child frozen. Returns the events read."""
    seen = []
    assert proc.stdout is not None
    for line in proc.stdout:
        if not line.startswith("{"):
            continue
        seen.append(json.loads(line))
        if when(seen[-1]):
            proc.send_signal(signal.SIGSTOP)
            try:
                action()
            finally:
                proc.send_signal(signal.SIGCONT)
            return seen
    raise AssertionError(f"the trainer ended before the expected event; read {seen}")


def finish(proc: subprocess.Popen, stderr: IO[str]) -> tuple[int, str]:
    try:
        rc = proc.wait(timeout=TIMEOUT_S)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    stderr.seek(0)
    return rc, stderr.read()


def at_step(n: int) -> Callable[[dict], bool]:
    return lambda event: event["event"] == "step" and event["step"] >= n


def test_a_closed_stdout_reader_does_not_end_training(assets, tmp_path):
    run_dir = tmp_path / "run"
    write_plan(run_dir, plan_for(assets))
    proc, stderr = start(run_dir)
    assert proc.stdout is not None
    act_at(proc, at_step(1), proc.stdout.close)  # `| head`, or the CLI that started it killed
    rc, err = finish(proc, stderr)
    events = read_events(run_dir)
    assert rc == exit_codes.OK, err[-3000:]
    assert sorted(losses(events)) == list(range(1, STEPS + 1))
    assert [e["step"] for e in events if e["event"] == "checkpoint"] == [4, 8]
    assert events[-1]["event"] == "end" and events[-1]["status"] == "completed"
    assert "Traceback" not in err and "Exception ignored" not in err and "Logging error" not in err, err[-3000:]
    assert "the event echo on stdout failed" in (run_dir / "trainer.log").read_text()


def test_sighup_with_the_terminal_gone_writes_a_checkpoint_and_ends_stopped(assets, tmp_path):
    run_dir = tmp_path / "run"
    write_plan(run_dir, plan_for(assets))
    proc, stderr = start(run_dir)
    assert proc.stdout is not None

    def hang_up() -> None:
        proc.send_signal(signal.SIGHUP)
        proc.stdout.close()

    act_at(proc, at_step(2), hang_up)
    rc, err = finish(proc, stderr)
    events = read_events(run_dir)
    assert rc == exit_codes.OK, err[-3000:]
    end = events[-1]
    assert end["event"] == "end" and end["status"] == "stopped", end
    saved = [e["step"] for e in events if e["event"] == "checkpoint"]
    assert saved and saved[-1] == end["step"] < STEPS
    assert (run_dir / "checkpoints" / f"step-{end['step']:07d}" / "trainer_state.json").is_file()
    assert "SIGHUP received" in (run_dir / "trainer.log").read_text()


def _folder_listing(run_dir: Path) -> dict[str, bytes]:
    return {str(p.relative_to(run_dir)): p.read_bytes() if p.is_file() else b"" for p in sorted(run_dir.rglob("*"))}


def test_a_second_trainer_on_a_held_run_folder_exits_locked_and_writes_nothing(assets, tmp_path):
    run_dir = tmp_path / "run"
    write_plan(run_dir, plan_for(assets))
    first, first_err = start(run_dir)
    seen: dict[str, object] = {}

    def second_trainer() -> None:
        before = _folder_listing(run_dir)
        assert (run_dir / LOCK_FILE).read_text().strip() == str(first.pid)
        for flags in ((), ("--resume",)):
            proc = subprocess.run(
                command(run_dir, *flags), cwd=TRAINER_DIR, env=env(), capture_output=True, text=True, timeout=TIMEOUT_S
            )
            seen[f"rc{flags}"], seen[f"stderr{flags}"], seen[f"stdout{flags}"] = (
                proc.returncode,
                proc.stderr,
                proc.stdout,
            )
        seen["unchanged"] = _folder_listing(run_dir) == before

    act_at(first, at_step(5), second_trainer)
    assert first.stdout is not None
    first.stdout.read()
    rc, err = finish(first, first_err)
    for flags in ((), ("--resume",)):
        assert seen[f"rc{flags}"] == exit_codes.LOCKED == 4, seen
        message = str(seen[f"stderr{flags}"]).strip()
        assert (
            message.count("\n") == 0
            and f"the run folder {run_dir} is in use by another trainer (pid {first.pid})" in message
            and "--run-dir" in message
        ), message
        assert seen[f"stdout{flags}"] == ""
    assert seen["unchanged"], "the second trainer wrote into the held folder"
    assert rc == exit_codes.OK, err[-3000:]
    events = read_events(run_dir)
    assert [e["event"] for e in events].count("start") == 1
    assert [e["step"] for e in events if e["event"] == "step"] == list(range(1, STEPS + 1))
    assert events[-1]["status"] == "completed"
    # Let go at the end: empty, and free for the next trainer.
    assert (run_dir / LOCK_FILE).read_text() == ""


def test_resume_is_refused_when_the_base_model_changed_unless_resume_anyway(assets, tmp_path):
    model = build_model_dir(tmp_path / "model", hidden=32, layers=1)
    run_dir = tmp_path / "run"
    write_plan(run_dir, plan_for(assets, model, training__max_steps=6, training__save_steps=3))
    rc, events, err = train(run_dir)
    assert rc == exit_codes.OK, err[-3000:]
    shutil.rmtree(model)
    build_model_dir(model, hidden=32, layers=1, seed=1)  # same architecture and size, other weights
    rc, events, err = train(run_dir, "--resume")
    assert rc == exit_codes.FAILED, err[-3000:]
    error = [e for e in events if e["event"] == "error"][-1]
    assert error["kind"] == "config" and "--resume refused" in error["message"], error
    assert f"base model {model}: model.safetensors changed" in error["message"], error
    assert any("--resume-anyway" in a for a in error["advice"])
    assert events[-1]["status"] == "failed"
    rc, events, err = train(run_dir, "--resume-anyway")
    assert rc == exit_codes.OK, err[-3000:]
    assert any(
        e["event"] == "warning" and "--resume-anyway" in e["message"] and "model.safetensors" in e["message"]
        for e in events
    )
    assert events[-1]["status"] == "completed"


def test_deleting_the_run_folder_mid_run_fails_the_run_and_recreates_nothing(assets, tmp_path):
    run_dir = tmp_path / "run"
    write_plan(run_dir, plan_for(assets))
    proc, stderr = start(run_dir)
    written_before: list[int] = []

    def delete() -> None:
        # The child ran on between printing step 2 and its freeze, maybe through step 4's checkpoint: what
        # events.jsonl held then (written before stdout, event by event) was before the deletion.
        written_before.append(len((run_dir / "events.jsonl").read_text().splitlines()))
        shutil.rmtree(run_dir)

    read = act_at(proc, at_step(2), delete)
    assert proc.stdout is not None
    printed_after = [json.loads(line) for line in proc.stdout if line.startswith("{")]
    assert written_before[0] >= len(read), (written_before, read)
    later = printed_after[written_before[0] - len(read) :]
    rc, err = finish(proc, stderr)
    assert rc == exit_codes.FAILED, err[-3000:]
    assert f"the run folder {run_dir} was deleted while training; nothing more is written" in err
    assert not run_dir.exists(), f"recreated: {sorted(str(p) for p in run_dir.rglob('*'))}"
    assert later and later[-1]["event"] == "end" and later[-1]["status"] == "failed", later[-3:]
    assert not any(e["event"] in ("checkpoint", "saving") for e in later)
    assert os.listdir(tmp_path) == [run_dir.name + ".stderr"]
