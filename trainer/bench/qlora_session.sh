# Issue 20's GPU measurements, for the device machine (one H100 or H200). Run from the repository root with OUT set
# to a results folder (the device tool sets it). Each numbered part fits one call of under 6 minutes: run them as
# separate calls (PART=1 ... PART=4); PART=all runs every part in one go (about 20 minutes).
#   1. GPU tests: the dequant path (bit-exact weight, products, one workspace) and the fused NF4 kernel at 7B/70B
#      sizes against the reference, their memory, the streaming load on the GPU.
#   2. Qwen2-7B QLoRA seq 2048 bs 1 checkpointing: peak allocated, lean (target <= 8.0 GiB) and fp32 upcast, through
#      the default NF4 path (dequant).
#   3. nf4_speed.py: the dequantize kernel's GB/s against the reference at 7B layer sizes (and the fused matmul's
#      tiles), then 7B seq 2048 bs 1/4 steps: LoRA bf16, transformers + PEFT, QLoRA through the dequant, reference
#      and fused paths: tokens/s, the QLoRA/LoRA step-time ratio (target <= 1.25), peak memory.
#   4. A Llama-3.1-70B-shaped random checkpoint, as many layers as ~40 GB and 170 s of writing allow: streaming load
#      time, peak RSS, GPU peak during load, then QLoRA steps (peak allocated against the stored estimate, tokens/s).
set -x
PART=${PART:-all}
nvidia-smi --query-gpu=name,memory.total --format=csv
python -c "import torch, transformers, triton; print(torch.__version__, transformers.__version__, triton.__version__)"
if [ "$PART" = all ] || [ "$PART" = 1 ]; then
  ( cd trainer && timeout 300 python -m pytest -q -rs tests/gpu/test_nf4_dequant_gpu.py tests/gpu/test_nf4_kernel_gpu.py \
      tests/gpu/test_kernels.py 2>&1 | tee $OUT/qlora-gpu-pytest.log | tail -30 )
fi
if [ "$PART" = all ] || [ "$PART" = 2 ]; then
  ( cd trainer && timeout 300 python bench/qlora_big.py memory7b $OUT/qlora-7b-memory.jsonl 2>&1 | grep '^==' )
fi
if [ "$PART" = all ] || [ "$PART" = 3 ]; then
  ( cd trainer && timeout 345 python bench/nf4_speed.py $OUT 2>&1 | tee $OUT/nf4-speed.log | grep -E '^==|Error|error' )
fi
if [ "$PART" = all ] || [ "$PART" = 4 ]; then
  BIG=${BIG:-/tmp/llama-3.1-70b-random}
  df -h /tmp | tail -1
  ( cd trainer && timeout 200 python bench/qlora_big.py write $BIG --max-gib 40 --max-s 170 2>&1 | tail -3 && \
    timeout 140 python bench/qlora_big.py load $BIG $OUT/qlora-70b.jsonl 2>&1 | tee $OUT/qlora-70b.log | tail -4 )
  rm -rf $BIG
fi
