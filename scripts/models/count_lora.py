"""LoRA parameter counts of mixture-of-experts models built from config.json values with transformers itself.

In transformers 5 the routed experts of Mixtral, Qwen2/3-MoE, DeepSeek-V2/V3, OLMoE... are fused 3D parameters
(`mlp.experts.gate_up_proj`, `mlp.experts.down_proj`) and the router is not an nn.Linear. This script shows what
each target selection then adapts, two ways:

- `trainer`: the bundled trainer's own injection (lora_lens_trainer.lora.inject), the rule LoRA Lens's estimate
  follows: linear layers only;
- `peft`: PEFT's `get_peft_model(LoraConfig(target_modules=...))`, which for the model types transformers converts
  from v4 checkpoints (mixtral and the qwen2_moe family: deepseek_v2, qwen3_moe, olmoe... but not qwen2_moe itself)
  maps expert and router names onto `target_parameters`, with the rank doubled on the fused gate_up_proj.

Reads a JSON object {name: {"config": {model_type, ...}, "targets": [target_modules, ...], "r": 4}} on stdin and
prints one JSON line per (name, targets): the trainable count and the adapted names inside decoder layer 1 for each
way ("error" instead when the selection is refused), and the elements the bundled trainer's NF4 quantizes (its
QLoRA: nn.Linear weights only, so the fused experts stay in bf16). test/models/moeLoraParity.test.ts holds LoRA Lens's count to
the trainer's; the PEFT figures are what docs/memory.md reports.

    echo '{"mixtral": {"config": {"model_type": "mixtral", ...}, "targets": ["all-linear"], "r": 4}}' \\
        | python3 scripts/models/count_lora.py
"""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path
from typing import Any

import torch
from transformers import AutoConfig, AutoModelForCausalLM

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "trainer"))

from lora_lens_trainer.lora import inject
from lora_lens_trainer.nf4 import NF4Linear, quantize_model


def _build(raw: dict[str, Any]) -> torch.nn.Module:
    values = {k: v for k, v in raw.items() if k != "model_type"}
    config = AutoConfig.for_model(str(raw["model_type"]), **values)
    torch.manual_seed(0)
    return AutoModelForCausalLM.from_config(config)


def _in_layer_1(names: list[str]) -> list[str]:
    inside = []
    for name in names:
        _, found, rest = name.partition(".layers.1.")
        if found:
            inside.append(rest)
    return sorted(set(inside))


def _trainer(raw: dict[str, Any], targets: Any, r: int) -> dict[str, Any]:
    model = _build(raw)
    try:
        names = inject(model, targets, r, float(2 * r), 0.0, False)
    except ValueError as error:
        return {"error": str(error)}
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return {"trainable": trainable, "layer1": _in_layer_1(names)}


def _nf4_quantized(raw: dict[str, Any]) -> int:
    """Elements the bundled trainer's NF4 quantizes (every nn.Linear but the head): not the fused experts."""
    model = _build(raw).to(torch.bfloat16)
    quantize_model(model, {"lm_head"}, True, torch.bfloat16, torch.device("cpu"))
    return sum(m._numel for m in model.modules() if isinstance(m, NF4Linear))


def _peft(raw: dict[str, Any], targets: Any, r: int) -> dict[str, Any]:
    from peft import LoraConfig, get_peft_model

    model = _build(raw)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            wrapped = get_peft_model(
                model, LoraConfig(r=r, lora_alpha=2 * r, target_modules=targets)
            )
    except ValueError as error:
        return {"error": str(error).split("\n")[0]}
    trainable = sum(p.numel() for p in wrapped.parameters() if p.requires_grad)
    adapted = [
        n.split(".lora_A")[0].replace(".base_layer", "")
        for n, _ in wrapped.named_parameters()
        if ".lora_A" in n
    ]
    return {
        "trainable": trainable,
        "layer1": _in_layer_1([a.removeprefix("base_model.model.") for a in adapted]),
    }


def main() -> None:
    import peft
    import transformers

    versions = {
        "transformers_version": transformers.__version__,
        "peft_version": peft.__version__,
    }
    for name, entry in json.load(sys.stdin).items():
        r = int(entry.get("r", 4))
        quantized = _nf4_quantized(entry["config"])
        for targets in entry["targets"]:
            row = {
                "name": name,
                "targets": targets,
                "trainer": _trainer(entry["config"], targets, r),
                "peft": _peft(entry["config"], targets, r),
                "nf4_quantized": quantized,
                **versions,
            }
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
