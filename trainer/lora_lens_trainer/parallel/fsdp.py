"""FSDP2: `fully_shard` on every decoder layer and on the root, so each rank keeps 1/N of the parameters, gradients
and optimizer states, all-gathers a layer's parameters just before it runs (and again for its backward: reshard
after forward) and reduce-scatters its gradients. The compute dtype (bf16 under bf16-mixed and bf16-true) is the
all-gather's, gradients are reduced in fp32. Checkpoints are torch.distributed.checkpoint's: every rank writes its
shards into one folder on a shared file system."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import torch
import torch.distributed as dist
from torch import nn

from ..plan import PlanError
from .ddp import Through
from .group import RANK_RNG_FILE, Grouped

if TYPE_CHECKING:
    from ..distributed import Placement
    from ..lifecycle.checkpoint import Loaded
    from ..plan import TrainingPlan
    from ..session import Session

T = TypeVar("T")
log = logging.getLogger("lora_lens_trainer")


def refusal(plan: TrainingPlan) -> str | None:
    """What FSDP2 cannot train here, in a sentence with the way out."""
    if plan.method == "qlora":
        return (
            "QLoRA is not trained with hardware.distributed: fsdp: the 4-bit base weights are buffers (built-in "
            "NF4) or bitsandbytes Params4bit, which fully_shard does not shard, so every GPU would still hold the "
            "whole base at FSDP's communication cost; use hardware.distributed: ddp for QLoRA (each GPU holds "
            "the 4-bit base), or method: lora with fsdp"
        )
    if plan.precision == "fp16-mixed":
        return (
            "precision fp16-mixed is not trained with hardware.distributed: fsdp (the loss scaler would have to "
            "agree on overflows across sharded gradients): use bf16-mixed, or hardware.distributed: ddp"
        )
    return None


def offloads(plan: TrainingPlan) -> bool:
    """hardware.fsdp.offload_params under hardware.distributed: fsdp: the shards kept in CPU memory (a leftover fsdp
    block under ddp or none offloads nothing)."""
    fsdp = plan.hardware.fsdp
    return plan.hardware.distributed == "fsdp" and fsdp is not None and fsdp.offload_params


def decoder_layers(model: nn.Module) -> list[nn.Module]:
    """The repeated transformer blocks: the modules of the ModuleList holding most parameters."""
    best: list[nn.Module] = []
    size = 0
    for module in model.modules():
        if isinstance(module, nn.ModuleList) and len(module) > 1:
            n = sum(p.numel() for p in module.parameters())
            if n > size:
                best, size = list(module), n
    return best


class Fsdp(Grouped):
    name = "fsdp"

    def __init__(self, placement: Placement, plan: TrainingPlan) -> None:
        super().__init__(placement)
        why = refusal(plan)
        if why:
            raise PlanError(why)
        self.plan = plan

    def wrap(self, model: nn.Module, plan: TrainingPlan) -> None:
        from torch.distributed.device_mesh import init_device_mesh
        from torch.distributed.fsdp import CPUOffloadPolicy, MixedPrecisionPolicy, OffloadPolicy, fully_shard

        from ..modeling import precision_dtypes

        mesh = init_device_mesh(self.device.type, (self.world_size,))
        weights, autocast = precision_dtypes(plan)
        compute = autocast or weights
        # LoRA's fp32 adapters beside bf16 base weights: one all-gather dtype per layer, the compute dtype.
        policy = MixedPrecisionPolicy(
            param_dtype=None if compute == torch.float32 else compute, reduce_dtype=torch.float32
        )
        layers = decoder_layers(model)
        if not layers:
            raise PlanError(
                f"{type(model).__name__}: no decoder layers found to shard with FSDP; use hardware.distributed: ddp"
            )
        # hardware.fsdp.offload_params: the shards (parameters, their gradients, hence the optimizer states and step)
        # live in CPU memory, copied to the GPU for each layer's all-gather; pinned so the copies overlap compute.
        offload = CPUOffloadPolicy(pin_memory=self.device.type == "cuda") if offloads(plan) else OffloadPolicy()
        if offloads(plan):
            log.info(
                "FSDP2 CPU offload (hardware.fsdp.offload_params): parameter, gradient and optimizer shards in CPU memory"
            )
        for layer in layers:
            fully_shard(layer, mesh=mesh, mp_policy=policy, offload_policy=offload, reshard_after_forward=True)
        self.root = Through(model)
        fully_shard(self.root, mesh=mesh, mp_policy=policy, offload_policy=offload)

    def forward(self, compute: Callable[[], T]) -> T:
        return self.root(compute)

    def evaluate(self, compute: Callable[[], T]) -> T:
        try:
            return self.root(compute)
        finally:
            self._reshard()

    def _reshard(self) -> None:
        from torch.distributed.fsdp import FSDPModule

        for module in self.root.modules():
            if isinstance(module, FSDPModule):
                module.reshard()

    def clip(self, params: list[nn.Parameter], max_norm: float) -> torch.Tensor:
        from torch.distributed.tensor import DTensor

        # clip_grad_norm_ reduces the norm over the shards (the total norm is a DTensor); the clip uses it whole.
        norm = torch.nn.utils.clip_grad_norm_(params, max_norm, foreach=True)
        return norm.full_tensor() if isinstance(norm, DTensor) else norm

    def _state(self, s: Session) -> tuple[dict[str, Any], Any]:
        from torch.distributed.checkpoint.state_dict import StateDictOptions, get_state_dict

        # Frozen base weights come from the model files again on resume: only what trains is stored.
        options = StateDictOptions(ignore_frozen_params=True, strict=False)
        model_state, optim_state = get_state_dict(self.root, s.optimizer, options=options)
        return {"model": model_state, "optimizer": optim_state}, options

    def save(
        self,
        write: Callable[[Callable[[Path], None] | None], Path],
        s: Session,
        folder: Path,
        step: int,
        state: dict[str, Any],
    ) -> Path:
        import torch.distributed.checkpoint as dcp

        from ..atomic import remove_stale_staging, staged_dir
        from ..lifecycle import checkpoint

        final = checkpoint.step_folder(folder, step)
        shards, _ = self._state(s)
        rngs = self.rng_states()
        with contextlib.ExitStack() as stack:
            box: list[Any] = [None]
            if self.is_main:
                remove_stale_staging(folder)
                box[0] = str(stack.enter_context(staged_dir(final)))
            dist.broadcast_object_list(box, src=0)
            tmp = Path(box[0])
            dcp.save(shards, checkpoint_id=tmp)
            self.barrier()
            if self.is_main:
                assert rngs is not None
                torch.save(s.scheduler.state_dict(), tmp / "scheduler.pt")
                torch.save(rngs[0], tmp / "rng.pt")
                torch.save(rngs, tmp / RANK_RNG_FILE)
                checkpoint.finish(tmp, state, step, s.fingerprint)
        if self.is_main:
            checkpoint.prune(folder, self.plan.training.save_total_limit)
        self.barrier()
        return final

    def _apply(self, loaded: Loaded, s: Session) -> None:
        import torch.distributed.checkpoint as dcp
        from torch.distributed.checkpoint.state_dict import set_state_dict

        shards, options = self._state(s)
        dcp.load(shards, checkpoint_id=loaded.path)
        set_state_dict(
            self.root,
            s.optimizer,
            model_state_dict=shards["model"],
            optim_state_dict=shards["optimizer"],
            options=options,
        )
        s.scheduler.load_state_dict(loaded.scheduler)

    def export(self, write: Callable[..., Path], s: Session) -> Path:
        """The adapter: every layer's parameters gathered whole on every rank (small beside the model), rank 0
        writes them, then the shards are back. The model (`full`): its full state dict gathered into rank 0's CPU
        memory, which writes it."""
        from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict
        from torch.distributed.fsdp import FSDPModule

        if self.plan.method == "full":
            whole = get_model_state_dict(self.root, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
            # Named from the wrapper: "model." + the model's own names.
            state = {name.removeprefix("model."): tensor for name, tensor in whole.items()}
            return super().export(lambda: write(state), s)
        for module in self.root.modules():
            if isinstance(module, FSDPModule):
                module.unshard()
        try:
            return super().export(write, s)
        finally:
            self._reshard()
