#!/bin/bash
# Issue 21, the one-GPU test: torchrun --nproc-per-node 1 under ddp, fsdp and fsdp with CPU offload against the plain
# one-process path (tiny Llama, full fine-tuning, fp32, 3 steps): losses and peak memory. About a minute on an H100.
#   OUT=/path/to/results bash trainer/bench/world_size_one_gpu.sh
# Writes $OUT/world-size-one.log (pytest -s: one "== layout: losses [...] peak allocated X MiB" line per run, the
# loss gaps, pass/fail), each run's events.jsonl, and $OUT/nvidia-smi-query.txt (the run watcher's nvidia-smi query
# as this machine prints it, for the parser's fixture). No network.
set -u
OUT=${OUT:?set OUT to a folder for the results}
mkdir -p "$OUT"
cd "$(dirname "$0")/.." || exit 1
{
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
  python -c "import torch, transformers; print('torch', torch.__version__, 'transformers', transformers.__version__, 'nccl', torch.cuda.nccl.version())"
  # The sampler's query as this machine's nvidia-smi prints it (test/fixtures/nvidia-smi holds a stand-in's text).
  nvidia-smi --query-gpu=index,memory.used,memory.total --format=csv,noheader,nounits | tee "$OUT/nvidia-smi-query.txt"
  OUT="$OUT" timeout 330 python -m pytest -q -rs -s -p no:cacheprovider tests/gpu/test_world_size_one.py
  echo "pytest exit: $?"
} 2>&1 | tee "$OUT/world-size-one.log" | grep -E '^==|^[0-9]+, |passed|failed|skipped|SKIPPED|Error|exit|torch|NVIDIA|H100|H200'
