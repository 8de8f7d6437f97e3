# Issue 20's GPU measurements, for the device machine (one H100 or H200; nothing here ran on a GPU yet).
# Run from the repository root with OUT set to a results folder (the device tool sets it). Each numbered part fits
# one 10-minute device call; run them as separate calls if the budget asks (PART=1 ... PART=4, or all by default).
#   1. GPU tests: the fused NF4 kernel at 7B/70B sizes against the reference, its memory, the streaming load on the GPU.
#   2. Qwen2-7B QLoRA seq 2048 bs 1 checkpointing: peak allocated, lean (target <= 8.0 GiB) and fp32 upcast.
#   3. bench.py compare: 7B LoRA bs 1/4 vs transformers + PEFT, and lean QLoRA with the reference and the fused NF4
#      kernel: the QLoRA/LoRA step-time ratio (target <= 1.25) and the ratio to transformers + PEFT's bf16 LoRA.
#   4. A Llama-3.1-70B-shaped random checkpoint, as many layers as the disk holds: streaming load time, peak RSS,
#      GPU peak during load, then QLoRA steps (peak allocated, tokens/s) with the fused kernel.
set -x
PART=${PART:-all}
nvidia-smi --query-gpu=name,memory.total --format=csv
python -c "import torch, transformers, triton; print(torch.__version__, transformers.__version__, triton.__version__)"
if [ "$PART" = all ] || [ "$PART" = 1 ]; then
  ( cd trainer && timeout 300 python -m pytest -q -rs tests/gpu/test_nf4_kernel_gpu.py tests/gpu/test_kernels.py 2>&1 \
      | tee $OUT/qlora-gpu-pytest.log | tail -25 )
fi
if [ "$PART" = all ] || [ "$PART" = 2 ]; then
  ( cd trainer && timeout 300 python bench/qlora_big.py memory7b $OUT/qlora-7b-memory.jsonl 2>&1 | grep '^==' )
  ( cd trainer && LORA_LENS_NF4_KERNEL=triton timeout 240 python bench/qlora_big.py memory7b $OUT/qlora-7b-memory.jsonl 2>&1 | grep '^==' )
fi
if [ "$PART" = all ] || [ "$PART" = 3 ]; then
  ( cd trainer && timeout 540 python bench/bench.py compare $OUT/compare-qlora.jsonl 2>&1 | grep '^==' )
fi
if [ "$PART" = all ] || [ "$PART" = 4 ]; then
  BIG=${BIG:-/tmp/llama-3.1-70b-random}
  ( cd trainer && timeout 420 python bench/qlora_big.py write $BIG && \
    LORA_LENS_NF4_KERNEL=triton timeout 300 python bench/qlora_big.py load $BIG $OUT/qlora-70b.jsonl )
  rm -rf $BIG
fi
