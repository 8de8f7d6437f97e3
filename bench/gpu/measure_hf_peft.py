#!/usr/bin/env python3
"""Measures peak GPU memory of transformers + PEFT training steps exactly as ../shared/calibration/README.md
describes (random-weight model built on the GPU from the architecture's config, SDPA, three steps of forward +
backward + AdamW step, torch.cuda.max_memory_allocated), for architectures the estimator was NOT fitted to.
Writes one JSON line per case in the calibration format.

    python3 bench/gpu/measure_hf_peft.py OUT.jsonl [case-name-filter]
"""
from __future__ import annotations

import gc
import json
import sys
import time
from typing import Any

import torch
from transformers import AutoModelForCausalLM, LlamaConfig, MistralConfig, Phi3Config, Qwen3Config

GiB = 2**30

ARCHS: dict[str, Any] = {
    "llama-2-13b": lambda: LlamaConfig(vocab_size=32000, hidden_size=5120, intermediate_size=13824, num_hidden_layers=40,
                                       num_attention_heads=40, num_key_value_heads=40, max_position_embeddings=4096,
                                       rms_norm_eps=1e-5, tie_word_embeddings=False),
    "mistral-7b": lambda: MistralConfig(vocab_size=32768, hidden_size=4096, intermediate_size=14336, num_hidden_layers=32,
                                        num_attention_heads=32, num_key_value_heads=8, max_position_embeddings=32768,
                                        sliding_window=None, tie_word_embeddings=False),
    "llama-3.2-1b": lambda: LlamaConfig(vocab_size=128256, hidden_size=2048, intermediate_size=8192, num_hidden_layers=16,
                                        num_attention_heads=32, num_key_value_heads=8, head_dim=64,
                                        max_position_embeddings=131072, tie_word_embeddings=True),
    "phi-3-mini": lambda: Phi3Config(vocab_size=32064, hidden_size=3072, intermediate_size=8192, num_hidden_layers=32,
                                     num_attention_heads=32, num_key_value_heads=32, max_position_embeddings=4096,
                                     tie_word_embeddings=False, pad_token_id=32000),
    "qwen3-1.7b": lambda: Qwen3Config(vocab_size=151936, hidden_size=2048, intermediate_size=6144, num_hidden_layers=28,
                                      num_attention_heads=16, num_key_value_heads=8, head_dim=128,
                                      max_position_embeddings=40960, tie_word_embeddings=True),
    "smollm2-1.7b": lambda: LlamaConfig(vocab_size=49152, hidden_size=2048, intermediate_size=8192, num_hidden_layers=24,
                                        num_attention_heads=32, num_key_value_heads=32, max_position_embeddings=8192,
                                        tie_word_embeddings=True),
}

# (arch, method, targets, seq, bs, gc, master)
CASES: list[tuple[str, str, str, int, int, bool, str]] = [
    ("llama-2-13b", "lora", "all-linear", 2048, 1, True, ""),
    ("llama-2-13b", "lora", "all-linear", 2048, 1, False, ""),
    ("mistral-7b", "lora", "all-linear", 2048, 1, True, ""),
    ("mistral-7b", "lora", "all-linear", 2048, 1, False, ""),
    ("mistral-7b", "lora", "all-linear", 2048, 4, True, ""),
    ("mistral-7b", "lora", "q_proj,v_proj", 4096, 1, False, ""),
    ("llama-3.2-1b", "lora", "all-linear", 2048, 4, True, ""),
    ("llama-3.2-1b", "lora", "all-linear", 2048, 4, False, ""),
    ("llama-3.2-1b", "full", "", 2048, 2, True, "bf16"),
    ("llama-3.2-1b", "full", "", 1024, 4, False, "fp32"),
    ("phi-3-mini", "lora", "all-linear", 2048, 1, True, ""),
    ("phi-3-mini", "lora", "all-linear", 2048, 1, False, ""),
    ("qwen3-1.7b", "lora", "all-linear", 2048, 2, True, ""),
    ("qwen3-1.7b", "lora", "all-linear", 2048, 2, False, ""),
    ("qwen3-1.7b", "full", "", 1024, 4, True, "bf16"),
    ("smollm2-1.7b", "lora", "all-linear", 2048, 4, False, ""),
]


def train_steps(model: Any, optimizer: Any, vocab: int, bs: int, seq: int, autocast: bool, accumulation: int = 1) -> list[float]:
    """Three optimizer steps of `accumulation` micro-steps each (forward under bf16 autocast when `autocast`,
    backward), then AdamW and zero_grad(set_to_none=True) as the trainers do; the seconds of each step."""
    times = []
    for _ in range(3):
        batches = [torch.randint(0, vocab, (bs, seq), device="cuda") for _ in range(accumulation)]
        torch.cuda.synchronize()
        start = time.perf_counter()
        for ids in batches:
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=autocast):
                loss = model(input_ids=ids, labels=ids).loss / accumulation
            loss.backward()
            del loss
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return times


def memory_figures(model: Any, params: list[Any]) -> dict[str, Any]:
    """Parameter counts and the allocator's peaks since the last reset, in the calibration rows' fields."""
    free, total = torch.cuda.mem_get_info()
    return {
        "total_params": sum(p.numel() for p in model.parameters()),
        "trainable": sum(p.numel() for p in params),
        "peak_alloc_gib": round(torch.cuda.max_memory_allocated() / GiB, 3),
        "peak_reserved_gib": round(torch.cuda.max_memory_reserved() / GiB, 3),
        "device_used_gib": round((total - free) / GiB, 3),
    }


def measure(arch: str, method: str, targets: str, seq: int, bs: int, use_gc: bool, master: str) -> dict[str, Any]:
    from peft import LoraConfig, get_peft_model

    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
    config = ARCHS[arch]()
    dtype = torch.float32 if master == "fp32" else torch.bfloat16
    with torch.device("cuda"):
        model = AutoModelForCausalLM.from_config(config, dtype=dtype, attn_implementation="sdpa")
    r = 16
    if method == "lora":
        target_modules: Any = "all-linear" if targets == "all-linear" else targets.split(",")
        model = get_peft_model(model, LoraConfig(r=r, lora_alpha=2 * r, target_modules=target_modules, lora_dropout=0.0))
    if use_gc:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        if method == "lora":
            model.enable_input_require_grads()
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=1e-5)
    times = train_steps(model, optimizer, config.vocab_size, bs, seq, autocast=master == "fp32")
    row: dict[str, Any] = {
        "arch": arch, "method": method, "targets": targets or None, "r": r if method == "lora" else 0,
        "seq": seq, "bs": bs, "gc": use_gc,
        **memory_figures(model, params),
        "step_s": round(min(times[1:]), 4),
        "tok_s": round(bs * seq / min(times[1:])),
    }
    if method == "full":
        row["master"] = master
        del row["targets"]
    del model, optimizer, params
    gc.collect()
    torch.cuda.empty_cache()
    return row


def append_rows(out: str, only: str, cases: list[tuple[Any, ...]], measure_case: Any) -> None:
    """Measures each case whose arch contains `only`, appending its row to `out` as it comes (an OOM is printed and
    skipped, so one case too large for the card does not lose the others)."""
    with open(out, "a", encoding="utf-8") as sink:
        for case in cases:
            if only and only not in case[0]:
                continue
            try:
                row = measure_case(*case)
            except torch.cuda.OutOfMemoryError as error:
                print(f"OOM {case}: {error}", flush=True)
                gc.collect()
                torch.cuda.empty_cache()
                continue
            sink.write(json.dumps(row) + "\n")
            sink.flush()
            print(json.dumps(row), flush=True)


def main() -> None:
    append_rows(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "", CASES, measure)


if __name__ == "__main__":
    main()
