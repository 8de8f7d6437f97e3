#!/usr/bin/env python3
"""Peak GPU memory with gradient accumulation 1 and 4, for full fine-tuning (bf16 and fp32 masters under bf16
autocast) and LoRA, as measure_hf_peft.py measures (random-weight model built on the GPU from the architecture's
config, SDPA, torch.cuda.max_memory_allocated), but each optimizer step runs `accumulation` micro-steps of forward +
backward before AdamW and zero_grad(set_to_none=True), as transformers' Trainer and the lora-lens trainer do. Three
optimizer steps, so the peak includes the optimizer states. Writes one JSON line per case in the calibration format
with an "accumulation" field (test/fixtures/calibration/*.jsonl; measurementPlan reads it).

    python3 bench/gpu/measure_accumulation.py OUT.jsonl [case-name-filter]

The estimator's claim it checks (issue 19 item 6): the row with accumulation 4 peaks higher than the row with 1 by
the trainable parameters' gradients (4 B each for fp32 masters and LoRA adapters, 2 B for bf16 full fine-tuning),
unless the optimizer step was the peak.
"""
from __future__ import annotations

import gc
import sys
from typing import Any

import torch
from transformers import AutoModelForCausalLM, Qwen2Config

from measure_hf_peft import ARCHS, append_rows, memory_figures, train_steps

ACCUMULATION_ARCHS: dict[str, Any] = {
    **ARCHS,
    "qwen2.5-3b": lambda: Qwen2Config(vocab_size=151936, hidden_size=2048, intermediate_size=11008, num_hidden_layers=36,
                                      num_attention_heads=16, num_key_value_heads=2, max_position_embeddings=32768,
                                      tie_word_embeddings=True),
}

# (arch, method, seq, bs, gc, master); each runs with accumulation 1 and 4.
CASES: list[tuple[str, str, int, int, bool, str]] = [
    ("llama-3.2-1b", "full", 2048, 2, True, "bf16"),
    ("llama-3.2-1b", "full", 2048, 2, True, "fp32"),
    ("llama-3.2-1b", "lora", 2048, 2, True, ""),
    ("qwen2.5-3b", "full", 4096, 1, True, "fp32"),
    ("qwen2.5-3b", "full", 4096, 1, False, "bf16"),
    ("qwen2.5-3b", "lora", 4096, 1, True, ""),
    ("qwen3-1.7b", "full", 1024, 4, True, "bf16"),
    ("mistral-7b", "lora", 2048, 1, True, ""),
]
ACCUMULATIONS = (1, 4)


def build(arch: str, method: str, use_gc: bool, master: str) -> tuple[Any, Any, list[Any]]:
    from peft import LoraConfig, get_peft_model

    config = ACCUMULATION_ARCHS[arch]()
    dtype = torch.float32 if master == "fp32" else torch.bfloat16
    with torch.device("cuda"):
        model = AutoModelForCausalLM.from_config(config, dtype=dtype, attn_implementation="sdpa")
    if method == "lora":
        model = get_peft_model(model, LoraConfig(r=16, lora_alpha=32, target_modules="all-linear", lora_dropout=0.0))
    if use_gc:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        if method == "lora":
            model.enable_input_require_grads()
    model.train()
    return model, config, [p for p in model.parameters() if p.requires_grad]


def measure(arch: str, method: str, seq: int, bs: int, use_gc: bool, master: str, accumulation: int) -> dict[str, Any]:
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
    model, config, params = build(arch, method, use_gc, master)
    optimizer = torch.optim.AdamW(params, lr=1e-5)
    times = train_steps(model, optimizer, config.vocab_size, bs, seq, autocast=master == "fp32", accumulation=accumulation)
    row: dict[str, Any] = {
        "arch": arch, "method": method, "seq": seq, "bs": bs, "gc": use_gc, "accumulation": accumulation,
        **memory_figures(model, params),
        "step_s": round(min(times[1:]), 4),
    }
    if method == "full":
        row["master"] = master
    else:
        row.update({"targets": "all-linear", "r": 16})
    del model, optimizer, params
    gc.collect()
    torch.cuda.empty_cache()
    return row


def main() -> None:
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    cases = [(*case, accumulation) for case in CASES for accumulation in ACCUMULATIONS]
    append_rows(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "", cases, measure)


if __name__ == "__main__":
    main()
