"""The real trainer as a child process (`python -m lora_lens_trainer run`) on the CPU, for the lifecycle and merge
tests: plans on a tiny model built in the test, events read back and checked against the schema, signals sent
at chosen events. The child is frozen (SIGSTOP) while the test acts on an event, so where a signal lands does not
depend on how busy the machine is."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from lora_lens_trainer import schema_check

TRAINER_DIR = Path(__file__).resolve().parents[2]
SCHEMA = schema_check.load_schema(schema_check.find_events_schema())
TIMEOUT_S = 300


def env() -> dict[str, str]:
    out = dict(os.environ)
    # One thread: frugal on a shared machine, and the same reduction order in every process (bit-exact resume).
    out.update(
        {
            "PYTHONPATH": str(TRAINER_DIR),
            "PYTHONUNBUFFERED": "1",
            "LORA_LENS_VALIDATE_EVENTS": "1",
            "OMP_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
            "CUDA_VISIBLE_DEVICES": "",
        }
    )
    return out


def write_plan(run_dir: Path, plan: dict) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "plan.json").write_text(json.dumps(plan))


def command(run_dir: Path, *flags: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "lora_lens_trainer",
        "run",
        "--plan",
        str(run_dir / "plan.json"),
        "--run-dir",
        str(run_dir),
        *flags,
    ]


def read_events(run_dir: Path) -> list[dict]:
    events = [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines() if line.strip()]
    for event in events:
        assert schema_check.errors(SCHEMA, event) == [], event
    return events


def train(run_dir: Path, *flags: str) -> tuple[int, list[dict], str]:
    proc = subprocess.run(
        command(run_dir, *flags), cwd=TRAINER_DIR, env=env(), capture_output=True, text=True, timeout=TIMEOUT_S
    )
    return proc.returncode, read_events(run_dir), proc.stderr


def train_until(
    run_dir: Path, act: Callable[[dict, subprocess.Popen], bool], *flags: str
) -> tuple[int, list[dict], str]:
    """Runs the trainer; `act(event, proc)` is called on each event with the child frozen, and returns True once
    it is done acting (later events are only read). Returns (exit code, the folder's events, stderr)."""
    proc = subprocess.Popen(
        command(run_dir, *flags), cwd=TRAINER_DIR, env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    done = False
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if done or not line.startswith("{"):
                continue
            event = json.loads(line)
            proc.send_signal(signal.SIGSTOP)
            try:
                done = act(event, proc)
            finally:
                if proc.poll() is None:
                    proc.send_signal(signal.SIGCONT)
        _, stderr = proc.communicate(timeout=TIMEOUT_S)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, read_events(run_dir), stderr


def losses(events: list[dict]) -> dict[int, float]:
    """Loss per step; where a resumed run repeated steps (after a SIGKILL), the later value."""
    return {e["step"]: e["loss"] for e in events if e["event"] == "step"}


def signal_at_step(at: int, sig: int) -> Callable[[dict, subprocess.Popen], bool]:
    def act(event: dict, proc: subprocess.Popen) -> bool:
        if event["event"] == "step" and event["step"] >= at:
            proc.send_signal(sig)
            return True
        return False

    return act
