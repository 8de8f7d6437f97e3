# One device call on the H200: the whole GPU suite, the compare benchmark, and the QLoRA throughput rows.
# Run from the repository root with OUT set to a results folder (the device tool sets it).
set -x
nvidia-smi --query-gpu=name,memory.total --format=csv
python -c "import torch, transformers, peft; print(torch.__version__, transformers.__version__, peft.__version__)"
( cd trainer && timeout 330 python -m pytest -q -rs tests/gpu 2>&1 | tee $OUT/h200-gpu-pytest.log | tail -25 )
( cd trainer && timeout 180 python bench/bench.py compare $OUT/compare.jsonl 2>&1 | grep '^==' )
PYTHONUNBUFFERED=1 timeout 90 python - <<'PY' 2>&1 | tail -4
import json, os, sys
sys.path.insert(0, 'bench/gpu')
import measure_throughput as m
with open(os.path.join(os.environ['OUT'], 'h200-qlora.jsonl'), 'w') as fh:
    for case in [("qwen2-7b", "qlora", 16, 2048, 1, True), ("qwen2-7b", "qlora", 16, 2048, 4, True), ("mistral-7b", "qlora", 16, 2048, 2, True)]:
        row = m.bench.ours(*case, m.STEPS)
        row["gpu"] = "NVIDIA H200"
        print(json.dumps(row), flush=True)
        fh.write(json.dumps(row) + "\n")
PY
