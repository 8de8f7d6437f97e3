"""LoRA adapters with one fused autograd function per linear layer, saved in PEFT's adapter format.

Why not PEFT's own layers in the training loop: PEFT keeps adapters in fp32 and casts the layer input to fp32 for
them, so every adapted linear adds an fp32 copy of its input (saved for backward) and several small kernels;
on a 7B model with all-linear r=16 that costs most of a step's time beyond the frozen matmuls. Here the adapter
math runs in the compute dtype (bf16) with fp32 master weights for the optimizer, and backward recomputes
nothing it can reuse. The adapter files are PEFT's (adapter_config.json + adapter_model.safetensors with
PEFT's key names), so `PeftModel.from_pretrained` loads them and merge goes through PEFT.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .atomic import write_json
from .kernels import lora_fused
from .kernels.nf4_matmul import nf4_matmul
from .nf4 import NF4Linear


def _weight(base: nn.Module, dtype: torch.dtype) -> torch.Tensor:
    if isinstance(base, NF4Linear):
        return base.dequantized(dtype)
    bnb_weight = getattr(base, "weight", None)
    if bnb_weight is not None and type(bnb_weight).__name__ == "Params4bit":
        import bitsandbytes.functional as bnbf  # only reached when bitsandbytes loaded the model

        return bnbf.dequantize_4bit(bnb_weight.data, bnb_weight.quant_state).to(dtype)
    return base.weight.to(dtype)


def _base_product(base: nn.Module, x2: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """x W^T for the frozen base; an NF4 weight goes through nf4_matmul (the fused kernel when selected: no bf16 W)."""
    if isinstance(base, NF4Linear):
        return nf4_matmul(x2, base)
    return x2 @ _weight(base, dtype).t()


def _base_input_grad(base: nn.Module, g: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """g W, the input gradient through the frozen base, as _base_product computes the forward."""
    if isinstance(base, NF4Linear):
        return nf4_matmul(g, base, transpose=True)
    return g @ _weight(base, dtype)


class _LoraLinearFn(torch.autograd.Function):
    """y = x W^T + b + s (d(x) A^T) B^T, with d the dropout, in one node of the graph.

    Saved for backward: d(x) (needed for dA; without dropout it is x itself, which the layer before keeps
    alive anyway) and the r-wide product d(x) A^T. W is re-read (or re-dequantized, or read as NF4 inside the fused
    kernel) in backward, never copied."""

    @staticmethod
    def forward(
        ctx: Any,
        x: torch.Tensor,
        xd: torch.Tensor | None,
        a: torch.Tensor,
        b: torch.Tensor,
        base: nn.Module,
        scale: float,
        dtype: torch.dtype,
    ) -> torch.Tensor:
        # xd is None when dropout is off: the adapter reads x itself, and backward forms one input gradient.
        x_c = x.to(dtype)
        xd_c = x_c if xd is None else xd.to(dtype)
        a_c, b_c = a.to(dtype), b.to(dtype)
        x2 = x_c.reshape(-1, x_c.shape[-1])
        xa = xd_c.reshape(-1, xd_c.shape[-1]) @ a_c.t()
        out = _base_product(base, x2, dtype)
        out.addmm_(xa, b_c.t(), alpha=scale)  # in place: no second output-sized buffer
        bias = getattr(base, "bias", None)
        if bias is not None:
            out.add_(bias.to(dtype))
        ctx.save_for_backward(xd_c, xa, a, b)
        ctx.base, ctx.scale, ctx.dtype, ctx.shared = base, scale, dtype, xd is None
        return out.view(*x.shape[:-1], out.shape[-1])

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> Any:
        xd, xa, a, b = ctx.saved_tensors
        dtype, scale = ctx.dtype, ctx.scale
        g = grad.to(dtype).reshape(-1, grad.shape[-1])
        xd2 = xd.reshape(-1, xd.shape[-1])
        a_c, b_c = a.to(dtype), b.to(dtype)
        gb = g @ b_c  # (N, r)
        grad_x = grad_xd = grad_a = grad_b = None
        lead = grad.shape[:-1]
        if ctx.needs_input_grad[0]:
            grad_x = _base_input_grad(ctx.base, g, dtype)
            if ctx.shared:
                grad_x.addmm_(gb, a_c, alpha=scale)
            grad_x = grad_x.view(*lead, -1)
        if not ctx.shared and ctx.needs_input_grad[1]:
            grad_xd = (gb @ a_c).mul_(scale).view(*lead, -1)
        if ctx.needs_input_grad[2]:
            grad_a = (gb.t() @ xd2).mul_(scale).to(a.dtype)
        if ctx.needs_input_grad[3]:
            grad_b = (g.t() @ xa).mul_(scale).to(b.dtype)
        return grad_x, grad_xd, grad_a, grad_b, None, None, None


class LoraLinear(nn.Module):
    """Wraps a frozen linear (nn.Linear, NF4Linear or bitsandbytes Linear4bit) with a trainable low-rank update."""

    def __init__(self, base: nn.Module, r: int, alpha: float, dropout: float, rslora: bool, device: Any) -> None:
        super().__init__()
        self.base_layer = base
        in_f, out_f = base.in_features, base.out_features
        self.r = r
        self.scaling = alpha / math.sqrt(r) if rslora else alpha / r
        self.dropout = dropout
        # PEFT's initialisation: A Kaiming-uniform, B zero, so training starts from the base model exactly.
        self.lora_A = nn.Parameter(torch.empty(r, in_f, device=device, dtype=torch.float32))
        self.lora_B = nn.Parameter(torch.zeros(out_f, r, device=device, dtype=torch.float32))
        nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))
        self.merged = False
        self.disabled = False  # adapters_disabled(): the base layer alone (a preference objective's reference)
        # "one" or "two" (kernels/lora_fused.py's modes) when LORA_LENS_FUSED_KERNELS installs the fused base matmul.
        self.fused_base: str | None = None

    def compute_dtype(self, x: torch.Tensor) -> torch.dtype:
        if torch.is_autocast_enabled(x.device.type):
            return torch.get_autocast_dtype(x.device.type)
        if isinstance(self.base_layer, NF4Linear):
            return self.base_layer.compute_dtype
        w = getattr(self.base_layer, "weight", None)
        return w.dtype if w is not None and w.is_floating_point() else x.dtype

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.disabled:
            return self.base_layer(x)
        dtype = self.compute_dtype(x)
        xd = F.dropout(x, self.dropout, self.training) if self.dropout > 0 and self.training else None
        if self.fused_base and xd is None and lora_fused.applies(x, self.base_layer, dtype):
            return lora_fused.lora_linear(x, self.lora_A, self.lora_B, self.base_layer, self.scaling, self.fused_base)
        out = _LoraLinearFn.apply(x, xd, self.lora_A, self.lora_B, self.base_layer, self.scaling, dtype)
        return out


def _is_linear(m: nn.Module) -> bool:
    return isinstance(m, (nn.Linear, NF4Linear)) or type(m).__name__ in ("Linear4bit", "Linear8bitLt")


def target_matches(targets: str | list[str], name: str) -> bool:
    """PEFT's rule (tuners_utils.check_target_module_exists): a string is a regular expression that must match
    the whole module name; a list entry matches the module of that exact name or any name ending in "." + entry
    (`q_proj`, `mlp.down_proj`, `layers.0.self_attn.q_proj`). 'all-linear' is resolved by find_targets."""
    if isinstance(targets, str):
        return re.fullmatch(targets, name) is not None
    return name in targets or any(name.endswith("." + key) for key in targets)


def find_targets(model: nn.Module, targets: Any, output_layer: nn.Module | None) -> list[str]:
    """Module names to adapt, as PEFT selects them: 'all-linear' is every linear layer but the output head;
    otherwise every module target_matches selects, which must then be a linear layer other than the head
    (PEFT would adapt an embedding or the head too, which this trainer does not: refused, not skipped)."""
    if isinstance(targets, str) and targets.lower() == "all-linear":
        return [name for name, m in model.named_modules() if _is_linear(m) and m is not output_layer]
    if isinstance(targets, str):
        try:
            re.compile(targets)
        except re.error as error:
            raise ValueError(f"lora.target_modules {targets!r} is not a valid regular expression: {error}") from error
    names = []
    for name, module in model.named_modules():
        if not name or not target_matches(targets, name):
            continue
        if module is output_layer:
            raise ValueError(
                f"lora.target_modules {targets!r} selects the output head {name!r}: the bundled trainer's "
                "fused loss reads the head's own weight, so it cannot carry an adapter; remove it"
            )
        if not _is_linear(module):
            raise ValueError(
                f"lora.target_modules {targets!r} selects {name!r} ({type(module).__name__}), which is not "
                "a linear layer: the bundled trainer adapts linear layers only; name the linear layers "
                "inside it (e.g. q_proj, down_proj) or use all-linear"
            )
        names.append(name)
    return names


def inject(model: nn.Module, targets: Any, r: int, alpha: float, dropout: float, rslora: bool) -> list[str]:
    output_layer = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    names = find_targets(model, targets, output_layer)
    if not names:
        raise ValueError(
            f"lora.target_modules {targets!r} matched no linear layer of this model (PEFT's rule: an "
            "entry matches a module named exactly so or ending in '.' + the entry, e.g. q_proj, "
            "mlp.down_proj, model.layers.0.self_attn.q_proj)"
        )
    for p in model.parameters():
        p.requires_grad_(False)
    for name in names:
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        base = getattr(parent, child)
        device = base.packed.device if isinstance(base, NF4Linear) else next(base.parameters()).device
        setattr(parent, child, LoraLinear(base, r, alpha, dropout, rslora, device))
    # What the user gave, for adapter_config.json: PEFT stores target_modules as given and matches them again on load.
    model.lora_lens_target_modules = targets
    return names


@contextmanager
def adapters_disabled(model: nn.Module) -> Iterator[None]:
    """The base model, with no second copy of it: every adapter of `model` skipped inside the block (PEFT's
    disable_adapter). DPO's reference for LoRA and QLoRA."""
    loras = list(lora_modules(model).values())
    for m in loras:
        m.disabled = True
    try:
        yield
    finally:
        for m in loras:
            m.disabled = False


def lora_modules(model: nn.Module) -> dict[str, LoraLinear]:
    return {name: m for name, m in model.named_modules() if isinstance(m, LoraLinear)}


def adapter_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """Adapter weights under PEFT's saved names: base_model.model.<module>.lora_A.weight."""
    out = {}
    for name, m in lora_modules(model).items():
        out[f"base_model.model.{name}.lora_A.weight"] = m.lora_A.detach().contiguous()
        out[f"base_model.model.{name}.lora_B.weight"] = m.lora_B.detach().contiguous()
    return out


def save_adapter(
    model: nn.Module, folder: Path, base_model: str, r: int, alpha: float, dropout: float, rslora: bool, targets: Any
) -> None:
    """PEFT's adapter files. target_modules is stored as the user gave it (PEFT's own behaviour), so that
    PeftModel.from_pretrained matches the same modules again: taken from the model (inject records it) when
    present, else `targets` as passed (the plan's lora.target_modules, or the adapted names, which PEFT matches
    exactly)."""
    from safetensors.torch import save_file

    given = getattr(model, "lora_lens_target_modules", None)
    spec = given if given is not None else targets
    stored = spec if isinstance(spec, str) else sorted(set(spec))
    folder.mkdir(parents=True, exist_ok=True)
    save_file(
        {k: v.cpu() for k, v in adapter_state(model).items()},
        str(folder / "adapter_model.safetensors"),
        metadata={"format": "pt"},
    )
    write_json(
        folder / "adapter_config.json",
        {
            "peft_type": "LORA",
            "task_type": "CAUSAL_LM",
            "base_model_name_or_path": base_model,
            "r": r,
            "lora_alpha": alpha,
            "lora_dropout": dropout,
            "target_modules": stored,
            "bias": "none",
            "use_rslora": rslora,
            "use_dora": False,
            "fan_in_fan_out": False,
            "init_lora_weights": True,
            "modules_to_save": None,
            "inference_mode": True,
        },
    )
