"""Model and tokenizer loading (offline, local files only) and the method's setup: full, LoRA or QLoRA."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from . import lora as lora_mod
from .checkpointing import CheckpointingError, apply_checkpointing, decoder_layers
from .kernels import fused_ops
from .loss import LogitTransform, OutputHead, transformed_logits
from .model.load_progress import LoadListener, LoadReport
from .nf4 import quantize_model
from .offload import offload_checkpoint_inputs
from .plan import TrainingPlan

DTYPES = {"bfloat16": torch.bfloat16, "float16": torch.float16, "float32": torch.float32}


class ModelError(RuntimeError):
    pass


@dataclass
class Setup:
    model: nn.Module
    # Weights kept in this dtype; the forward runs under autocast to `autocast_dtype` when that is not None.
    param_dtype: torch.dtype
    autocast_dtype: torch.dtype | None
    quantization_backend: str | None
    lora_targets: list[str]


def bitsandbytes_available() -> bool:
    try:
        import bitsandbytes  # noqa: F401
    except Exception:  # a broken CUDA setup raises more than ImportError
        return False
    return torch.cuda.is_available()


def precision_dtypes(plan: TrainingPlan) -> tuple[torch.dtype, torch.dtype | None]:
    """(weight dtype, autocast dtype) per the plan; QLoRA's compute dtype rules its autocast."""
    if plan.method == "qlora" and plan.quantization is not None:
        compute = DTYPES[plan.quantization.bnb_4bit_compute_dtype]
        return compute, compute if compute != torch.float32 else None
    return {
        "bf16-true": (torch.bfloat16, None),
        "bf16-mixed": (torch.float32, torch.bfloat16),
        "fp16-mixed": (torch.float32, torch.float16),
        "fp32": (torch.float32, None),
    }[plan.precision]


def load_tokenizer(plan: TrainingPlan) -> Any:
    from transformers import AutoTokenizer

    ref = plan.model
    try:
        tok = AutoTokenizer.from_pretrained(
            ref.name_or_path, revision=ref.revision, trust_remote_code=ref.trust_remote_code, local_files_only=True
        )
    except Exception as error:  # transformers raises OSError/ValueError/EnvironmentError variants
        raise ModelError(_not_found(ref.name_or_path, error)) from error
    if tok.pad_token_id is None:
        # Padding positions never train (labels are -100), so reusing EOS as padding is harmless.
        tok.pad_token = tok.eos_token
    return tok


def _not_found(name: str, error: Exception) -> str:
    return (
        f"cannot load {name!r} offline: {error}. The trainer never downloads: pass a local directory holding "
        f"config.json, or fetch it once with `huggingface-cli download {name}` into the local cache."
    )


def _base_kwargs(plan: TrainingPlan) -> dict[str, Any]:
    ref = plan.model
    return {
        "revision": ref.revision,
        "trust_remote_code": ref.trust_remote_code,
        "attn_implementation": ref.attn_implementation,
        "local_files_only": True,
    }


def load_model(plan: TrainingPlan, device: torch.device, on_load: LoadListener | None = None) -> Setup:
    """The model on `device` with the plan's method applied; `on_load` receives the streaming loader's `loading`
    event fields (model/load_progress.py), when that loader runs (built-in NF4 QLoRA from safetensors)."""
    from transformers import AutoModelForCausalLM

    param_dtype, autocast = precision_dtypes(plan)
    kwargs = _base_kwargs(plan)
    backend = None
    q = plan.quantization
    try:
        if plan.method == "qlora" and q is not None and bitsandbytes_available():
            from transformers import BitsAndBytesConfig

            backend = "bitsandbytes"
            model: Any = AutoModelForCausalLM.from_pretrained(
                plan.model.name_or_path,
                dtype=param_dtype,
                device_map={"": device.index or 0},
                quantization_config=BitsAndBytesConfig(
                    load_in_4bit=True,
                    bnb_4bit_quant_type=q.bnb_4bit_quant_type,
                    bnb_4bit_use_double_quant=q.bnb_4bit_use_double_quant,
                    bnb_4bit_compute_dtype=param_dtype,
                ),
                **kwargs,
            )
        elif plan.method == "qlora":
            _check_builtin_quant_type(plan)
            model = streamed_nf4(plan, device, param_dtype, on_load)
            if model is not None:
                backend = "builtin-nf4"
            else:
                # A .bin checkpoint: loaded whole on the CPU, then quantized layer by layer onto the device.
                model = AutoModelForCausalLM.from_pretrained(plan.model.name_or_path, dtype=param_dtype, **kwargs)
        else:
            model = AutoModelForCausalLM.from_pretrained(plan.model.name_or_path, dtype=param_dtype, **kwargs).to(
                device  # type: ignore[arg-type]
            )
    except (torch.OutOfMemoryError, ModelError):
        raise
    except Exception as error:
        raise ModelError(_not_found(plan.model.name_or_path, error)) from error
    return apply_method(model, plan, device, param_dtype, autocast, backend)


def _check_builtin_quant_type(plan: TrainingPlan) -> None:
    q = plan.quantization
    if q is not None and q.bnb_4bit_quant_type != "nf4":
        raise ModelError(
            "the built-in 4-bit path (bitsandbytes is absent) implements nf4 only; set "
            "quantization.bnb_4bit_quant_type: nf4 or install bitsandbytes"
        )
    from .kernels.nf4_matmul import requested_path

    try:  # a mistyped LORA_LENS_NF4_KERNEL is refused before the model loads, not at the first matmul
        requested_path()
    except ValueError as error:
        raise ModelError(str(error)) from error


def model_folder(plan: TrainingPlan) -> Path:
    """The local folder holding the model's config.json: the path itself, or its snapshot in the HF cache."""
    from transformers.utils import cached_file

    ref = plan.model
    if Path(ref.name_or_path).is_dir():
        return Path(ref.name_or_path)
    found = cached_file(ref.name_or_path, "config.json", revision=ref.revision, local_files_only=True)
    if found is None:
        raise ModelError(_not_found(ref.name_or_path, FileNotFoundError("config.json")))
    return Path(found).parent


GIB = 1024**3


def streamed_nf4(
    plan: TrainingPlan, device: torch.device, dtype: torch.dtype, on_load: LoadListener | None = None
) -> nn.Module | None:
    """The built-in NF4 model loaded tensor by tensor (model/stream_load.py); None for a checkpoint that is not
    safetensors. Refused before anything is read when the checkpoint is broken or the RAM it needs is not free."""
    from .model.checkpoint_files import CheckpointError
    from .model.stream_load import available_ram_bytes, extra_ram_bytes, plan_load, skeleton, stream_load

    folder = model_folder(plan)
    ref = plan.model
    try:
        model = skeleton(folder, dtype, ref.attn_implementation, ref.trust_remote_code)
        load = plan_load(model, folder)
        if load is None:
            return None
        need, free = extra_ram_bytes(load, dtype, device), available_ram_bytes()
        if free is not None and need > free:
            raise ModelError(
                f"loading {ref.name_or_path} needs about {need / GIB:.1f} GiB of RAM beyond what this "
                f"process holds (its largest tensor, read one at a time), and {free / GIB:.1f} GiB is "
                f"available: close other programs or use a machine with more RAM"
            )
        q = plan.quantization
        report = LoadReport(ref.name_or_path, on_load)
        report.start(len(load.entries), load.total_bytes)
        return stream_load(model, load, device, dtype, q.bnb_4bit_use_double_quant if q else True, report)
    except CheckpointError as error:
        raise ModelError(str(error)) from error


def apply_method(
    model: nn.Module,
    plan: TrainingPlan,
    device: torch.device,
    param_dtype: torch.dtype,
    autocast: torch.dtype | None,
    backend: str | None,
) -> Setup:
    """Quantization (built-in NF4 when bitsandbytes did not load it), k-bit preparation, checkpointing, LoRA."""
    q = plan.quantization
    if plan.method == "qlora" and backend is None:
        _check_builtin_quant_type(plan)
        head = model.get_output_embeddings()
        skip = {name for name, m in model.named_modules() if m is head}
        quantize_model(model, skip, q.bnb_4bit_use_double_quant if q else True, param_dtype, device)
        model.to(device)
        backend = "builtin-nf4"
    if plan.method == "qlora" and q is not None and q.prepare_for_kbit_training and q.upcast_non_quantized:
        from peft import prepare_model_for_kbit_training

        # PEFT casts the remaining bf16 weights (norms, embeddings, head) to fp32; the NF4 buffers are not
        # parameters and stay 4-bit. About 4 GiB on a 7B model (embeddings and head), and an fp32 residual stream.
        prepare_model_for_kbit_training(
            model,
            use_gradient_checkpointing=plan.training.gradient_checkpointing,
            gradient_checkpointing_kwargs={"use_reentrant": False},
        )
    # Lean QLoRA (the default): the unquantized weights stay in the compute dtype, as Unsloth and torchtune keep
    # them; they are frozen (LoRA's inject freezes every parameter), and the adapters with their optimizer states
    # are fp32 in either case. Checkpointing is non-reentrant, so no input needs requires_grad.
    # Every decoder layer, or the first checkpoint_layers of them (gradient_checkpointing: auto, chosen by the estimate).
    try:
        layers = plan.training.checkpoint_layers
        count = apply_checkpointing(model, plan.training.gradient_checkpointing, None if layers < 0 else layers)
    except CheckpointingError as error:
        raise ModelError(str(error)) from error
    if plan.training.activation_offloading and count > 0:  # their saved inputs in pinned CPU memory (offload.py)
        offload_checkpoint_inputs(decoder_layers(model)[:count], device, body_of(model))
    model.config.use_cache = False
    targets: list[str] = []
    if plan.method in ("lora", "qlora"):
        lp = plan.lora
        assert lp is not None
        if lp.use_dora:
            raise ModelError("lora.use_dora is not supported by the bundled trainer; set use_dora: false")
        if lp.bias != "none":
            raise ModelError(f"lora.bias {lp.bias!r} is not supported by the bundled trainer; set bias: none")
        try:
            targets = lora_mod.inject(model, lp.target_modules, lp.r, lp.lora_alpha, lp.lora_dropout, lp.use_rslora)
        except ValueError as error:
            raise ModelError(str(error)) from error
    else:
        for p in model.parameters():
            p.requires_grad_(True)
    if (
        fused_ops.requested()
    ):  # LORA_LENS_FUSED_KERNELS=1 or a list (norm,rope,swiglu,lora): off until measured on a GPU
        fused_ops.install(model)
    return Setup(model, param_dtype, autocast, backend, targets)


def body_of(model: nn.Module) -> nn.Module | None:
    """The transformer body under its head (`model.model` for most causal LMs); None when the model has none."""
    body = getattr(model, getattr(model, "base_model_prefix", "model"), None)
    return body if isinstance(body, nn.Module) and body is not model else None


def decoder_and_head(model: nn.Module, autocast_dtype: torch.dtype | None = None) -> tuple[nn.Module, OutputHead]:
    """The transformer body (returns last hidden states) and the output head (projection, bias, logit transform),
    so the loss can project only the positions that train, in chunks. Checked on a few tokens against the
    model's own logits: a head that post-processes its logits in a way not modelled here is refused. The probe
    runs under the training's autocast (`Setup.autocast_dtype`): QLoRA's fp32-upcast norms next to bf16 projections
    only agree on a dtype there."""
    linear = model.get_output_embeddings()
    body = body_of(model)
    if linear is None or body is None:
        raise ModelError(f"{type(model).__name__}: cannot split into body and output head")
    head = OutputHead(linear, logit_transform(model.config))
    _check_head(model, body, head, autocast_dtype)
    return body, head


def logit_transform(config: Any) -> LogitTransform:
    """What the model's forward does to lm_head's output (transformers 5): Granite divides by `logits_scaling`,
    Cohere multiplies by `logit_scale`, Gemma 2/3 softcap with `final_logit_softcapping`."""
    text = config.get_text_config() if hasattr(config, "get_text_config") else config
    multiplier = 1.0
    scaling = getattr(text, "logits_scaling", None)
    if scaling:
        multiplier /= float(scaling)
    scale = getattr(text, "logit_scale", None)
    if isinstance(scale, (int, float)) and not isinstance(scale, bool) and scale:
        multiplier *= float(scale)
    softcap = getattr(text, "final_logit_softcapping", None)
    return LogitTransform(multiplier, float(softcap) if softcap else None)


# Relative L2 distance allowed between the model's logits and the fused head's on the probe: bf16 rounding of
# two orderings of the same products is ~1e-3; an unmodelled transform (a scale, a softcap) is far above it.
HEAD_PROBE_TOLERANCE = 2e-2


def _check_head(model: nn.Module, body: nn.Module, head: OutputHead, autocast_dtype: torch.dtype | None) -> None:
    import contextlib

    weight = head.weight
    ids = (torch.arange(1, 9, device=weight.device) * 7919 % weight.shape[0]).unsqueeze(0)
    was_training = model.training
    model.eval()
    autocast = (
        torch.autocast(device_type=weight.device.type, dtype=autocast_dtype)
        if autocast_dtype is not None
        else contextlib.nullcontext()
    )
    try:
        with torch.no_grad(), autocast:
            theirs = model(input_ids=ids, use_cache=False).logits.float()
            out = body(input_ids=ids, use_cache=False)
            hidden = out[0] if isinstance(out, tuple) else out.last_hidden_state
            bias = head.bias
            ours = transformed_logits(
                hidden.to(weight.dtype), weight, None if bias is None else bias.to(weight.dtype), head.transform
            )
    finally:
        model.train(was_training)
    distance = float((ours - theirs).norm() / theirs.norm().clamp_min(1e-12))
    if not distance <= HEAD_PROBE_TOLERANCE:
        raise ModelError(
            f"{type(model).__name__} post-processes its logits in a way the fused loss does not model (its logits "
            f"differ from lm_head's by {distance:.3g} relative; bias, logits_scaling, logit_scale and "
            f"final_logit_softcapping are supported): training it here would use the wrong loss. Train it with "
            f"transformers + PEFT (the HF Trainer, axolotl or LLaMA-Factory) instead."
        )


def count_params(model: nn.Module) -> tuple[int, int]:
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    # NF4 weights are buffers: count their logical size so totals match the unquantized model.
    from .nf4 import NF4Linear

    total += sum(m._numel for m in model.modules() if isinstance(m, NF4Linear))
    return trainable, total


def set_offline() -> None:
    """The trainer never reaches the network: set before transformers/huggingface_hub are imported."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
