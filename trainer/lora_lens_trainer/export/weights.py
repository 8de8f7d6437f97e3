"""The merged model's tensors, one at a time: read a base tensor from its safetensors shard (memory-mapped), for
QLoRA round-trip it through 4-bit as the training saw it, add the adapter's delta (scale * B @ A) in fp32, hand it
on, forget it. Peak memory is one tensor (and its delta) in fp32, never the model: the largest tensor of a 7B model
is its embedding, 0.5-2.2 GB in fp32."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import ExportError


@dataclass
class WeightSource:
    """Where the weights of a finished run are: the base (or the full fine-tune's model folder) and the adapter."""

    model_dir: Path
    config: dict[str, Any]
    tokenizer_dir: Path
    shards: dict[str, Path]  # tensor name -> the safetensors file holding it
    deltas: dict[str, tuple[Any, Any]] = field(default_factory=dict)  # module -> (A, B), fp32
    scale: float = 1.0
    quantized: set[str] = field(default_factory=set)  # weights the training held in 4-bit
    quantization: Any = None
    backend: str | None = None
    compute_dtype: Any = None
    # Where the 4-bit round trip and the adapter's delta are computed (None: the CPU); the result is on the CPU.
    # The merge passes the GPU it checks on: one tensor there at a time, within the training's memory.
    device: Any = None

    def names(self) -> list[str]:
        return list(self.shards)

    def shape(self, name: str) -> tuple[int, ...]:
        from safetensors import safe_open

        with safe_open(str(self.shards[name]), framework="pt") as f:
            return tuple(f.get_slice(name).get_shape())

    def tensor(self, name: str) -> Any:
        """The merged tensor `name` as fp32 on the CPU."""
        from safetensors import safe_open

        with safe_open(str(self.shards[name]), framework="pt") as f:
            weight = f.get_tensor(name)
        if name in self.quantized:
            from ..merge import round_trip_4bit_weight

            # bitsandbytes quantizes on the GPU the training ran on; the built-in NF4 anywhere.
            device = "cuda" if self.backend == "bitsandbytes" else self.device
            # Moved first, so the round trip's result stays where the delta is added (one transfer, not three).
            weight = weight.to(device=device, dtype=self.compute_dtype)
            weight = round_trip_4bit_weight(weight, self.quantization, self.backend)
        module = name.removesuffix(".weight")
        if name.endswith(".weight") and module in self.deltas:
            a, b = self.deltas[module]
            weight = weight.to(self.device).float()
            weight += self.scale * (b.to(weight.device) @ a.to(weight.device))
        return weight.float().cpu().contiguous()

    def iter_tensors(self) -> Iterator[tuple[str, Any]]:
        for name in self.names():
            yield name, self.tensor(name)


def _shards(model_dir: Path) -> dict[str, Path]:
    index = model_dir / "model.safetensors.index.json"
    if index.is_file():
        weight_map = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
        return {name: model_dir / file for name, file in weight_map.items()}
    files = sorted(model_dir.glob("*.safetensors"))
    if not files:
        raise ExportError(
            f"{model_dir}: no safetensors weights (model.safetensors or an index); the exporter reads "
            "safetensors only: save the model with safe_serialization=True"
        )
    from safetensors import safe_open

    out: dict[str, Path] = {}
    for file in files:
        with safe_open(str(file), framework="pt") as f:
            out.update({name: file for name in f.keys()})
    return out


def resolve_model_dir(name_or_path: str, revision: str | None) -> Path:
    local = Path(name_or_path).expanduser()
    if local.is_dir():
        return local
    try:
        from huggingface_hub import snapshot_download

        return Path(
            snapshot_download(
                name_or_path,
                revision=revision,
                local_files_only=True,
                allow_patterns=["*.json", "*.safetensors", "tokenizer*"],
            )
        )
    except Exception as error:  # noqa: BLE001 - the hub raises several types for "not in the cache"
        raise ExportError(
            f"the base model {name_or_path!r} is neither a folder nor in the Hugging Face cache "
            f"({type(error).__name__}); download it first (huggingface-cli download {name_or_path})"
        ) from error


def _linear_weights(config_dir: Path) -> set[str]:
    """Names of the weights of every nn.Linear but the output head (what QLoRA trains in 4-bit), from the model
    built on the meta device (no memory)."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    config = AutoConfig.from_pretrained(config_dir, local_files_only=True)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    head = model.get_output_embeddings()
    return {f"{n}.weight" for n, m in model.named_modules() if isinstance(m, torch.nn.Linear) and m is not head}


def _adapter_deltas(adapter: Path) -> tuple[dict[str, tuple[Any, Any]], float]:
    from safetensors.torch import load_file

    cfg = json.loads((adapter / "adapter_config.json").read_text(encoding="utf-8"))
    if cfg.get("use_dora"):
        raise ExportError(f"{adapter}: DoRA adapters are not exported (the trainer does not train them either)")
    r, alpha = int(cfg["r"]), float(cfg["lora_alpha"])
    scale = alpha / math.sqrt(r) if cfg.get("use_rslora") else alpha / r
    saved = load_file(str(adapter / "adapter_model.safetensors"))
    deltas: dict[str, tuple[Any, Any]] = {}
    for key, value in saved.items():
        if not key.endswith(".lora_A.weight"):
            continue
        module = key.removeprefix("base_model.model.").removesuffix(".lora_A.weight")
        b = saved.get(key.replace(".lora_A.", ".lora_B."))
        if b is None:
            raise ExportError(f"{adapter}: {key} has no lora_B partner; the adapter is incomplete, train again")
        deltas[module] = (value.float(), b.float())
    return deltas, scale


def weight_source(run_dir: Path, plan: Any) -> WeightSource:
    """The finished run's weights, or a clear ExportError when the run has none to export."""
    from ..modeling import precision_dtypes

    if plan.method == "full":
        model_dir = run_dir / "model"
        if not (model_dir / "config.json").is_file():
            raise ExportError(
                f"{model_dir}: no trained model (the run has not finished: wait for it, or resume it "
                "with lora-lens resume)"
            )
        return WeightSource(model_dir, _config(model_dir), model_dir, _shards(model_dir))
    adapter = run_dir / "adapter"
    if not (adapter / "adapter_config.json").is_file() or not (adapter / "adapter_model.safetensors").is_file():
        raise ExportError(
            f"{adapter}: no finished adapter (adapter_config.json and adapter_model.safetensors); the "
            "run has not completed: wait for it, or resume it with lora-lens resume"
        )
    base = resolve_model_dir(plan.model.name_or_path, plan.model.revision)
    deltas, scale = _adapter_deltas(adapter)
    source = WeightSource(base, _config(base), adapter, _shards(base), deltas, scale)
    missing = [m for m in deltas if f"{m}.weight" not in source.shards]
    if missing:
        raise ExportError(
            f"{adapter}: the adapter names modules the base model {base} does not have "
            f"({', '.join(missing[:3])}); was it trained on another model?"
        )
    if plan.method == "qlora" and getattr(plan.output, "merge_base", "dequantized") == "dequantized":
        from ..merge import _start_backend

        source.quantized = _linear_weights(base)
        source.quantization = plan.quantization
        source.backend = _start_backend(run_dir) or "builtin-nf4"
        source.compute_dtype = precision_dtypes(plan)[0]
    return source


def _config(model_dir: Path) -> dict[str, Any]:
    path = model_dir / "config.json"
    if not path.is_file():
        raise ExportError(f"{model_dir}: no config.json")
    return json.loads(path.read_text(encoding="utf-8"))
