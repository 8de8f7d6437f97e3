#!/bin/bash
# The open issues' GPU measurements, in parts that each fit one device call (under 10 minutes), run from the
# repository root with OUT set (the device tool sets it). Every part writes under /tmp/r_<part> and packs it into
# $OUT/<part>.tgz at the end, so a part cut short by its own timeout still brings back what it measured.
#   bash trainer/bench/open_gpu_work.sh a   # issue 21's one-GPU test, the GPU pytest, issue 19's layout rows, issue 23's
#                                           # calibration of our trainer
#   bash trainer/bench/open_gpu_work.sh c   # issue 28's fused-kernel figures, our trainer on issue 23's 7B cases
#   bash trainer/bench/open_gpu_work.sh x   # a's first half, then c's fused figures, in one call
#   bash trainer/bench/open_gpu_work.sh y   # x in five minutes
#   bash trainer/bench/open_gpu_work.sh z   # the world-size-1 test and layout rows in two minutes
#   bash trainer/bench/open_gpu_work.sh d   # issue 23's TRL + PEFT comparison (carry .whl: trl, datasets, dill,
#                                           # multiprocess)
set -u
part=${1:?name a part: a, c, d, x, y or z}
R=/tmp/r_$part; rm -rf "$R"; mkdir -p "$R"
export PYTHONUNBUFFERED=1
# PCT=70 scales every part's timeout to 70% (what is left of a session's device time may not hold a full part).
t() { echo $(($1 * ${PCT:-100} / 100)); }
# The correctness runs (the world-size-1 test, then GPU pytest on the given files) beside the layout rows, which keep
# only peak memory, so sharing the GPU costs them nothing: side_by_side WS1_S PYTEST_S LAYOUT_S PYTEST_ARGS...
side_by_side() {
  local ws1_s=$1 pytest_s=$2 layout_s=$3
  shift 3
  (
    OUT="$R/ws1" timeout "$ws1_s" bash trainer/bench/world_size_one_gpu.sh > "$R/ws1.out" 2>&1
    cd trainer && timeout "$pytest_s" python -m pytest -q -rs -p no:cacheprovider "$@" > "$R/pytest-gpu.txt" 2>&1
  ) &
  timeout "$layout_s" python bench/gpu/measure_layout_families.py "$R/layout-families.jsonl" > "$R/layout.log" 2>&1 &
  wait
  tail -8 "$R/ws1.out"; tail -15 "$R/pytest-gpu.txt"; tail -16 "$R/layout.log"
}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$R/gpu.txt"
case "$part" in
x)
  # One call for when only one is left: part a's concurrent correctness and layout runs, then part c's fused figures.
  side_by_side "$(t 100)" "$(t 120)" "$(t 230)" tests/gpu --ignore=tests/gpu/test_world_size_one.py
  OUT="$R/fused" timeout $(t 300) python trainer/bench/fused_gpu.py --budget $(t 200) 2>&1 | tee "$R/fused.log" | tail -45
  ;;
z)
  # Two minutes: the world-size-1 test beside as many layout rows as fit.
  OUT="$R/ws1" timeout 90 bash trainer/bench/world_size_one_gpu.sh > "$R/ws1.out" 2>&1 &
  timeout 100 python bench/gpu/measure_layout_families.py "$R/layout-families.jsonl" > "$R/layout.log" 2>&1 &
  wait
  tail -8 "$R/ws1.out"; tail -14 "$R/layout.log"
  ;;
y)
  # Five minutes: x with the fused part cut to its first parts (the GPU's measured peak, then training rows).
  side_by_side 95 110 160 tests/gpu/test_kernels.py tests/gpu/test_nf4_dequant_gpu.py tests/gpu/test_gpu.py
  OUT="$R/fused" timeout 100 python trainer/bench/fused_gpu.py --budget 50 2>&1 | tee "$R/fused.log" | tail -25
  ;;
a)
  # The correctness tests and the layout rows share the GPU; the preference calibration, which is timed, runs alone
  # after them.
  side_by_side "$(t 100)" "$(t 150)" "$(t 250)" tests/gpu --ignore=tests/gpu/test_world_size_one.py
  timeout $(t 300) python trainer/bench/preference_gpu.py --out "$R/pref" \
    --cases 0.5b-lora-dpo-b2,0.5b-lora-orpo-b2,1.5b-lora-sft-b4,1.5b-lora-dpo-b1,1.5b-lora-dpo-b2,1.5b-lora-orpo-b2,1.5b-lora-simpo-b2,1.5b-lora-kto-b4,0.5b-full-dpo-b1,1.5b-full-orpo-b1 2>&1 | tee "$R/pref.log" | grep -v Warning | tail -30
  ;;
c)
  OUT="$R/fused" timeout $(t 380) python trainer/bench/fused_gpu.py --budget 270 2>&1 | tee "$R/fused.log" | tail -45
  # Our trainer on the cases the TRL comparison (part d) reads; TRL is not needed for it.
  timeout $(t 165) python trainer/bench/preference_gpu.py --out "$R/trl" --cases 1.5b-lora-dpo-b2,7b-lora-dpo-b1,7b-lora-dpo-b2 \
    2>&1 | tee "$R/pref7b.log" | grep -v Warning | tail -20
  ;;
d)
  # Needs carry [".whl"] (trl, datasets, dill, multiprocess). On the machine that ran part c, our trainer's rows are
  # read from its folder; on a fresh one trl_dpo_gpu.py runs them itself first.
  trl_out="$R/trl"; [[ -f /tmp/r_c/trl/preference_gpu.json ]] && trl_out=/tmp/r_c/trl
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl &&
    PYTHONPATH=/tmp/site timeout $(t 200) python trainer/bench/trl_dpo_gpu.py --out "$trl_out" --budget 150 2>&1 |
    tee "$R/trl.log" | grep -v Warning | tail -25
  [[ "$trl_out" != "$R/trl" ]] && cp -r "$trl_out" "$R/trl"
  ;;
esac
tar czf "$OUT/$part.tgz" -C /tmp "r_$part"
ls -la "$OUT"
