"""Write the facts of the keys `trl sft --config FILE` and `trl dpo --config FILE` accept.

Run with an interpreter that has trl (and its transformers and accelerate) installed:
    python scripts/dialect-facts/extract_trl_args.py > scripts/dialect-facts/trl.facts
TRL's CLI (trl/cli/commands/training.py) parses the YAML with TrlParser over ScriptArguments, SFTConfig or
DPOConfig, ModelConfig and DatasetMixtureConfig; the keys none of them takes are handed to `accelerate launch` as
`--key value`, which stops on any it does not know ("unrecognized arguments"). So the legal keys are those four
dataclasses' fields, accelerate launch's options, TRL's own `accelerate_config`, and `env` (popped first).
Only names, types, defaults, choices and the argument group are taken (facts); the help texts are not copied.
"""

from __future__ import annotations

import dataclasses
import os
import sys

import accelerate
import transformers
import trl
from accelerate.commands.launch import launch_command_parser
from transformers import TrainingArguments
from trl import DatasetMixtureConfig, DPOConfig, ModelConfig, ScriptArguments, SFTConfig

sys.path.insert(0, os.path.dirname(__file__))
from extract_hf_training_args import TRANSFORMERS_4_ONLY, our_default, our_type  # noqa: E402


def fields_of(cls: type) -> dict[str, dataclasses.Field]:
    return {f.name: f for f in dataclasses.fields(cls) if f.init and not f.name.startswith("_")}


def default_of(field: dataclasses.Field) -> object:
    if field.default is not dataclasses.MISSING:
        return field.default
    if field.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
        return field.default_factory()  # type: ignore[misc]
    return dataclasses.MISSING


def type_of(field: dataclasses.Field) -> str:
    choices = field.metadata.get("choices")
    if choices:
        return f"enum({','.join(str(c) for c in choices)})"
    kind = our_type(field.type)
    # list[str] fields (lora_target_modules) take a list of strings; a bare string is accepted by PEFT and TRL alike.
    if "list[str]" in str(field.type) and kind == "str/list[any]":
        return "str/list[str]"
    if str(field.type).startswith("list[str]"):
        return "str/list[str]"
    if str(field.type).startswith("list[float]"):
        return "list[number]"
    return kind


def line(name: str, kind: str, default: str, group: str, gate: str = "", description: str = "") -> str:
    return f"{name} | {kind} | {default} | {group} | {gate} | {description}".rstrip()


def trainer_facts() -> list[str]:
    """TrainingArguments fields (group `training`), TRL's fields of both commands (`trl`), of one (`sft`, `dpo`)."""
    base = fields_of(TrainingArguments)
    sft, dpo = fields_of(SFTConfig), fields_of(DPOConfig)
    out: list[str] = []
    for name in sorted(set(sft) | set(dpo), key=lambda n: (n not in base, n)):
        a, b = sft.get(name), dpo.get(name)
        field = a or b
        assert field is not None
        defaults = [our_default(default_of(f)) if f else None for f in (a, b)]
        if a and b:
            same = defaults[0] == defaults[1] and type_of(a) == type_of(b)
            base_default = our_default(default_of(base[name])) if name in base else None
            if same and name in base and base_default == defaults[0]:
                out.append(line(name, type_of(a), defaults[0] or "", "training"))
            elif same:
                out.append(line(name, type_of(a), defaults[0] or "", "trl"))
            else:
                kind = type_of(a) if type_of(a) == type_of(b) else merged_type(type_of(a), type_of(b))
                words = f"TRL's own default: `{defaults[0] or 'None'}` for `trl sft`, `{defaults[1] or 'None'}` for `trl dpo`."
                out.append(line(name, kind, "", "trl", "", words))
        else:
            out.append(line(name, type_of(field), defaults[0] if a else defaults[1] or "", "sft" if a else "dpo"))
    for name, kind, default in TRANSFORMERS_4_ONLY:
        if name not in base:
            out.append(line(name, kind, default, "training", "transformers<5"))
    return out


def merged_type(a: str, b: str) -> str:
    parts: list[str] = []
    for kind in (a, b):
        for part in kind.split("/"):
            if part not in parts:
                parts.append(part)
    return "/".join(parts)


def group_facts(cls: type, group: str) -> list[str]:
    out = []
    for name, field in fields_of(cls).items():
        default = default_of(field)
        required = name == "model_name_or_path"
        kind = type_of(field) + ("!" if required else "")
        if name == "datasets":
            out.append(line(name, "list[object]", "", group))
            for sub in dataclasses.fields(trl.scripts.utils.DatasetConfig):
                sub_kind = type_of(sub) if sub.name != "data_files" else "str/list[str]/dict"
                out.append(line(f"datasets[].{sub.name}", sub_kind + ("!" if sub.name == "path" else ""), our_default(default_of(sub)), group))
            continue
        out.append(line(name, kind, our_default(default), group))
    return out


def launch_facts(known: set[str]) -> list[str]:
    """`accelerate launch` options: a config key no dataclass takes is passed on to it as `--key value`."""
    out = [line("accelerate_config", "str", "", "launch"), line("env", "dict", "", "launch")]
    known |= {"accelerate_config", "env"}
    for action in launch_command_parser()._actions:
        dest = action.dest
        if dest in ("help", "training_script", "training_script_args") or dest in known or not action.option_strings:
            continue
        if action.nargs == 0:
            kind = "bool"
        elif action.choices:
            kind = f"enum({','.join(str(c) for c in action.choices)})"
        elif action.type is int:
            kind = "int"
        elif action.type is float:
            kind = "float"
        else:
            kind = "str"
        out.append(line(dest, kind, "", "launch"))
        known.add(dest)
    return out


# Our descriptions of the keys TRL recipes use most (the generator words the rest from type and default).
DESCRIBE = {
    "model_name_or_path": "The model to train: a Hugging Face Hub id or a local folder.",
    "dataset_name": "The dataset to train on: a Hub id (`trl-lib/Capybara`) or a local path, loaded with `datasets.load_dataset`.",
    "use_peft": "Train a LoRA adapter (PEFT) instead of every weight; the `lora_*` keys configure it.",
    "lora_r": "LoRA rank (16 by default in TRL's ModelConfig).",
    "lora_alpha": "LoRA scaling numerator (32 by default): the update is scaled by lora_alpha / lora_r.",
    "lora_target_modules": "Modules that get adapters (`all-linear`, or names such as `q_proj`); unset: PEFT's default for the architecture.",
    "load_in_4bit": "Load the base in 4-bit NF4 (bitsandbytes): QLoRA with `use_peft: true`.",
    "load_in_8bit": "Load the base in 8-bit (bitsandbytes LLM.int8()).",
    "bf16": "bf16 mixed precision. TRL turns it on unless `fp16` is set (transformers' own default is off).",
    "gradient_checkpointing": "Recompute activations in the backward pass; TRL turns it on by default (transformers' default is off).",
    "learning_rate": "Peak learning rate. TRL's default: 2e-5 for `trl sft`, 1e-6 for `trl dpo`.",
    "max_length": "Longest tokenized sequence (SFT) or prompt + completion (DPO); longer ones are truncated. Default 1024.",
    "packing": "Pack several examples into each `max_length` sequence (`trl sft` only).",
    "beta": "DPO's beta: how far the policy may move from the reference (0.1 by default; `trl dpo` only).",
    "loss_type": "The loss: `nll`, `dft` or `chunked_nll` for `trl sft`; `sigmoid` (DPO), `ipo`, `hinge`, ... or a list for `trl dpo`.",
    "per_device_train_batch_size": "Samples (DPO: preference pairs) per GPU per forward pass (8 by default).",
    "gradient_accumulation_steps": "Forward/backward passes summed before each optimizer step: a larger effective batch without more activation memory.",
    "accelerate_config": "TRL's shortcut for `accelerate launch --config_file`: a file, or one of TRL's own (`zero3`, `fsdp2`, `multi_gpu`, ...).",
    "env": "Environment variables TRL sets before the run (a mapping).",
}


def main() -> None:
    print(f"# TRL {trl.__version__} CLI keys (`trl sft|dpo --config FILE`), extracted by scripts/dialect-facts/extract_trl_args.py")
    print(f"# from the installed trl {trl.__version__}, transformers {transformers.__version__}, accelerate {accelerate.__version__}.")
    print("# Groups: script (ScriptArguments), model (ModelConfig), datasets (DatasetMixtureConfig), training (transformers")
    print("#   TrainingArguments with TRL's defaults unchanged), trl (fields of both SFTConfig and DPOConfig), sft, dpo, launch")
    print("#   (accelerate launch options, which TRL's CLI hands the keys no dataclass takes; accelerate_config; env).")
    print("# Format: key | type | default | group | gate | description (ours)")
    print(f"@version trl {trl.__version__}")
    print(f"@source https://github.com/huggingface/trl/tree/v{trl.__version__}/trl")
    lines = group_facts(ScriptArguments, "script") + group_facts(ModelConfig, "model") + group_facts(DatasetMixtureConfig, "datasets")
    lines += trainer_facts()
    known = {entry.split(" | ")[0] for entry in lines}
    lines += launch_facts(known)
    for key, text in DESCRIBE.items():
        print(f"@describe {key} | {text}")
    for entry in lines:
        print(entry)


if __name__ == "__main__":
    sys.exit(main())
