"""Records a real event stream: the trainer on the tests' tiny model (eval, checkpoints, a completed end), for the
TypeScript side's fixtures. Usage: python trainer/bench/record_events.py OUT_DIR"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.plans import make_plan  # noqa: E402
from tests.tiny_model import build_model_dir, chat_rows, write_jsonl  # noqa: E402

out = Path(sys.argv[1]).resolve()
out.mkdir(parents=True, exist_ok=True)
model = build_model_dir(out / "tiny-llama")
train = write_jsonl(out / "train.jsonl", chat_rows(32))
evals = write_jsonl(out / "eval.jsonl", chat_rows(8))
run_dir = out / "run"
run_dir.mkdir(exist_ok=True)
plan = make_plan(
    str(model),
    str(train),
    eval_path=str(evals),
    training__max_steps=24,
    training__learning_rate=1e-2,
    training__eval_steps=8,
    training__save_steps=12,
    training__warmup_steps=3,
    training__lr_scheduler_type="cosine",
    training__gradient_checkpointing=True,
)
(run_dir / "plan.json").write_text(json.dumps(plan, indent=2))
env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]), LORA_LENS_VALIDATE_EVENTS="1")
rc = subprocess.call(
    [sys.executable, "-m", "lora_lens_trainer", "run", "--plan", str(run_dir / "plan.json"), "--run-dir", str(run_dir)],
    env=env,
)
print("exit", rc)
