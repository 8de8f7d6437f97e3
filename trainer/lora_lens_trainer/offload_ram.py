"""Host RAM for activation offload, checked before the model loads (issue 28).

offload.py keeps every checkpointed layer's input of a micro-batch in its own pinned host buffer until backward takes
it back. Pinned memory cannot be swapped out: a run that pins more than the machine has available is killed by the
OS (often with its neighbours) at the first forward, after a load that may have taken many minutes. So the bytes
are counted from the plan and config.json, as the estimate counts them (server memory/offloadRam.ts: layers x
tokens x hidden x the residual stream's element size), and compared with MemAvailable for all of this machine's
processes together, less the estimate's margin (server hostRam.ts HOST_RAM_MARGIN: the page cache MemAvailable counts
is not all reclaimable at once). The processes themselves, which the estimate adds before any of them starts, are
already out of MemAvailable when a rank reads it.

FSDP's CPU offload (hardware.fsdp.offload_params) keeps the parameter shards in CPU memory from the wrapping on, and
the gradients and optimizer states of the trainable ones from the first step on: check_offloaded_states counts those
two once the optimizer is built, from its shards and its kind (a CUDA run's gradient shards in the pinned host cache, which
rounds each up to a power of two), with the offloaded activations the first forward pins, so a run that cannot hold
them all stops before its first step.

The plan carries no figure for it (it says which layers and how many tokens, not the model's width), so
config.json is read for the hidden size and the layer count; a model not yet on this machine is checked by nobody
before its download (said in the log), and offload.py's buffers are then the first thing to find out.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .plan import PlanError, TrainingPlan

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)
GIB = 1024**3
HOST_RAM_MARGIN = 0.1
# Objectives whose rows are two sequences (chosen and rejected) in one forward.
PAIRED = {"dpo", "orpo", "simpo"}


class OffloadRamError(PlanError):
    """The pinned memory activation offload needs is more than the machine has available: the plan cannot run here
    as it is (reported as a config error, with what to change)."""


def stream_bytes(plan: TrainingPlan) -> int:
    """Element size of the residual stream, which is what checkpointing saves: fp32 where the weights are fp32 or
    QLoRA's k-bit preparation upcasts the embeddings; else the compute dtype's 2 bytes."""
    q = plan.quantization
    if plan.method == "qlora" and q is not None:
        upcast = q.prepare_for_kbit_training and q.upcast_non_quantized
        return 4 if upcast or q.bnb_4bit_compute_dtype == "float32" else 2
    return 2 if plan.precision == "bf16-true" else 4


def pinned_bytes(plan: TrainingPlan, hidden: int, layers: int) -> int:
    """Bytes one process pins for a full micro-batch: every checkpointed layer's input; 0 without offload."""
    t = plan.training
    if not (t.activation_offloading and t.gradient_checkpointing):
        return 0
    checkpointed = layers if t.checkpoint_layers < 0 else min(t.checkpoint_layers, layers)
    sequences = 2 if plan.objective in PAIRED else 1
    tokens = t.per_device_train_batch_size * plan.data.max_length * sequences
    return checkpointed * tokens * hidden * stream_bytes(plan)


def _text_config(config_file: Path) -> dict[str, Any] | None:
    try:
        config = json.loads(config_file.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(config, dict):
        return None
    text = config.get("text_config")
    return text if isinstance(text, dict) and "hidden_size" in text else config


def check_offload_ram(plan: TrainingPlan, config_file: Path | None, available: int | None) -> int:
    """Raises OffloadRamError where this machine's processes would pin more than `available`; logs why it could
    not check where config.json or the available RAM is unknown. Returns the bytes counted (0 when none)."""
    if not (plan.training.activation_offloading and plan.training.gradient_checkpointing):
        return 0
    config = _text_config(config_file) if config_file is not None else None
    hidden, layers = (config or {}).get("hidden_size"), (config or {}).get("num_hidden_layers")
    if not isinstance(hidden, int) or not isinstance(layers, int):
        log.info("activation offload: host RAM not checked before the load (no local config.json with hidden_size)")
        return 0
    processes = _local_processes()
    need = pinned_bytes(plan, hidden, layers) * processes
    if available is None:
        log.info("activation offload: host RAM not checked (no /proc/meminfo MemAvailable on this system)")
        return need
    if need <= usable(available):
        return need
    whose = f"{processes} processes on this machine together" if processes > 1 else "this process"
    raise OffloadRamError(
        f"activation offload needs about {need / GIB:.1f} GiB of pinned host memory ({whose}: the checkpointed "
        f"layers' inputs of a micro-batch of {plan.training.per_device_train_batch_size} x {plan.data.max_length} "
        f"tokens), and this machine has {available / GIB:.1f} GiB available (MemAvailable), of which a run may pin "
        f"{usable(available) / GIB:.1f} GiB ({HOST_RAM_MARGIN:.0%} kept free): pinned memory cannot "
        "be swapped, so the run would be killed at its first step. Free RAM or use a machine with more; or set "
        "training.gradient_checkpointing: true (no offload) with a smaller per_device_train_batch_size or "
        "max_length; `lora-lens check` on this machine says what auto chooses here"
    )


def usable(available: int) -> int:
    """The most a run may pin of `available`: the margin kept free, as the estimate keeps it."""
    return int(available * (1 - HOST_RAM_MARGIN))


def _local_processes() -> int:
    return max(1, int(os.environ.get("LOCAL_WORLD_SIZE", "1")))


def _pinned_size(nbytes: int) -> int:
    """What PyTorch's pinned host cache takes for `nbytes`: it rounds each block up to a power of two."""
    return 1 << (nbytes - 1).bit_length() if nbytes > 0 else 0


def _state_bytes(optimizer: torch.optim.Optimizer, numel: int, element_size: int) -> int:
    """The states the optimizer's first step gives a parameter: AdamW two in the parameter's dtype, bitsandbytes'
    8-bit AdamW two bytes; SGD without momentum (optim.py's) and Adafactor's factored rows and columns next to none."""
    import torch

    if "8bit" in type(optimizer).__name__:
        return 2 * numel
    return 2 * numel * element_size if isinstance(optimizer, torch.optim.AdamW) else 0


def offloaded_state_bytes(optimizer: torch.optim.Optimizer, pinned: bool) -> int:
    """CPU bytes this process's trainable shards (the optimizer's parameters) take in gradients and optimizer states
    under FSDP CPU offload, which the first step allocates. With `pinned` (a CUDA run), each gradient shard lands in
    the pinned host cache."""
    total = 0
    for group in optimizer.param_groups:
        for p in group["params"]:
            local = p.to_local() if hasattr(p, "to_local") else p
            grad = local.numel() * local.element_size()
            total += (_pinned_size(grad) if pinned else grad) + _state_bytes(
                optimizer, local.numel(), local.element_size()
            )
    return total


def check_offloaded_states(
    plan: TrainingPlan,
    optimizer: torch.optim.Optimizer,
    available: int | None,
    pinned: bool,
    activation_bytes: int = 0,
) -> None:
    """Raises OffloadRamError where FSDP CPU offload's gradients and optimizer states of this machine's ranks, with
    the offloaded activations (`activation_bytes`, all ranks, pinned at the first forward), would not fit in
    `available` (read after the wrapping, so the parameter shards are already out of it; the states come lazily, at
    the first step)."""
    from .parallel.fsdp import offloads

    if not offloads(plan) or available is None:
        return
    processes = _local_processes()
    states = offloaded_state_bytes(optimizer, pinned) * processes
    need = states + activation_bytes
    if need <= usable(available):
        return
    activations = (
        f", plus {activation_bytes / GIB:.1f} GiB of offloaded checkpointed layer inputs" if activation_bytes else ""
    )
    raise OffloadRamError(
        f"FSDP CPU offload (hardware.fsdp.offload_params) keeps the gradients and {plan.training.optim} states of "
        f"the trainable parameters in CPU memory: about {states / GIB:.1f} GiB for the {processes} rank(s) on this "
        f"machine, from the first step on{activations}, and this machine has {available / GIB:.1f} GiB available "
        f"(MemAvailable) after the parameter shards, of which a run may use {usable(available) / GIB:.1f} GiB. Free "
        "RAM, run on more machines (each holds its ranks' shards), train with LoRA, or set "
        "hardware.fsdp.offload_params: false where the shards fit on the GPUs (`lora-lens estimate` says per GPU)"
    )


def local_config_file(plan: TrainingPlan) -> Path | None:
    """The model's config.json where it is already on this machine (a folder or the HF cache); None otherwise."""
    from .modeling import ModelError, model_folder

    try:
        return model_folder(plan) / "config.json"
    except (ModelError, OSError, ValueError):
        return None
