"""The tuned model and its base, loaded once where they share weights.

An adapter is loaded through PEFT onto its base, and the base is the same module with the adapter disabled
(PeftModel.disable_adapter): one copy of the weights, so the comparison cannot be between two different loads
(Unsloth's "Compare in Chat" got this wrong, unsloth #4503). A fully fine-tuned model has no such shared weights: the
tuned model is freed before the base is loaded, so at most one sits in memory.

Precision: bf16 on a GPU that has it (else fp16), fp32 on the CPU. A QLoRA run's adapter is evaluated on the
unquantized base unless bitsandbytes and a GPU are there (then the base is loaded in 4 bits as in training); the
report says which."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from . import EvalError
from .target import EvalTarget


def device_and_dtype() -> tuple[Any, Any]:
    import torch

    if torch.cuda.is_available():
        return torch.device("cuda", 0), torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.device("cpu"), torch.float32


def load_tokenizer(target: EvalTarget) -> Any:
    """The tokenizer saved beside the weights (else the base's); EOS pads where it names no padding token."""
    from transformers import AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # stderr is the verb's log: one line per phase, not a bar per load

    try:
        tokenizer = AutoTokenizer.from_pretrained(
            target.tokenizer_source, trust_remote_code=target.trust_remote_code, local_files_only=True
        )
    except Exception as error:  # transformers raises several types for "not found"
        raise EvalError(_not_found(target.tokenizer_source, error)) from error
    tokenizer.pad_token = tokenizer.pad_token or tokenizer.eos_token
    return tokenizer


def _not_found(name: str, error: Exception) -> str:
    return (
        f"cannot load {name!r} offline ({type(error).__name__}: {error}); evaluate never downloads: pass a local "
        f"folder, or fetch it once with `huggingface-cli download {name}`"
    )


def _load(name: str, target: EvalTarget, device: Any, dtype: Any, four_bit: bool) -> Any:
    from transformers import AutoModelForCausalLM

    kwargs: dict[str, Any] = {"dtype": dtype, "local_files_only": True, "trust_remote_code": target.trust_remote_code}
    if target.revision and name == target.base_model:
        kwargs["revision"] = target.revision
    if four_bit:
        from transformers import BitsAndBytesConfig

        kwargs.update(
            device_map={"": device.index or 0},
            quantization_config=BitsAndBytesConfig(
                load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=dtype
            ),
        )
    try:
        model = AutoModelForCausalLM.from_pretrained(name, **kwargs)
    except Exception as error:
        raise EvalError(_not_found(name, error)) from error
    return (model if four_bit else model.to(device)).eval()


def _four_bit(target: EvalTarget, device: Any) -> bool:
    if not target.quantized_training or device.type != "cuda":
        return False
    from ..modeling import bitsandbytes_available

    return bitsandbytes_available()


def base_weights(target: EvalTarget, device: Any) -> str:
    """Which base the evaluation runs on, for the report."""
    if target.adapter is None:
        return "the base model, loaded after the tuned one was freed"
    if _four_bit(target, device):
        return "the base in 4 bits (bitsandbytes NF4), as the run trained"
    if target.quantized_training:
        return "the unquantized base (the run trained on a 4-bit one: bitsandbytes and a GPU load it so)"
    return "the adapter's own base, adapter disabled"


@contextmanager
def _free_after(model: Any, device: Any) -> Iterator[Any]:
    try:
        yield model
    finally:
        del model
        gc.collect()
        if device.type == "cuda":
            import torch

            torch.cuda.empty_cache()


def phases(target: EvalTarget, device: Any, dtype: Any) -> Iterator[tuple[str, Any]]:
    """("tuned", model) then ("base", model); for an adapter both are the same module, the adapter disabled for the
    second."""
    if target.adapter is None:
        assert target.tuned_model is not None
        with _free_after(_load(str(target.tuned_model), target, device, dtype, False), device) as tuned:
            yield "tuned", tuned
        with _free_after(_load(target.base_model, target, device, dtype, False), device) as base:
            yield "base", base
        return
    from peft import PeftModel

    base = _load(target.base_model, target, device, dtype, _four_bit(target, device))
    try:
        model = PeftModel.from_pretrained(base, str(target.adapter), is_trainable=False).eval()
    except Exception as error:  # a shape or key mismatch: the adapter was trained on another model
        raise EvalError(
            f"the adapter {target.adapter} does not load onto {target.base_model!r} ({type(error).__name__}: "
            f"{error}); pass --base-model with the model it was trained on"
        ) from error
    with _free_after(model, device) as tuned:
        yield "tuned", tuned
        with tuned.disable_adapter():
            yield "base", tuned
