#!/usr/bin/env bash
# "Run Fine-Tune" end to end through the CLI on a GPU, once: the real trainer on a tiny Llama model directory
# (built here by the GPU tests' helper, trainer/tests/tiny_model.py), a small chat jsonl, a *.finetune.yaml
# written here, then `lora-lens doctor` and `lora-lens run CONFIG` exactly as a user types them.
#
# Needs: dist/ (npm run build) and node (on PATH, or .carry/node.xz: this machine's node, xz-compressed, for a GPU
# machine without one). Writes under $OUT (default: a temporary folder): doctor.txt, terminal.txt (the progress
# bar as a terminal shows it, through `script`), events.jsonl, plan.json, trainer.log, summary.json,
# config.finetune.yaml, estimate.txt (8 files: what a device call brings back).
#
#   OUT=/tmp/e2e bash trainer/bench/e2e_cli_gpu.sh
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${OUT:-$(mktemp -d)}
mkdir -p "$OUT"
cd "$ROOT" || exit 1
T0=$(date +%s.%N)

NODE=$(command -v node || true)
if [ -z "$NODE" ]; then
  NODE=/tmp/lora-lens-node/node
  mkdir -p /tmp/lora-lens-node
  python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' .carry/node.xz "$NODE" || exit 1
  chmod +x "$NODE"
fi
echo "node $("$NODE" --version) at $NODE"
[ -f dist/cli.js ] || { echo "dist/cli.js is missing: npm run build first"; exit 1; }

WORK=$(mktemp -d /tmp/lora-lens-e2e-XXXX)
# The tiny model and the data: the GPU tests' helper, so the real from_pretrained path runs with no download.
python3 - "$WORK" <<'EOF' || exit 1
import sys
from pathlib import Path
sys.path.insert(0, "trainer")
from tests.tiny_model import build_model_dir, chat_rows, write_jsonl
work = Path(sys.argv[1])
build_model_dir(work / "tiny-llama")
(work / "data").mkdir()
write_jsonl(work / "data" / "train.jsonl", chat_rows(32))
write_jsonl(work / "data" / "eval.jsonl", chat_rows(8))
print("tiny model and data in", work)
EOF

CONFIG="$WORK/tiny-llama-lora.finetune.yaml"
cat > "$CONFIG" <<EOF
# LoRA on a tiny random Llama: the memorizable capitals set, 48 steps (each logged), eval every 8, a checkpoint at 24.
model: $WORK/tiny-llama
method: lora
precision: bf16-true
lora:
  r: 8
  lora_alpha: 16
  target_modules: all-linear
data:
  train: data/train.jsonl
  eval: data/eval.jsonl
  format: chat
  max_length: 256
training:
  learning_rate: 1.0e-2
  per_device_train_batch_size: 4
  gradient_accumulation_steps: 1
  max_steps: 48
  warmup_steps: 3
  lr_scheduler_type: cosine
  gradient_checkpointing: true
  eval_steps: 8
  save_steps: 24
  logging_steps: 1
EOF
cp "$CONFIG" "$OUT/config.finetune.yaml"

"$NODE" bin/lora-lens.js doctor > "$OUT/doctor.txt" 2>&1
echo "doctor exit $?" >> "$OUT/doctor.txt"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader >> "$OUT/doctor.txt" 2>&1
cat "$OUT/doctor.txt"
"$NODE" bin/lora-lens.js estimate "$CONFIG" > "$OUT/estimate.txt" 2>&1
cat "$OUT/estimate.txt"

# The run, through a pseudo-terminal so the progress bar draws as a user sees it (redrawn in place with \r).
cd "$WORK" || exit 1
START=$(date +%s.%N)
if command -v script > /dev/null; then
  COLUMNS=140 script -qefc "stty cols 140 2>/dev/null; '$NODE' '$ROOT/bin/lora-lens.js' run '$CONFIG'" "$OUT/terminal.txt" > /dev/null
  RC=$?
else
  "$NODE" "$ROOT/bin/lora-lens.js" run "$CONFIG" > "$OUT/terminal.txt" 2>&1
  RC=$?
fi
END=$(date +%s.%N)
cd "$ROOT" || exit 1
echo "lora-lens run exit $RC"
tr '\r' '\n' < "$OUT/terminal.txt" | grep -v '^$' | tail -20

RUN_DIR=$(grep -a -m1 '^run folder: ' "$OUT/terminal.txt" | sed 's/^run folder: //' | tr -d '\r')
echo "run folder: $RUN_DIR"
ls -la "$RUN_DIR" 2>&1
for f in events.jsonl plan.json trainer.log; do cp "$RUN_DIR/$f" "$OUT/" 2>/dev/null || echo "no $f"; done
python3 - "$OUT" "$RUN_DIR" "$WORK" "$RC" "$START" "$END" "$T0" <<'EOF'
import json, sys, time
from pathlib import Path
out, run_dir, work, rc, start, end, t0 = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4]), *map(float, sys.argv[5:])
events = [json.loads(l) for l in (out / "events.jsonl").read_text().splitlines() if l.strip()]
steps = [e for e in events if e["event"] == "step"]
first = next(e for e in events if e["event"] == "start")
last = events[-1]
summary = {
    "exit": rc, "run_dir_relative_to_config": str(run_dir.relative_to(work)), "gpu": first.get("gpu"),
    "steps": len(steps), "loss_first": steps[0]["loss"], "loss_last": steps[-1]["loss"],
    "eval_losses": [e["eval_loss"] for e in events if e["event"] == "eval"],
    "tokens_per_second_median": sorted(s["tokens_per_second"] for s in steps)[len(steps) // 2],
    "peak_allocated_bytes": max(s["peak_allocated_bytes"] for s in steps),
    "estimate_peak_bytes": first.get("estimate_peak_bytes"), "end": last,
    "run_wall_s": round(end - start, 2), "script_wall_s": round(time.time() - t0, 2),
    "contents": sorted(p.name for p in run_dir.iterdir()),
}
(out / "summary.json").write_text(json.dumps(summary, indent=2))
print(json.dumps(summary, indent=2))
EOF
exit $RC
