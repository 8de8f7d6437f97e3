# One device call: the GPU kernel tests, the compare benchmark, the torch-path A/B of the 0.5B full case, calibration rows.
# Run from the repository root with OUT set to a results folder (the device tool sets it).
set -x
nvidia-smi --query-gpu=name,memory.total --format=csv
cd trainer
timeout 120 python -m pytest -q tests/gpu/test_kernels.py 2>&1 | tail -15
timeout 300 python bench/bench.py compare $OUT/compare.jsonl 2>&1 | grep -v Warning | tail -12
python - <<'PY' 2>&1 | tail -5
import os, sys, json
sys.path.insert(0, 'bench'); sys.path.insert(0, '.')
os.environ['LORA_LENS_TORCH_CE'] = '1'
import bench
for _ in range(2):
    print('torch-path', json.dumps(bench.ours('qwen2.5-0.5b', 'full', 0, 2048, 4, True, 4)), flush=True)
PY
timeout 240 python bench/bench.py calibrate $OUT/h100-lora-lens.jsonl 2>&1 | tail -16
