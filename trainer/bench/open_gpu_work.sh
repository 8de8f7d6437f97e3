#!/bin/bash
# The open issues' GPU measurements, in parts that each fit one device call (under 10 minutes), run from the
# repository root with OUT set (the device tool sets it). Every part writes under /tmp/r and packs it into
# $OUT/<part>.tgz at the end, so a part cut short by its own timeout still brings back what it measured.
#   bash trainer/bench/open_gpu_work.sh a   # issue 21's one-GPU test, the trainer's GPU pytest, issue 23's calibration
#   bash trainer/bench/open_gpu_work.sh b   # issue 19's accumulation and layout-family rows
#   bash trainer/bench/open_gpu_work.sh c   # issue 28's fused-kernel figures
set -u
part=${1:?name a part: a, b or c}
R=/tmp/r; rm -rf "$R"; mkdir -p "$R"
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$R/gpu.txt"
case "$part" in
a)
  OUT="$R/ws1" timeout 110 bash trainer/bench/world_size_one_gpu.sh
  (cd trainer && timeout 170 python -m pytest -q -rs -p no:cacheprovider tests/gpu \
    --ignore=tests/gpu/test_world_size_one.py 2>&1 | tee "$R/pytest-gpu.txt" | tail -25)
  timeout 290 python trainer/bench/preference_gpu.py --out "$R/pref" 2>&1 | tee "$R/pref.log" | grep -v Warning | tail -30
  ;;
b)
  timeout 285 python bench/gpu/measure_accumulation.py "$R/accumulation.jsonl" 2>&1 | tee "$R/acc.log" | tail -20
  timeout 285 python bench/gpu/measure_layout_families.py "$R/layout-families.jsonl" 2>&1 | tee "$R/layout.log" | tail -20
  ;;
c)
  OUT="$R/fused" timeout 560 python trainer/bench/fused_gpu.py --budget 400 2>&1 | tee "$R/fused.log" | tail -60
  ;;
esac
tar czf "$OUT/$part.tgz" -C /tmp r
ls -la "$OUT"
