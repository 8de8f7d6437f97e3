"""`init_from: <run folder>`: a run starts from another LoRA Lens run's adapter (SFT, then DPO). The adapter is merged
into the base weights as they load (W += scaling · B·A, in fp32, back to the weights' dtype), so the starting model is
the tuned one; a new adapter (LoRA) or all the weights (full) train from there, and a preference objective's
reference, the model with the new adapter disabled or its starting weights, is the tuned model too. A resume merges
again from the same folder, before the checkpoint loads.

Refused, each with what to do: a folder that is not a run, a run that did not complete (its adapter would be a
checkpoint's or none), a run of full fine-tuning (its output is a whole model: name it as `model`), a run on
another base model, and a 4-bit base (method qlora: adding to NF4 codes would quantize the update away)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .lora import LoraLinear
from .plan import PlanError, TrainingPlan

KEY = "init_from"


def _refuse(message: str) -> PlanError:
    return PlanError(f"{KEY}: {message}", (KEY,))


def _end_event(run: Path) -> dict[str, Any] | None:
    events = run / "events.jsonl"
    if not events.is_file():
        return None
    end = None
    for line in events.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            event = json.loads(line)
        except (ValueError, RecursionError):  # a torn line, or one nested past Python's recursion limit
            continue
        if isinstance(event, dict) and event.get("event") == "end":
            end = event
    return end


# A plan.json past this is no plan LoRA Lens wrote (they are a few KiB); the editor's check has the same bound.
PLAN_READ = 4 * 1024 * 1024


def _their_plan(run: Path) -> dict[str, Any]:
    """The run's plan.json as a dict, or PlanError: garbage, a huge file or deep nesting is no run's plan."""
    path = run / "plan.json"
    size = path.stat().st_size
    if size > PLAN_READ:
        raise _refuse(
            f"{run} is not a LoRA Lens run folder (its plan.json is {size // 2**20} MiB): name a finished run"
        )
    try:
        theirs = json.loads(path.read_text(encoding="utf-8", errors="replace"))
    except (ValueError, RecursionError) as error:
        raise _refuse(
            f"{run} is not a LoRA Lens run folder (its plan.json could not be read: {str(error)[:120]})"
        ) from None
    if not isinstance(theirs, dict):
        raise _refuse(f"{run} is not a LoRA Lens run folder (its plan.json is not an object)")
    return theirs


def adapter_of(run_dir: str, plan: TrainingPlan) -> Path:
    """The finished run's adapter folder, or PlanError saying what is wrong and what to do."""
    run = Path(run_dir)
    if not (run / "plan.json").is_file():
        raise _refuse(f"{run} is not a LoRA Lens run folder (no plan.json): name the folder of a finished run")
    theirs = _their_plan(run)
    if theirs.get("method") == "full":
        out = (theirs.get("output") or {}).get("dir") or run
        raise _refuse(
            f"{run} is a full fine-tuning run: its result is a whole model, not an adapter; set model: to its "
            f"saved model folder ({out}) instead"
        )
    base = (theirs.get("model") or {}).get("name_or_path")
    if base != plan.model.name_or_path:
        raise _refuse(
            f"{run} trained an adapter for {base!r}, this run's model is {plan.model.name_or_path!r}: an adapter "
            "only fits the base it was trained on (set model: to the same base)"
        )
    end = _end_event(run)
    if end is None or end.get("status") != "completed":
        status = "no end" if end is None else f"ended {end.get('status')!r}"
        raise _refuse(
            f"{run} did not complete ({status}): finish it first (lora-lens run --resume on that folder) or "
            "name a completed run"
        )
    adapter = Path(end.get("adapter_path") or run / "adapter")
    if not (adapter / "adapter_model.safetensors").is_file():
        raise _refuse(f"{adapter} has no adapter_model.safetensors: the run's adapter was moved or deleted")
    return adapter


def merge_run_adapter(model: nn.Module, plan: TrainingPlan) -> int:
    """Merges `plan.init_from`'s adapter into `model`'s base weights; returns the number of layers merged."""
    run_dir = getattr(plan, KEY, None)
    if not run_dir:
        return 0
    if plan.method == "qlora":
        raise _refuse(
            "method qlora keeps the base in 4 bits, where the adapter's update would be quantized away: train with "
            "method lora, or export the run merged (lora-lens export --format merged) and quantize that as model"
        )
    from safetensors.torch import load_file

    adapter = adapter_of(run_dir, plan)
    config = json.loads((adapter / "adapter_config.json").read_text(encoding="utf-8"))
    r, alpha = int(config["r"]), float(config["lora_alpha"])
    scaling = alpha / math.sqrt(r) if config.get("use_rslora") else alpha / r
    state = load_file(str(adapter / "adapter_model.safetensors"))
    modules = dict(model.named_modules())
    merged = 0
    for key, a in state.items():
        if not key.endswith(".lora_A.weight"):
            continue
        name = key.removeprefix("base_model.model.").removesuffix(".lora_A.weight")
        b = state[key.replace(".lora_A.", ".lora_B.")]
        target = modules.get(name)
        if isinstance(target, LoraLinear):
            target = target.base_layer
        weight = getattr(target, "weight", None)
        if (
            not isinstance(weight, torch.Tensor)
            or not weight.is_floating_point()
            or weight.shape != (b.shape[0], a.shape[1])
        ):
            raise _refuse(f"{adapter}: its layer {name} has no matching linear weight in this model")
        with torch.no_grad():
            update = (b.to(weight.device, torch.float32) @ a.to(weight.device, torch.float32)) * scaling
            weight.copy_((weight.float() + update).to(weight.dtype))
        merged += 1
    if merged == 0:
        raise _refuse(f"{adapter}: no LoRA layers in adapter_model.safetensors")
    return merged
