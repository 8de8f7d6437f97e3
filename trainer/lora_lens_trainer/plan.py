"""Typed reader of plan.json (server/src/core/plan/types.ts: TrainingPlan).

The TypeScript side applies every default and resolves every path, and checks each plan it writes against
schemas/plan.schema.json; this module checks what it reads against the same file (schema_check, no dependencies),
so a bad plan fails at start with the key that is wrong instead of deep in training, then builds typed dataclasses.
A new plan field is declared in types.ts (see the steps there) and added to its dataclass here, with a default
when types.ts marks it optional (`key?:`); tests/test_plan.py fails while a dataclass and the schema disagree.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

from . import schema_check

Method = Literal["full", "lora", "qlora"]
Precision = Literal["bf16-true", "bf16-mixed", "fp16-mixed", "fp32"]
Dtype = Literal["bfloat16", "float16", "float32"]


class PlanError(ValueError):
    """The plan file is unreadable or does not have the TrainingPlan shape; the message names each wrong key."""

    def __init__(self, message: str, keys: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.keys = keys


@dataclass(frozen=True, kw_only=True)
class ModelRef:
    name_or_path: str
    revision: Union[str, None]
    trust_remote_code: bool
    attn_implementation: Literal["sdpa", "eager", "flash_attention_2"]
    load_in_8bit: bool = False


@dataclass(frozen=True, kw_only=True)
class LoraPlan:
    r: int
    lora_alpha: float
    lora_dropout: float
    # A string other than "all-linear" is a regular expression over the full module name (PEFT's re.fullmatch).
    target_modules: Union[Literal["all-linear"], str, list[str]]
    bias: Literal["none", "all", "lora_only"]
    use_rslora: bool
    use_dora: bool


@dataclass(frozen=True, kw_only=True)
class QuantizationPlan:
    load_in_4bit: bool
    bnb_4bit_quant_type: Literal["nf4", "fp4"]
    bnb_4bit_use_double_quant: bool
    bnb_4bit_compute_dtype: Dtype
    prepare_for_kbit_training: bool
    # Cast the weights that stay unquantized (embeddings, lm_head, norms) to fp32, as PEFT's
    # prepare_model_for_kbit_training does. Absent (plans of other dialects, and of runs before lean QLoRA): true.
    upcast_non_quantized: bool = True


@dataclass(frozen=True, kw_only=True)
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
    # axolotl's roles_to_train / train_on_eos and LLaMA-Factory's mask_history (data/masking.py); absent: ours.
    roles_to_train: Union[list[str], None] = None
    train_on_eos: Union[Literal["turn", "last", "all", "none"], None] = None
    mask_history: bool = False


@dataclass(frozen=True, kw_only=True)
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
    activation_offloading: bool = False
    # gradient_checkpointing: auto (our dialect); checkpoint_layers then carries the count the estimate chose.
    checkpoint_auto: bool = False
    # Decoder layers checkpointed (the first ones) when gradient_checkpointing; absent (-1): every layer.
    checkpoint_layers: int = -1
    seed: int
    logging_steps: int
    eval_steps: Union[int, None]
    save_steps: int
    save_total_limit: Union[int, None]
    dataloader_num_workers: int


@dataclass(frozen=True, kw_only=True)
class ShardingPlan:
    """A tool's DeepSpeed or FSDP settings, for the estimate of its file; the bundled trainer's plans never carry it."""

    shards: Literal["none", "optimizer", "gradients", "parameters"]
    offload_optimizer: bool
    offload_params: bool
    source: str


@dataclass(frozen=True, kw_only=True)
class FsdpPlan:
    """hardware.fsdp: FSDP2's options for the bundled trainer (parallel/fsdp.py)."""

    offload_params: bool


@dataclass(frozen=True, kw_only=True)
class HardwarePlan:
    gpu: str
    num_gpus: int
    distributed: Literal["none", "ddp", "fsdp", "deepspeed_zero2", "deepspeed_zero3"]
    cost_per_hour: Union[float, None] = None
    sharding: Union[ShardingPlan, None] = None
    fsdp: Union[FsdpPlan, None] = None


@dataclass(frozen=True, kw_only=True)
class OutputPlan:
    dir: str
    merge: bool
    merge_dtype: Dtype
    merge_base: Literal["dequantized", "original"]
    safe_serialization: bool


@dataclass(frozen=True, kw_only=True)
class DpoPlan:
    beta: float
    loss: Literal["sigmoid", "ipo", "hinge"]
    label_smoothing: float


EvalMetric = Literal["exact_match", "f1", "accuracy", "macro_f1", "rouge_l", "bleu", "json_valid", "json_fields"]


@dataclass(frozen=True, kw_only=True)
class EvalPlan:
    """`lora-lens eval`'s settings; the metrics are scored in TypeScript, the rest drives `evaluate`."""

    file: Union[str, None]
    metrics: list[EvalMetric]
    json_schema: Union[str, None]
    max_new_tokens: int
    batch_size: int
    temperature: float
    stop_at_end_of_turn: bool
    general_text: Union[str, None]


@dataclass(frozen=True, kw_only=True)
class OrpoPlan:
    beta: float  # λ in the ORPO paper: the odds-ratio term's weight against the chosen NLL


@dataclass(frozen=True, kw_only=True)
class SimpoPlan:
    beta: float
    gamma: float  # target reward margin (TRL's simpo_gamma)
    cpo_alpha: float  # weight of the chosen answers' NLL (0: SimPO as published)
    label_smoothing: float


@dataclass(frozen=True, kw_only=True)
class KtoPlan:
    beta: float
    desirable_weight: float  # weight of the desirable (label true) rows' losses
    undesirable_weight: float


@dataclass(frozen=True, kw_only=True)
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
    hardware: HardwarePlan
    output: OutputPlan
    engine: Literal["hf", "lora-lens"]
    objective: Literal["sft", "dpo", "orpo", "simpo", "kto"] = "sft"
    dpo: Union[DpoPlan, None] = None
    orpo: Union[OrpoPlan, None] = None
    simpo: Union[SimpoPlan, None] = None
    kto: Union[KtoPlan, None] = None
    # Absent in plans of other dialects and older plans: evaluate's defaults apply.
    eval: Union[EvalPlan, None] = None
    # A finished run folder whose adapter is merged into the base before training (init_from.py).
    init_from: Union[str, None] = None


_SCHEMA_NAME = "plan.schema.json"


@lru_cache(maxsize=1)
def plan_schema() -> dict[str, Any]:
    """schemas/plan.schema.json, read once; where it is looked for: schema_check.schema_dir()."""
    found = schema_check.find_schema(_SCHEMA_NAME)
    if found is None:
        raise PlanError(
            f"the plan schema {schema_check.schema_dir() / _SCHEMA_NAME} is missing: the trainer reads it from "
            "the schemas/ folder beside trainer/ (as in the repository and the extension); set "
            "LORA_LENS_SCHEMA_DIR to the folder holding plan.schema.json if you moved the trainer"
        )
    return schema_check.load_schema(found)


def dotted(path: tuple[Union[str, int], ...]) -> str:
    """('lora', 'target_modules', 0) -> 'lora.target_modules[0]', the key form the TypeScript side names too."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out or "plan"


def _describe(v: schema_check.Violation) -> str:
    if v.keyword == "required":
        return f"{dotted(v.key)}: missing"
    if v.keyword == "additionalProperties":
        return f"{dotted(v.key)}: not a plan key"
    return f"{dotted(v.key)}: {v.message}"


def _validate(raw: Any) -> None:
    problems = sorted({_describe(v) for v in schema_check.violations(plan_schema(), raw)})
    if problems:
        keys = tuple(sorted({p.split(":", 1)[0] for p in problems}))
        raise PlanError(
            "the plan does not match schemas/plan.schema.json (plan.json is written by lora-lens with every "
            "default applied: start the run again from its config instead of editing plan.json):\n  "
            + "\n  ".join(problems),
            keys,
        )


def _convert(tp: Any, value: Any) -> Any:
    """A schema-valid JSON value as the dataclass field's type: nested dataclasses built, ints as floats where typed so."""
    if get_origin(tp) is Union:
        if value is None:
            return None
        inner = [a for a in get_args(tp) if a is not type(None)]
        return _convert(inner[0], value) if len(inner) == 1 else value
    if hasattr(tp, "__dataclass_fields__"):
        # A key the schema lets the plan omit (optional in types.ts) takes the field's default.
        hints = get_type_hints(tp)
        return tp(**{f.name: _convert(hints[f.name], value[f.name]) for f in fields(tp) if f.name in value})
    if tp is float:
        return float(value)
    if tp is int:
        return int(value)
    return value


# Required keys added to plan version 1 after plans were first written, with what a plan written before meant, so
# a run folder made by an older lora-lens still resumes. A key whose absence meant something else needs version 2.
_ADDED_TO_VERSION_1: dict[tuple[str, str], Any] = {("output", "merge_base"): "dequantized"}


def _with_added_keys(raw: Any) -> Any:
    if not isinstance(raw, dict) or raw.get("version") != 1:
        return raw
    upgraded = dict(raw)
    for (section, key), value in _ADDED_TO_VERSION_1.items():
        if isinstance(upgraded.get(section), dict) and key not in upgraded[section]:
            upgraded[section] = {**upgraded[section], key: value}
    return upgraded


def plan_from_dict(raw: Any) -> TrainingPlan:
    """The typed plan of a decoded plan.json; PlanError naming every key that breaks the schema."""
    raw = _with_added_keys(raw)
    _validate(raw)
    return _convert(TrainingPlan, raw)


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
