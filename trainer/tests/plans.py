"""Plan dictionaries shaped like server/src/plan/types.ts TrainingPlan, for tests and the benchmark."""
from __future__ import annotations

import copy
from typing import Any


def make_plan(model: str, train: str, method: str = "lora", eval_path: str | None = None, out: str = "/tmp/out",
              **overrides: Any) -> dict[str, Any]:
    plan: dict[str, Any] = {
        "version": 1,
        "config_path": "/tmp/config.finetune.yaml",
        "model": {"name_or_path": model, "revision": None, "trust_remote_code": False, "attn_implementation": "sdpa"},
        "method": method,
        "precision": "bf16-true",
        "lora": None if method == "full" else {
            "r": 8, "lora_alpha": 16, "lora_dropout": 0.0, "target_modules": "all-linear", "bias": "none",
            "use_rslora": False, "use_dora": False,
        },
        "quantization": None if method != "qlora" else {
            "load_in_4bit": True, "bnb_4bit_quant_type": "nf4", "bnb_4bit_use_double_quant": True,
            "bnb_4bit_compute_dtype": "bfloat16", "prepare_for_kbit_training": True,
        },
        "data": {
            "train": train, "eval": eval_path, "format": "chat", "chat_template": "auto", "max_length": 256,
            "packing": False, "group_by_length": False, "train_on_prompt": False, "dedupe": False, "strip_html": False,
        },
        "training": {
            "learning_rate": 2e-4, "per_device_train_batch_size": 4, "per_device_eval_batch_size": 4,
            "gradient_accumulation_steps": 1, "num_train_epochs": 1, "max_steps": -1, "warmup_ratio": 0.0,
            "warmup_steps": 0, "lr_scheduler_type": "linear", "max_grad_norm": 1.0, "weight_decay": 0.0,
            "optim": "adamw_torch", "gradient_checkpointing": False, "seed": 42, "logging_steps": 1,
            "eval_steps": None, "save_steps": 500, "save_total_limit": None, "dataloader_num_workers": 0,
        },
        "hardware": {"gpu": "auto", "num_gpus": 1, "distributed": "none"},
        "output": {"dir": out, "merge": False, "merge_dtype": "bfloat16", "safe_serialization": True},
        "engine": "lora-lens",
    }
    for dotted, value in overrides.items():
        section, _, key = dotted.partition("__")
        if key:
            plan[section][key] = value
        else:
            plan[section] = copy.deepcopy(value)
    return plan
