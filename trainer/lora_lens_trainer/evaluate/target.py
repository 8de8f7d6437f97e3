"""What TARGET is: a run folder of ours, or any PEFT adapter folder, and what evaluating it needs (the base model,
the adapter or the fully tuned model, the tokenizer, the chat template, the evaluation file).

A run folder answers everything from its plan.json. A foreign adapter folder names its base in adapter_config.json
(base_model_name_or_path); the evaluation file, the template, the format and the length come from the options,
which `lora-lens eval` fills from the training config beside the folder (axolotl's or LLaMA-Factory's, read by
the TypeScript dialects), and the template falls back to the one the tool saved with the tokenizer."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from . import EvalError

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "tokenizer.model")


@dataclass(frozen=True)
class Overrides:
    """What the command line says; None: what the target says."""

    eval_file: Path | str | None = None  # a str only for a Hub dataset (hf://datasets/…)
    chat_template: str | None = None
    data_format: str | None = None
    max_length: int | None = None
    base_model: str | None = None


@dataclass(frozen=True)
class EvalTarget:
    folder: Path
    kind: Literal["run", "peft"]
    base_model: str
    revision: str | None
    trust_remote_code: bool
    # The PEFT adapter folder; None for a fully fine-tuned model (then `tuned_model` is its folder).
    adapter: Path | None
    tuned_model: Path | None
    # Where the tokenizer is loaded from: the one saved beside the weights, else the base model's.
    tokenizer_source: str
    chat_template: str
    data_format: Literal["chat", "instruction", "text"]
    eval_file: Path | str  # a file, or a Hub dataset reference (hf://datasets/…) read with datasets
    max_length: int
    # The run trained on a 4-bit base (QLoRA): the report says which base the evaluation used.
    quantized_training: bool = False


def _has_tokenizer(folder: Path) -> bool:
    return any((folder / name).is_file() for name in TOKENIZER_FILES)


def _eval_file(given: Path | str | None, planned: str | None, folder: Path) -> Path | str:
    chosen = given if given is not None else planned
    # A Hub dataset is read by data/hub.py (the datasets cache, else the Hub cache); it has no file to check.
    if isinstance(chosen, str) and chosen.startswith("hf://datasets/"):
        return chosen
    path = Path(chosen) if chosen is not None else None
    if path is None:
        raise EvalError(
            f"{folder}: no evaluation file: the run's data.eval is not set; pass --eval-file FILE (a .jsonl "
            "of chat or prompt/completion rows, like the training data)"
        )
    if not path.is_file():
        raise EvalError(f"the evaluation file {path} does not exist (or is not a file); pass --eval-file FILE")
    return path


def _from_run(folder: Path, o: Overrides) -> EvalTarget:
    from ..plan import PlanError, read_plan

    try:
        plan = read_plan(folder / "plan.json")
    except PlanError as error:
        raise EvalError(f"{folder / 'plan.json'}: {error}") from error
    adapter, model = folder / "adapter", folder / "model"
    if plan.method == "full":
        if not (model / "config.json").is_file():
            raise EvalError(
                f"{folder} has no model/ (the fully fine-tuned weights): the run writes it when it completes "
                "or stops with a checkpoint"
            )
        weights: tuple[Path | None, Path | None] = (None, model)
    else:
        if not (adapter / "adapter_config.json").is_file():
            raise EvalError(
                f"{folder} has no adapter/ (adapter_config.json): the run writes it when it completes or "
                "stops with a checkpoint"
            )
        weights = (adapter, None)
    saved = weights[0] or weights[1]
    assert saved is not None
    return EvalTarget(
        folder=folder,
        kind="run",
        base_model=o.base_model or plan.model.name_or_path,
        revision=plan.model.revision,
        trust_remote_code=plan.model.trust_remote_code,
        adapter=weights[0],
        tuned_model=weights[1],
        tokenizer_source=str(saved) if _has_tokenizer(saved) else plan.model.name_or_path,
        chat_template=o.chat_template or plan.data.chat_template,
        data_format=_format(o.data_format or plan.data.format),
        eval_file=_eval_file(o.eval_file, (plan.eval.file if plan.eval else None) or plan.data.eval, folder),
        max_length=o.max_length or plan.data.max_length,
        quantized_training=plan.method == "qlora",
    )


def _adapter_config(folder: Path) -> dict[str, Any]:
    try:
        config = json.loads((folder / "adapter_config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise EvalError(f"{folder / 'adapter_config.json'} cannot be read as JSON ({error})") from error
    if not isinstance(config, dict):
        raise EvalError(f"{folder / 'adapter_config.json'} is not a JSON object")
    if config.get("peft_type", "LORA") != "LORA":
        raise EvalError(f"{folder}: a {config.get('peft_type')} adapter; evaluate loads LoRA adapters (peft_type LORA)")
    return config


def _from_adapter(folder: Path, o: Overrides) -> EvalTarget:
    config = _adapter_config(folder)
    if not any((folder / f).is_file() for f in ("adapter_model.safetensors", "adapter_model.bin")):
        raise EvalError(
            f"{folder} has adapter_config.json but no adapter_model.safetensors (or .bin): the weights are missing"
        )
    base = o.base_model or config.get("base_model_name_or_path")
    if not isinstance(base, str) or not base:
        raise EvalError(
            f"{folder / 'adapter_config.json'} names no base_model_name_or_path; pass --base-model "
            "NAME_OR_PATH (the model the adapter was trained on)"
        )
    if o.eval_file is None:
        raise EvalError(
            f"{folder} is an adapter folder without a plan: pass --eval-file FILE (lora-lens eval reads it "
            "from the training config beside the folder, axolotl's test_datasets or LLaMA-Factory's "
            "eval_dataset, when there is one)"
        )
    return EvalTarget(
        folder=folder,
        kind="peft",
        base_model=base,
        revision=config.get("revision"),
        trust_remote_code=False,
        adapter=folder,
        tuned_model=None,
        tokenizer_source=str(folder) if _has_tokenizer(folder) else base,
        chat_template=o.chat_template or "auto",
        data_format=_format(o.data_format or "chat"),
        eval_file=_eval_file(o.eval_file, None, folder),
        max_length=o.max_length or 2048,
    )


def _format(value: str) -> Literal["chat", "instruction", "text"]:
    if value not in ("chat", "instruction", "text"):
        raise EvalError(f"--format {value!r}: one of chat, instruction, text")
    return value  # type: ignore[return-value]


def resolve_target(folder: Path, overrides: Overrides = Overrides()) -> EvalTarget:
    """The target folder read as a run of ours (plan.json) or a PEFT adapter folder (adapter_config.json)."""
    if not folder.is_dir():
        raise EvalError(
            f"{folder} is not a folder: pass a run folder (with plan.json) or a PEFT adapter folder "
            "(with adapter_config.json)"
        )
    if (folder / "plan.json").is_file():
        return _from_run(folder, overrides)
    if (folder / "adapter_config.json").is_file():
        return _from_adapter(folder, overrides)
    hint = next((c for c in sorted(folder.glob("checkpoint-*")) if (c / "adapter_config.json").is_file()), None)
    raise EvalError(
        f"{folder} is neither a run folder (plan.json) nor a PEFT adapter folder (adapter_config.json)"
        + (f"; {hint} is an adapter checkpoint" if hint else "")
    )
