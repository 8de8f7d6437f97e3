"""A forward pass of a whole model with one decoder layer on the device at a time: what the merge's check runs, so the
merge needs no more GPU memory than the training did (issue 26: a Qwen2-7B QLoRA run trained at 9.9 GiB under a
16 GiB cap failed to merge there at 14.9 GiB, the whole merged model in bf16 on the GPU).

The model is built on the meta device (model/stream_load.skeleton). What stays resident on the device: the
parameters outside the decoder layers (embeddings, final norm, output head) and the probe's activations. Each
decoder layer's weights come from `tensor_of` just before the layer runs and go back to the meta device once it has
run. An adapter can ride along as forward hooks on its linear layers (the adapter as separate modules, before any
fold), which is what the merge's fold check compares the merged weights against.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

TensorOf = Callable[[str], torch.Tensor]  # a parameter's name in the model -> its value (any dtype, any device)


def decoder_layers(model: nn.Module) -> nn.ModuleList:
    """The model's repeated blocks: the ModuleList holding the most parameters (model.layers for every architecture
    the trainer supports)."""
    lists = [m for m in model.modules() if isinstance(m, nn.ModuleList) and len(m) > 0]
    if not lists:
        raise ValueError(f"{type(model).__name__} has no list of decoder layers to stream")
    return max(lists, key=lambda m: sum(p.numel() for p in m.parameters()))


def _set_parameter(root: nn.Module, name: str, value: torch.Tensor) -> None:
    owner_name, _, attr = name.rpartition(".")
    owner = root.get_submodule(owner_name) if owner_name else root
    owner._parameters[attr] = nn.Parameter(value, requires_grad=False)


def _place(root: nn.Module, names: list[str], tensor_of: TensorOf, prefix: str, dtype: Any, device: Any) -> None:
    for name in names:
        _set_parameter(root, name, tensor_of(prefix + name).to(device=device, dtype=dtype))


def _release(root: nn.Module, names: list[str]) -> None:
    for name in names:
        held = root.get_parameter(name)
        _set_parameter(root, name, torch.empty(held.shape, dtype=held.dtype, device="meta"))


def _loader(
    model: nn.Module,
    names: list[str],
    tensor_of: TensorOf,
    prefix: str,
    dtype: torch.dtype,
    device: torch.device,
    on_layer: Callable[[nn.Module], None] | None,
) -> Callable[[nn.Module, Any], None]:
    def hook(layer: nn.Module, _args: Any) -> None:
        _place(layer, names, tensor_of, prefix, dtype, device)
        if on_layer is not None:
            on_layer(model)

    return hook


def _adapter_hook(a: torch.Tensor, b: torch.Tensor, scale: float) -> Callable[..., torch.Tensor]:
    def hook(_module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> torch.Tensor:
        x = inputs[0]
        return output + scale * ((x.to(a.dtype) @ a.t()) @ b.t()).to(output.dtype)

    return hook


def streamed_logits(
    config_dir: Path,
    tensor_of: TensorOf,
    probe: torch.Tensor,
    device: torch.device,
    dtype: torch.dtype,
    adapter: tuple[dict[str, tuple[torch.Tensor, torch.Tensor]], float] | None = None,
    attn_implementation: str = "eager",
    trust_remote_code: bool = False,
    on_layer: Callable[[nn.Module], None] | None = None,
) -> torch.Tensor:
    """The logits of the model in `config_dir` with weights from `tensor_of`, as fp32 on the CPU; peak device memory
    is the resident parameters, one decoder layer (and its adapter) and the activations. `on_layer(model)` is called
    once each layer's weights are in place (what a test measures)."""
    from .host_malloc import return_large_frees_to_the_os
    from .model.stream_load import skeleton

    return_large_frees_to_the_os()
    model = skeleton(config_dir, dtype, attn_implementation, trust_remote_code).eval()
    layers = decoder_layers(model)
    in_layers = {id(p) for p in layers.parameters()}
    head, embed = model.get_output_embeddings(), model.get_input_embeddings()
    tied = head is not None and head.weight is embed.weight  # stored once, under the embeddings' name
    resident = [n for n, p in model.named_parameters() if id(p) not in in_layers]
    _place(model, resident, tensor_of, "", dtype, device)
    if tied:
        head.weight = embed.weight
    layers_name = next(n for n, m in model.named_modules() if m is layers)
    for i, layer in enumerate(layers):
        prefix = f"{layers_name}.{i}."
        names = [n for n, _ in layer.named_parameters()]
        layer.register_forward_pre_hook(_loader(model, names, tensor_of, prefix, dtype, device, on_layer))
        layer.register_forward_hook(lambda m, _a, _o, names=names: _release(m, names))
    if adapter is not None:
        deltas, scale = adapter
        for module_name, (a, b) in deltas.items():
            model.get_submodule(module_name).register_forward_hook(
                _adapter_hook(a.to(device, torch.float32), b.to(device, torch.float32), scale)
            )
    with torch.no_grad():
        logits = model(input_ids=probe.to(device)).logits.float().cpu()
    _release(model, [n for n, p in model.named_parameters() if p.device.type != "meta"])
    return logits
