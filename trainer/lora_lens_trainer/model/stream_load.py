"""Streaming quantized load for the built-in NF4 QLoRA (issue 20): the whole bf16 model is never in RAM nor on the
GPU.

The model is built from its config with every parameter on the meta device (no memory; buffers such as rotary
frequencies are computed for real, as they are never stored in checkpoints). The checkpoint's tensors are then read
one at a time (checkpoint_files.read_tensor): each weight of a linear layer that QLoRA quantizes goes to the device in
the compute dtype and is packed to NF4 there (nf4.quantize, in bounded passes); every other tensor (embeddings, the
output head, norms, biases) is placed on the device in the model's dtype.

Bounds (the estimator's `ramAtLoad` and the trainer's RAM check use the same figures):
- CPU RAM: the process as it stands before loading, plus the largest tensor of the checkpoint (its read buffer) and,
  when its file dtype differs from the load dtype, its converted copy. One tensor, not one shard: nothing is mapped.
  On the CPU device the loaded model itself adds to that (the NF4 weights and the unquantized rest).
- GPU: the final NF4 model, plus one bf16 weight and nf4.quantize's pass temporaries (<= 192 MiB).

Before any tensor is read, every header is checked against the model the config describes: a missing shard or
tensor, a tensor of the wrong shape, or a truncated file is a CheckpointError naming the file and the tensor.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from ..nf4 import NF4Linear
from .checkpoint_files import CheckpointError, TensorEntry, checkpoint_tensors, read_tensor

log = logging.getLogger("lora_lens_trainer")

Progress = Callable[[int, int, int, int], None]  # (tensors read, tensors in all, bytes read, bytes in all)


@contextmanager
def parameters_on_meta() -> Iterator[None]:
    """Modules built inside get their parameters on the meta device and their buffers for real (accelerate's
    init_empty_weights(include_buffers=False), without the dependency)."""
    original = nn.Module.register_parameter

    def register(module: nn.Module, name: str, param: nn.Parameter | None) -> None:
        original(module, name, param)
        if param is not None:
            held = module._parameters[name]
            assert held is not None
            module._parameters[name] = nn.Parameter(held.to("meta"), requires_grad=held.requires_grad)

    nn.Module.register_parameter = register  # type: ignore[method-assign, assignment]
    try:
        yield
    finally:
        nn.Module.register_parameter = original  # type: ignore[method-assign]


@dataclass(frozen=True)
class LoadPlan:
    """What the folder's checkpoint gives each tensor of the model, checked before anything is read."""

    entries: list[TensorEntry]  # in file and offset order: the disk is read front to back
    quantized: set[str]  # module names of the linear layers packed to NF4
    largest_bytes: int
    total_bytes: int
    quantized_elements: int  # weights of the quantized layers, which take NF4_BYTES_PER_WEIGHT each once loaded


def skeleton(folder: Path, dtype: torch.dtype, attn_implementation: str, trust_remote_code: bool) -> nn.Module:
    from transformers import AutoConfig, AutoModelForCausalLM

    config = AutoConfig.from_pretrained(folder, trust_remote_code=trust_remote_code, local_files_only=True)
    with parameters_on_meta():
        model = AutoModelForCausalLM.from_config(
            config, dtype=dtype, attn_implementation=attn_implementation, trust_remote_code=trust_remote_code
        )
    model.tie_weights()  # a tied head is then the embeddings' own parameter, stored once in the checkpoint
    return model


def plan_load(model: nn.Module, folder: Path) -> LoadPlan | None:
    """Matches the checkpoint's tensors to the model's; None when the folder has no safetensors checkpoint."""
    tensors = checkpoint_tensors(folder)
    if tensors is None:
        return None
    expected = model.state_dict(keep_vars=True)
    groups: dict[int, list[str]] = {}
    for name, tensor in expected.items():
        groups.setdefault(id(tensor), []).append(name)
    for names in groups.values():  # a tied weight (the head sharing the embeddings) is stored once, under either name
        if not any(n in tensors for n in names):
            raise CheckpointError(
                f"{folder}: the checkpoint has no tensor {names[0]!r}, which {type(model).__name__} "
                f"(from config.json) needs; the files are incomplete or belong to another model"
            )
    entries = []
    for name, tensor in expected.items():
        entry = tensors.get(name)
        if entry is None:
            continue
        if tuple(tensor.shape) != entry.shape:
            raise CheckpointError(
                f"{entry.file}: tensor {name!r} has shape {list(entry.shape)}, but config.json "
                f"describes {list(tensor.shape)}: the weights and config.json are from different "
                f"models"
            )
        entries.append(entry)
    unused = sorted(set(tensors) - set(expected))
    if unused:
        log.warning("the checkpoint has %d tensors the model does not use (ignored): %s", len(unused), unused[:5])
    entries.sort(key=lambda e: (str(e.file), e.start))
    head = model.get_output_embeddings()
    quantized = {name for name, m in model.named_modules() if isinstance(m, nn.Linear) and m is not head}
    largest = max((e.nbytes for e in entries), default=0)
    packed = [e for e in entries if e.name.endswith(".weight") and e.name[: -len(".weight")] in quantized]
    return LoadPlan(
        entries, quantized, largest, sum(e.nbytes for e in entries), sum(e.nbytes // e.dtype.itemsize for e in packed)
    )


def extra_ram_bytes(plan: LoadPlan, dtype: torch.dtype, device: torch.device) -> int:
    """RAM the load adds to the process: the largest tensor's read buffer (and its converted copy when its file
    dtype is not `dtype`), plus the model itself when it is loaded onto the CPU."""
    largest = max(plan.entries, key=lambda e: e.nbytes, default=None)
    if largest is None:
        return 0
    converted = largest.nbytes // largest.dtype.itemsize * dtype.itemsize if largest.dtype != dtype else 0
    return largest.nbytes + converted + (resident_bytes(plan, dtype) if device.type == "cpu" else 0)


# NF4 without double quantization (the larger): 4 bits and one fp32 absmax per 64 weights.
NF4_BYTES_PER_WEIGHT = 0.5 + 4 / 64


def resident_bytes(plan: LoadPlan, dtype: torch.dtype) -> int:
    """The loaded model's size: NF4 for the quantized weights, `dtype` for the rest."""
    total_elements = sum(e.nbytes // e.dtype.itemsize for e in plan.entries)
    rest = total_elements - plan.quantized_elements
    return int(plan.quantized_elements * NF4_BYTES_PER_WEIGHT) + rest * dtype.itemsize


def available_ram_bytes() -> int | None:
    """MemAvailable from /proc/meminfo (Linux); None elsewhere."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def stream_load(
    model: nn.Module,
    plan: LoadPlan,
    device: torch.device,
    dtype: torch.dtype,
    double_quant: bool,
    progress: Progress | None = None,
) -> nn.Module:
    """Fills the meta `model` from the checkpoint, one tensor at a time, quantizing plan.quantized on `device`."""
    done = 0
    for count, entry in enumerate(plan.entries, start=1):
        tensor = read_tensor(entry)
        module_name, _, leaf = entry.name.rpartition(".")
        if leaf == "weight" and module_name in plan.quantized:
            _quantize_into(model, module_name, tensor, device, dtype, double_quant)
        else:
            _place(model, module_name, leaf, tensor, device)
        del tensor
        done += entry.nbytes
        if progress is not None:
            progress(count, len(plan.entries), done, plan.total_bytes)
    model.tie_weights()
    _check_all_loaded(model)
    return model.to(device)  # the buffers built with the skeleton (rotary frequencies); the rest is there already


def _quantize_into(
    model: nn.Module,
    module_name: str,
    weight: torch.Tensor,
    device: torch.device,
    dtype: torch.dtype,
    double_quant: bool,
) -> None:
    parent_name, _, child = module_name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    linear = getattr(parent, child)
    on_device = weight.to(device=device, dtype=dtype)
    setattr(parent, child, NF4Linear.from_weight(on_device, linear.bias, double_quant, dtype))


def _place(model: nn.Module, module_name: str, leaf: str, tensor: torch.Tensor, device: torch.device) -> None:
    module = model.get_submodule(module_name) if module_name else model
    if leaf in module._parameters:
        old = module._parameters[leaf]
        assert old is not None
        module._parameters[leaf] = nn.Parameter(
            tensor.to(device=device, dtype=old.dtype), requires_grad=old.requires_grad
        )
    else:
        old_buffer = module._buffers[leaf]
        dtype = old_buffer.dtype if old_buffer is not None else tensor.dtype
        module._buffers[leaf] = tensor.to(device=device, dtype=dtype)


def _check_all_loaded(model: nn.Module) -> None:
    left = [name for name, t in model.state_dict(keep_vars=True).items() if t.device.type == "meta"]
    if left:
        raise CheckpointError(
            f"after loading, {len(left)} tensors were never filled ({left[:3]}); the checkpoint "
            f"does not match the model's layout"
        )
