"""Parameter counts and decoder-layer Linear modules of models built from config.json values with transformers itself.

Reads a JSON object {name: config.json dict} on stdin, builds each model on the meta device (no memory, no download:
AutoConfig.for_model(model_type, **config), AutoModelForCausalLM.from_config) and prints one JSON line per name:
the total parameter count and, for decoder layer `layer` (default 1), each nn.Linear as [name inside the layer,
in_features, out_features, has bias]. test/models/layoutParity.test.ts holds LoRA Lens's counts and module lists to
these.

    echo '{"phi-2": {"model_type": "phi", ...}}' | python3 scripts/models/count_params.py [layer]
"""

from __future__ import annotations

import json
import re
import sys

import torch
from transformers import AutoConfig, AutoModelForCausalLM


def describe(name: str, raw: dict[str, object], layer: int) -> dict[str, object]:
    values = {k: v for k, v in raw.items() if k != "model_type"}
    config = AutoConfig.for_model(str(raw["model_type"]), **values)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    inside = re.compile(rf"^(?:model\.layers|transformer\.h)\.{layer}\.(.+)$")
    linears = []
    for full, module in model.named_modules():
        match = inside.match(full)
        if match and isinstance(module, torch.nn.Linear):
            linears.append(
                [
                    match.group(1),
                    module.in_features,
                    module.out_features,
                    module.bias is not None,
                ]
            )
    return {
        "name": name,
        "total": sum(p.numel() for p in model.parameters()),
        "linears": linears,
    }


def main() -> None:
    layer = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    for name, raw in json.load(sys.stdin).items():
        print(json.dumps(describe(name, raw, layer)), flush=True)


if __name__ == "__main__":
    main()
