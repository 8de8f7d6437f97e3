"""Write the facts of transformers' Seq2SeqTrainingArguments (the keys LLaMA-Factory's train parser accepts from HF).

Run with an interpreter that has transformers installed:
    python scripts/dialect-facts/extract_hf_training_args.py > scripts/dialect-facts/transformers-training-args.facts
Only names, types and defaults are taken (facts); no help text. LLaMA-Factory ff6d4d1 allows transformers
>=4.55.0,<=5.8.0, so keys that 4.x still has and 5.x removed are appended from a fixed list (gate `transformers<5`).
"""

from __future__ import annotations

import dataclasses
import enum
import json
import re
import sys

import transformers
from transformers import Seq2SeqTrainingArguments

# Fields of TrainingArguments in the 4.55-4.57 wheels that 5.x dropped: name, type (our notation), default.
TRANSFORMERS_4_ONLY: list[tuple[str, str, str]] = [
    ("overwrite_output_dir", "bool", "false"),
    ("logging_dir", "str", ""),
    ("warmup_ratio", "float", "0.0"),
    ("save_safetensors", "bool", "true"),
    ("jit_mode_eval", "bool", "false"),
    ("use_ipex", "bool", "false"),
    ("fp16_opt_level", "str", "O1"),
    ("half_precision_backend", "str", "auto"),
    ("tpu_num_cores", "int", ""),
    ("tpu_metrics_debug", "bool", "false"),
    ("past_index", "int", "-1"),
    ("fsdp_min_num_params", "int", "0"),
    ("fsdp_transformer_layer_cls_to_wrap", "str", ""),
    ("group_by_length", "bool", "false"),
    ("push_to_hub_model_id", "str", ""),
    ("push_to_hub_organization", "str", ""),
    ("push_to_hub_token", "str", ""),
    ("mp_parameters", "str", ""),
    ("torchdynamo", "str", ""),
    ("ray_scope", "str", "last"),
    ("use_mps_device", "bool", "false"),
    ("include_tokens_per_second", "bool", "false"),
    ("per_gpu_train_batch_size", "int", ""),
    ("per_gpu_eval_batch_size", "int", ""),
    ("use_legacy_prediction_loop", "bool", "false"),
    ("no_cuda", "bool", "false"),
    ("include_inputs_for_metrics", "bool", "false"),
    ("fp16_backend", "str", "auto"),
]


def our_type(annotation: object) -> str:
    text = str(annotation).replace("typing.", "").replace("NoneType", "None")
    text = re.sub(r"<class '([\w.]+)'>", r"\1", text)
    # A mapping's key and value types say nothing about what the field itself accepts.
    text = re.sub(r"(dict|Dict)\[[^\]]*\]", "dict", text)
    parts = set(re.split(r"[\s|,\[\]]+", text)) - {"", "None", "Optional", "Union"}
    enum_like = {p for p in parts if re.search(r"(Strategy|Names|Type|Option)$", p)}
    # A class the YAML cannot spell (GenerationConfig, a Path object): accept anything rather than guess.
    if any("." in p and p not in enum_like for p in parts):
        return "any"
    kinds: list[str] = []
    if "bool" in parts:
        kinds.append("bool")
    if "int" in parts and "float" not in parts:
        kinds.append("int")
    if "float" in parts:
        kinds.append("number" if "int" in parts else "float")
    if "str" in parts or enum_like:
        kinds.append("str")
    if parts & {"dict", "Dict"}:
        kinds.append("dict")
    if parts & {"list", "List"}:
        kinds.append("list[any]")
    return "/".join(dict.fromkeys(kinds)) or "any"


def our_default(value: object) -> str:
    if value is dataclasses.MISSING or value is None:
        return ""
    if isinstance(value, enum.Enum):
        value = value.value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, str)):
        return str(value)
    return json.dumps(value) if isinstance(value, (list, dict)) else ""


def main() -> None:
    print(f"# Seq2SeqTrainingArguments fields from transformers {transformers.__version__} (init fields only), then 4.x-only fields.")
    print(f"@version transformers {transformers.__version__}")
    names = set()
    for field in dataclasses.fields(Seq2SeqTrainingArguments):
        if not field.init or field.name.startswith("_"):
            continue
        names.add(field.name)
        print(f"{field.name} | {our_type(field.type)} | {our_default(field.default)} | training | |")
    for name, kind, default in TRANSFORMERS_4_ONLY:
        if name not in names:
            print(f"{name} | {kind} | {default} | training | transformers<5 |")


if __name__ == "__main__":
    sys.exit(main())
