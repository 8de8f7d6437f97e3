#!/usr/bin/env python3
"""Peak GPU memory of transformers + PEFT training steps on the families whose layer is not Llama's (issue 19):
Falcon, StarCoder2, OLMo, OLMo 2, GLM-4 (glm, glm4), Phi-2 and DeepSeek-V2-Lite, measured as measure_hf_peft.py
measures (random weights built on the GPU from the published config.json sizes, SDPA, three steps of forward +
backward + AdamW, torch.cuda.max_memory_allocated), next to LoRA Lens's estimate for the same case
(server/src/core/models/layouts.ts; the estimate less the 0.51 GiB CUDA context the calibration adds).
InternLM2 is left out: its modelling code is remote code, and nothing is downloaded here.

    python3 bench/gpu/measure_layout_families.py "$OUT/layout-families.jsonl" [case-name-filter]
    python3 bench/gpu/measure_layout_families.py --dry      # builds each model at 2 layers on the CPU, no training

Each row is a calibration row plus "estimate_gib" and "error_pct" ((estimate - measured) / measured); the summary
at the end prints the mean absolute error. About 4 minutes on one H100.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import measure_hf_peft as base
import torch
from transformers import (
    DeepseekV2Config,
    FalconConfig,
    Glm4Config,
    GlmConfig,
    Olmo2Config,
    OlmoConfig,
    PhiConfig,
    Starcoder2Config,
)

ARCHS: dict[str, Any] = {
    "falcon-7b": lambda: FalconConfig(
        vocab_size=65024,
        hidden_size=4544,
        num_hidden_layers=32,
        num_attention_heads=71,
        multi_query=True,
        parallel_attn=True,
        new_decoder_architecture=False,
        bias=False,
        alibi=False,
    ),
    "starcoder2-3b": lambda: Starcoder2Config(
        vocab_size=49152,
        hidden_size=3072,
        intermediate_size=12288,
        num_hidden_layers=30,
        num_attention_heads=24,
        num_key_value_heads=2,
        max_position_embeddings=16384,
        use_bias=True,
    ),
    "olmo-1b": lambda: OlmoConfig(
        vocab_size=50304,
        hidden_size=2048,
        intermediate_size=8192,
        num_hidden_layers=16,
        num_attention_heads=16,
        num_key_value_heads=16,
        max_position_embeddings=2048,
        tie_word_embeddings=True,
    ),
    "olmo2-7b": lambda: Olmo2Config(
        vocab_size=100352,
        hidden_size=4096,
        intermediate_size=11008,
        num_hidden_layers=32,
        num_attention_heads=32,
        num_key_value_heads=32,
        max_position_embeddings=4096,
        tie_word_embeddings=False,
    ),
    "glm-4-9b": lambda: GlmConfig(
        vocab_size=151552,
        hidden_size=4096,
        intermediate_size=13696,
        num_hidden_layers=40,
        num_attention_heads=32,
        num_key_value_heads=2,
        head_dim=128,
        max_position_embeddings=8192,
        attention_bias=True,
        tie_word_embeddings=False,
    ),
    "glm4-9b-0414": lambda: Glm4Config(
        vocab_size=151552,
        hidden_size=4096,
        intermediate_size=13696,
        num_hidden_layers=40,
        num_attention_heads=32,
        num_key_value_heads=2,
        head_dim=128,
        max_position_embeddings=32768,
        attention_bias=True,
        tie_word_embeddings=False,
    ),
    "phi-2": lambda: PhiConfig(
        vocab_size=51200,
        hidden_size=2560,
        intermediate_size=10240,
        num_hidden_layers=32,
        num_attention_heads=32,
        max_position_embeddings=2048,
        tie_word_embeddings=False,
    ),
    "deepseek-v2-lite": lambda: DeepseekV2Config(
        vocab_size=102400,
        hidden_size=2048,
        intermediate_size=10944,
        moe_intermediate_size=1408,
        num_hidden_layers=27,
        num_attention_heads=16,
        num_key_value_heads=16,
        n_routed_experts=64,
        n_shared_experts=2,
        num_experts_per_tok=6,
        first_k_dense_replace=1,
        q_lora_rank=None,
        kv_lora_rank=512,
        qk_nope_head_dim=128,
        qk_rope_head_dim=64,
        v_head_dim=128,
        max_position_embeddings=163840,
        tie_word_embeddings=False,
    ),
}

# (arch, method, targets, seq, bs, gc, master) and LoRA Lens's estimate in GiB (peak_alloc terms) at commit time.
CASES: list[tuple[tuple[str, str, str, int, int, bool, str], float]] = [
    (("falcon-7b", "lora", "all-linear", 1024, 1, True, ""), 14.328),
    (("falcon-7b", "lora", "all-linear", 1024, 1, False, ""), 21.55),
    (("starcoder2-3b", "lora", "all-linear", 1024, 2, False, ""), 18.417),
    (("starcoder2-3b", "full", "", 1024, 1, True, "bf16"), 28.443),
    (("olmo-1b", "full", "", 1024, 2, False, "bf16"), 11.343),
    (("olmo2-7b", "lora", "all-linear", 1024, 1, True, ""), 15.511),
    (("glm-4-9b", "lora", "all-linear", 1024, 1, False, ""), 30.118),
    (("glm4-9b-0414", "lora", "all-linear", 1024, 1, True, ""), 20.163),
    (("phi-2", "lora", "all-linear", 1024, 2, False, ""), 16.692),
    (("phi-2", "full", "", 1024, 1, True, "bf16"), 26.125),
    (
        (
            "deepseek-v2-lite",
            "lora",
            "q_proj,kv_a_proj_with_mqa,kv_b_proj,o_proj",
            1024,
            1,
            True,
            "",
        ),
        31.932,
    ),
]

EXPECTED = {case: estimate for case, estimate in CASES}


def measure_with_estimate(*case: Any) -> dict[str, Any]:
    try:
        row = base.measure(*case)
    except torch.cuda.OutOfMemoryError:
        raise
    except (
        ValueError,
        RuntimeError,
        TypeError,
        NotImplementedError,
    ) as error:  # cannot build or train: go on
        print(f"FAILED {case}: {type(error).__name__}: {error}", flush=True)
        return {
            "arch": case[0],
            "case": list(case),
            "error": f"{type(error).__name__}: {error}",
        }
    estimate = EXPECTED[tuple(case)]
    row["estimate_gib"] = estimate
    row["error_pct"] = round(
        100 * (estimate - row["peak_alloc_gib"]) / row["peak_alloc_gib"], 2
    )
    return row


def dry_run() -> None:
    """Each architecture at 2 layers on the CPU: the config classes and module names load (no GPU needed)."""
    from transformers import AutoModelForCausalLM

    for name, make in ARCHS.items():
        config = make()
        config.num_hidden_layers = 2
        model = AutoModelForCausalLM.from_config(config)
        names = sorted(
            {
                n.split(".")[-1]
                for n, m in model.named_modules()
                if isinstance(m, torch.nn.Linear)
            }
        )
        print(
            json.dumps(
                {
                    "arch": name,
                    "params": sum(p.numel() for p in model.parameters()),
                    "linears": names,
                }
            )
        )


def main() -> None:
    if "--dry" in sys.argv:
        dry_run()
        return
    base.ARCHS.update(ARCHS)
    out = sys.argv[1]
    only = sys.argv[2] if len(sys.argv) > 2 else ""
    print(
        f"torch {torch.__version__}, device {torch.cuda.get_device_name(0)}", flush=True
    )
    base.append_rows(out, only, [case for case, _ in CASES], measure_with_estimate)
    with open(out, encoding="utf-8") as rows:
        errors = [
            row["error_pct"]
            for row in map(json.loads, filter(str.strip, rows))
            if "error_pct" in row
        ]
    if errors:
        mean = sum(abs(e) for e in errors) / len(errors)
        print(
            f"{len(errors)} rows: mean absolute error {mean:.2f}%, worst {max(errors, key=abs):+.2f}%",
            flush=True,
        )


if __name__ == "__main__":
    main()
