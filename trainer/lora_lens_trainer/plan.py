"""Typed reader of plan.json (server/src/plan/types.ts: TrainingPlan).

The TypeScript side applies every default and resolves every path; this module only checks that what arrived
has the promised shape, so a bad plan fails at start with the key that is wrong instead of deep in training.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

Method = Literal["full", "lora", "qlora"]
Precision = Literal["bf16-true", "bf16-mixed", "fp16-mixed", "fp32"]


class PlanError(ValueError):
    """The plan file is unreadable or does not have the TrainingPlan shape; the message names the key."""


@dataclass(frozen=True)
class ModelRef:
    name_or_path: str
    revision: Union[str, None]
    trust_remote_code: bool
    attn_implementation: Literal["sdpa", "eager", "flash_attention_2"]


@dataclass(frozen=True)
class LoraPlan:
    r: int
    lora_alpha: float
    lora_dropout: float
    target_modules: Union[Literal["all-linear"], list[str]]
    bias: Literal["none", "all", "lora_only"]
    use_rslora: bool
    use_dora: bool


@dataclass(frozen=True)
class QuantizationPlan:
    load_in_4bit: bool
    bnb_4bit_quant_type: Literal["nf4", "fp4"]
    bnb_4bit_use_double_quant: bool
    bnb_4bit_compute_dtype: Literal["bfloat16", "float16", "float32"]
    prepare_for_kbit_training: bool


@dataclass(frozen=True)
class DataPlan:
    train: str
    eval: Union[str, None]
    format: Literal["chat", "instruction", "text"]
    chat_template: str
    max_length: int
    packing: bool
    group_by_length: bool
    train_on_prompt: bool
    dedupe: bool
    strip_html: bool


@dataclass(frozen=True)
class TrainingArgs:
    learning_rate: float
    per_device_train_batch_size: int
    per_device_eval_batch_size: int
    gradient_accumulation_steps: int
    num_train_epochs: float
    max_steps: int
    warmup_ratio: float
    warmup_steps: int
    lr_scheduler_type: Literal["linear", "cosine", "constant", "constant_with_warmup"]
    max_grad_norm: float
    weight_decay: float
    optim: Literal["adamw_torch", "adamw_torch_fused", "adamw_8bit", "paged_adamw_8bit", "adafactor", "sgd"]
    gradient_checkpointing: bool
    seed: int
    logging_steps: int
    eval_steps: Union[int, None]
    save_steps: int
    save_total_limit: Union[int, None]
    dataloader_num_workers: int


@dataclass(frozen=True)
class HardwarePlan:
    gpu: str
    num_gpus: int
    distributed: str


@dataclass(frozen=True)
class OutputPlan:
    dir: str
    merge: bool
    merge_dtype: Literal["bfloat16", "float16", "float32"]
    safe_serialization: bool


@dataclass(frozen=True)
class TrainingPlan:
    version: Literal[1]
    config_path: Union[str, None]
    model: ModelRef
    method: Method
    precision: Precision
    lora: Union[LoraPlan, None]
    quantization: Union[QuantizationPlan, None]
    data: DataPlan
    training: TrainingArgs
    hardware: Union[HardwarePlan, None]
    output: OutputPlan
    engine: Union[str, None]


# The trainer ignores these (the editor's concern), so their absence is not an error.
_OPTIONAL_KEYS = {"hardware", "engine", "config_path"}


def _check(value: Any, tp: Any, where: str) -> Any:
    origin = get_origin(tp)
    if origin is Union:
        options = [o for o in get_args(tp) if o is not type(None)]
        if value is None and len(options) < len(get_args(tp)):
            return None
        if len(options) == 1:
            # Optional[X]: X's own message names the nested key that is wrong.
            return _check(value, options[0], where)
        for option in options:
            try:
                return _check(value, option, where)
            except PlanError:
                pass
        raise PlanError(f"{where}: {_describe(value)} does not match {_type_name(tp)}")
    if origin is Literal:
        if value not in get_args(tp) or isinstance(value, bool) != any(isinstance(a, bool) for a in get_args(tp)):
            choices = ", ".join(json.dumps(a) for a in get_args(tp))
            raise PlanError(f"{where}: must be one of {choices}, not {_describe(value)}")
        return value
    if origin is list:
        (item,) = get_args(tp)
        if not isinstance(value, list):
            raise PlanError(f"{where}: must be a list, not {_describe(value)}")
        return [_check(v, item, f"{where}[{i}]") for i, v in enumerate(value)]
    if tp is type(None):
        if value is not None:
            raise PlanError(f"{where}: must be null")
        return None
    if tp is bool:
        if not isinstance(value, bool):
            raise PlanError(f"{where}: must be true or false, not {_describe(value)}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or int(value) != value:
            raise PlanError(f"{where}: must be an integer, not {_describe(value)}")
        return int(value)
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise PlanError(f"{where}: must be a number, not {_describe(value)}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise PlanError(f"{where}: must be a string, not {_describe(value)}")
        return value
    if hasattr(tp, "__dataclass_fields__"):
        return _build(tp, value, where)
    raise TypeError(f"plan reader has no rule for {tp!r}")


def _build(cls: Any, value: Any, where: str) -> Any:
    if not isinstance(value, dict):
        raise PlanError(f"{where or 'plan'}: must be an object, not {_describe(value)}")
    hints = get_type_hints(cls)
    kwargs = {}
    for f in fields(cls):
        key = f"{where}.{f.name}" if where else f.name
        if f.name not in value:
            if not where and f.name in _OPTIONAL_KEYS:
                kwargs[f.name] = None
                continue
            raise PlanError(f"{key}: missing (plan.json is written by the TypeScript side with every default applied)")
        kwargs[f.name] = _check(value[f.name], hints[f.name], key)
    return cls(**kwargs)


def _describe(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _type_name(tp: Any) -> str:
    return " or ".join("null" if a is type(None) else getattr(a, "__name__", str(a)) for a in get_args(tp))


def _semantic_checks(plan: TrainingPlan) -> None:
    if plan.method != "full" and plan.lora is None:
        raise PlanError(f"lora: missing for method {plan.method!r}")
    if plan.method == "qlora" and plan.quantization is None:
        raise PlanError("quantization: missing for method 'qlora'")
    if plan.lora is not None and plan.lora.r < 1:
        raise PlanError("lora.r: must be at least 1")
    t = plan.training
    for key in ("per_device_train_batch_size", "per_device_eval_batch_size", "gradient_accumulation_steps", "logging_steps", "save_steps"):
        if getattr(t, key) < 1:
            raise PlanError(f"training.{key}: must be at least 1")
    if t.max_steps <= 0 and t.num_train_epochs <= 0:
        raise PlanError("training: num_train_epochs must be > 0 when max_steps is -1")
    if t.learning_rate <= 0:
        raise PlanError("training.learning_rate: must be > 0")
    if plan.data.max_length < 2:
        raise PlanError("data.max_length: must be at least 2")
    if not Path(plan.data.train).is_absolute():
        raise PlanError(f"data.train: must be an absolute path (the TypeScript side resolves it), got {plan.data.train!r}")


def plan_from_dict(raw: Any) -> TrainingPlan:
    plan = _build(TrainingPlan, raw, "")
    _semantic_checks(plan)
    return plan


def read_plan(path: str | Path) -> TrainingPlan:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise PlanError(f"cannot read plan {path}: {error.strerror or error}") from error
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as error:
        raise PlanError(f"{path}: not JSON ({error.msg} at line {error.lineno} column {error.colno})") from error
    return plan_from_dict(raw)
