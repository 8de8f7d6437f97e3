"""Checkpointed layers' inputs kept in pinned CPU memory instead of on the GPU (`training.activation_offloading`:
our dialect's `gradient_checkpointing: offload`, axolotl's and TRL's keys of the same meaning).

A checkpointed decoder layer keeps one tensor through the forward: its input hidden states (tokens x hidden), which
torch.utils.checkpoint saves to recompute the layer in backward. Here that tensor goes through a saved_tensors_hooks
pair installed around each checkpointed layer's checkpoint call (not inside it: the recompute's own saved tensors
stay checkpoint's business):
- pack: copied to a pinned host buffer on a side stream, after the compute stream's work so far (the GPU tensor is
  marked used by that stream, so the allocator does not hand it out before the copy ends); the compute stream does
  not wait.
- unpack (backward reaches the layer): the compute stream waits for that copy back, which was started when backward
  unpacked the layer after it (prefetch: backward visits layers in reverse, so the input needed next is the one
  packed just before). At most two layer inputs are on the GPU at a time, the one in use and the one in flight,
  as the estimate counts them (memory/context.ts OFFLOAD_RESIDENT_LAYERS).
- the end of the forward (a forward hook on the decoder body, before the loss): the copy back of the input backward
  needs first (the last one packed) starts there, so it overlaps the loss, whose fused head forms its gradients in
  its forward (loss.py), and the backward of the layers not checkpointed; otherwise nothing would prefetch it and
  backward would wait for the whole copy. It is one input on the GPU during the loss, within the two above. A second
  forward before backward (another packed input) drops it: it is fetched again when its turn comes.
PyTorch's pinned host allocator caches and recycles the buffers once the copies that used them have ended.

On the CPU (the tests) the same bookkeeping runs with copies in place of transfers, so the order and the prefetch are
tested there; the transfers and their overlap are the GPU benchmark's (trainer/bench/fused_gpu.py).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import torch
from torch import nn


class _Packed:
    """One offloaded tensor: its host copy, where it came from, and its copy back once prefetched."""

    __slots__ = ("host", "device", "index", "copied", "staged", "ready", "used", "__weakref__")

    def __init__(self, host: torch.Tensor, device: torch.device, index: int) -> None:
        self.host, self.device, self.index = host, device, index
        self.copied: Any = None  # CUDA event: the host copy is complete
        self.staged: torch.Tensor | None = None  # the copy back, prefetched
        self.ready: Any = None  # CUDA event: the copy back is complete
        self.used = False


class ActivationOffload:
    """The pack/unpack pair and its side stream; `hits` counts unpacks served by a prefetch, `misses` the others."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.cuda = device.type == "cuda"
        self.stream: Any = torch.cuda.Stream(device) if self.cuda else None
        self.order: list[weakref.ref[_Packed]] = []
        self.in_backward = False
        self.hits = self.misses = 0
        self.bytes_offloaded = 0
        self.early: weakref.ref[_Packed] | None = None  # prefetched when the forward ended, not yet unpacked

    def _side(self) -> AbstractContextManager[Any]:
        return torch.cuda.stream(self.stream) if self.cuda else nullcontext()

    def pack(self, t: torch.Tensor) -> Any:
        if t.device.type != self.device.type or not t.is_floating_point():
            return t
        if self.in_backward:  # a new forward (the next micro-batch or step): the last one's entries are gone
            self.order.clear()
            self.in_backward = False
        self._drop_early()
        if self.cuda:
            host = torch.empty(t.size(), dtype=t.dtype, pin_memory=True)
            self.stream.wait_stream(torch.cuda.current_stream(self.device))
            with self._side():
                host.copy_(t, non_blocking=True)
                copied = torch.cuda.Event()
                copied.record()
            t.record_stream(self.stream)
        else:
            host, copied = t.detach().clone(), None
        packed = _Packed(host, t.device, len(self.order))
        packed.copied = copied
        self.order.append(weakref.ref(packed))
        self.bytes_offloaded += t.numel() * t.element_size()
        return packed

    def _copy_back(self, packed: _Packed) -> torch.Tensor:
        """The host copy on its device again, on the current stream, after the host copy is complete."""
        if not self.cuda:
            return packed.host.clone()
        torch.cuda.current_stream(self.device).wait_event(packed.copied)
        return packed.host.to(packed.device, non_blocking=True)

    def _prefetch(self, index: int) -> None:
        if index < 0 or index >= len(self.order):
            return
        packed = self.order[index]()
        if packed is None or packed.used or packed.staged is not None:
            return
        with self._side():
            packed.staged = self._copy_back(packed)
            if self.cuda:
                packed.ready = torch.cuda.Event()
                packed.ready.record()

    def forward_ended(self) -> None:
        """Starts the copy back of the input backward takes first, the newest packed, on the side stream."""
        if self.in_backward or not self.order:  # an evaluation forward, or a recompute: nothing new was packed
            return
        newest = len(self.order) - 1
        self._prefetch(newest)
        packed = self.order[newest]()
        self.early = weakref.ref(packed) if packed is not None and packed.staged is not None else None

    def _drop_early(self) -> None:
        """Another forward runs before backward: the input fetched early is not the next one backward needs."""
        packed = self.early() if self.early is not None else None
        if packed is not None and not packed.used:
            packed.staged = packed.ready = None
        self.early = None

    def unpack(self, packed: Any) -> torch.Tensor:
        if isinstance(packed, torch.Tensor):
            return packed
        self.in_backward = True
        self.early = None
        staged = packed.staged
        if staged is not None:
            self.hits += 1
            if self.cuda:
                current = torch.cuda.current_stream(self.device)
                current.wait_event(packed.ready)
                staged.record_stream(current)
            out, packed.staged = staged, None
        else:
            self.misses += 1
            out = self._copy_back(packed)
        packed.used = True
        self._prefetch(packed.index - 1)
        return out


def offload_checkpoint_inputs(
    layers: list[nn.Module], device: torch.device, body: nn.Module | None = None
) -> tuple[ActivationOffload, Callable[[], None]]:
    """Routes the inputs that the checkpointed `layers` save through one ActivationOffload; returns it and the undo.
    Each layer's checkpoint call (transformers' `_gradient_checkpointing_func`, set by gradient_checkpointing_enable)
    runs inside the hooks, so checkpoint's saved inputs are packed by them and the recompute's own tensors are not.
    `body`, the decoder whose output the loss reads: when its forward returns, the first copy back starts. Not a
    layer's hook: a checkpointed layer's forward runs again in backward."""
    offload = ActivationOffload(device)
    undo: list[Callable[[], None]] = []
    if body is not None:
        handle = body.register_forward_hook(lambda _module, _args, _out: offload.forward_ended())
        undo.append(handle.remove)
    for layer in layers:
        original = getattr(layer, "_gradient_checkpointing_func", None)
        if original is None or not getattr(layer, "gradient_checkpointing", False):
            continue

        def offloaded(fn: Any, *args: Any, _original: Any = original, **kwargs: Any) -> Any:
            with torch.autograd.graph.saved_tensors_hooks(offload.pack, offload.unpack):
                return _original(fn, *args, **kwargs)

        layer._gradient_checkpointing_func = offloaded  # type: ignore[assignment]
        undo.append(lambda layer=layer, original=original: setattr(layer, "_gradient_checkpointing_func", original))  # type: ignore[misc]

    def undo_all() -> None:
        for u in reversed(undo):
            u()

    return offload, undo_all
