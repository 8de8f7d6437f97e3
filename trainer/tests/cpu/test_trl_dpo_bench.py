"""trainer/bench/trl_dpo_gpu.py (issue 23's calibration against TRL + PEFT) end to end on the CPU with --tiny: the
script as a real process runs our trainer (child processes, as preference_gpu.py does) and then TRL 1.13's
DPOTrainer with PEFT on the two 7B cases (a tiny model of the same settings), the second case on the model the
first one left (the adapter unloaded). Catches the GPU call failing on a TRL or PEFT signature, the rows or the
table, before the device time is spent."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch", reason="the TRL bench runs real torch (CPU is enough)")
pytest.importorskip("trl", reason="the TRL bench runs TRL's DPOTrainer (pip install trl==1.13.0)")
pytest.importorskip("peft", reason="the TRL bench's LoRA side is PEFT")
pytest.importorskip("datasets", reason="TRL's DPOTrainer reads a datasets.Dataset")

TRAINER_DIR = Path(__file__).resolve().parents[2]
SCRIPT = TRAINER_DIR / "bench" / "trl_dpo_gpu.py"
TINY_MAX_LENGTH = 96


def run_script(*args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONUNBUFFERED="1", OMP_NUM_THREADS="1")
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], cwd=TRAINER_DIR, env=env, capture_output=True, text=True, timeout=600
    )


def test_tiny_run_measures_trl_and_ours_on_the_7b_cases(tmp_path: Path) -> None:
    proc = run_script("--tiny", "--out", str(tmp_path), "--cases", "7b-lora-dpo-b1,7b-lora-dpo-b2")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    rows = {r["name"]: r for r in json.loads((tmp_path / "trl_dpo_gpu.json").read_text())}
    assert list(rows) == ["7b-lora-dpo-b1", "7b-lora-dpo-b2"]
    for name, batch in (("7b-lora-dpo-b1", 1), ("7b-lora-dpo-b2", 2)):
        r = rows[name]
        assert r["steps"] == 12, r
        # TRL's own count of attended tokens: chosen and rejected rows that fill max_length, no padding, no cut.
        assert r["tokens_per_step"] == 2 * batch * TINY_MAX_LENGTH, r
        assert r["trl_tokens_per_second"] > 0
        assert math.isfinite(r["last_loss"]) and abs(r["last_loss"] - math.log(2)) < 0.05, r
        assert r["adapter_modules_left"] == 0, "the LoRA layers must be unloaded before the next case"
        assert r["ours_rc"] == 0 and r["ours_tokens_per_second"] > 0, r
    ours = {r["name"]: r for r in json.loads((tmp_path / "preference_gpu.json").read_text())}
    assert set(ours) == set(rows)
    assert "TRL tok/s" in proc.stdout and "7b-lora-dpo-b2" in proc.stdout.split("TRL tok/s")[-1]


def test_unknown_case_names_the_cases_it_knows(tmp_path: Path) -> None:
    proc = run_script("--tiny", "--out", str(tmp_path), "--cases", "7b-lora-dpo-b3")
    assert proc.returncode != 0
    assert "7b-lora-dpo-b3 not among the TRL cases" in proc.stderr and "7b-lora-dpo-b1" in proc.stderr, proc.stderr
