"""What the exporter knows of each architecture: its llama.cpp name, its hyperparameters as GGUF keys, and the
tensor quirks llama.cpp expects (docs/export.md lists them). Tensor names come from llama.cpp's own map
(gguf.get_tensor_name_map); only what that map cannot say lives here."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import ExportError

Transform = Callable[[str, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Architecture:
    hf_name: str  # config.json "architectures"[0]
    gguf_arch: str  # gguf.MODEL_ARCH member name
    # llama.cpp's "llama" graph applies rotary embeddings to interleaved pairs, transformers' to the two halves of
    # each head: q_proj and k_proj rows are permuted on the way (convert_hf_to_gguf.py does the same).
    permute_qk: bool = False
    # Gemma's RMSNorm multiplies by (1 + weight); llama.cpp's by weight: every norm weight gets +1.
    norm_plus_one: bool = False


ARCHITECTURES = {
    a.hf_name: a
    for a in [
        Architecture("LlamaForCausalLM", "LLAMA", permute_qk=True),
        Architecture("MistralForCausalLM", "LLAMA", permute_qk=True),
        Architecture("Qwen2ForCausalLM", "QWEN2"),
        Architecture("Qwen3ForCausalLM", "QWEN3"),
        Architecture("Gemma2ForCausalLM", "GEMMA2", norm_plus_one=True),
        Architecture("Phi3ForCausalLM", "PHI3"),
    ]
}


def architecture_of(config: dict[str, Any]) -> Architecture:
    names = config.get("architectures") or []
    for name in names:
        if name in ARCHITECTURES:
            return ARCHITECTURES[name]
    raise ExportError(
        f"the exporter does not know the architecture {', '.join(names) or '(none in config.json)'}; "
        f"it exports {', '.join(sorted(ARCHITECTURES))}. Use --format merged for a safetensors folder "
        "and llama.cpp's convert_hf_to_gguf.py on it"
    )


def head_dim(config: dict[str, Any]) -> int:
    return int(config.get("head_dim") or config["hidden_size"] // config["num_attention_heads"])


def rope_settings(config: dict[str, Any]) -> tuple[float, dict[str, Any]]:
    """(rope theta, scaling dict or {}): transformers 5 keeps both under rope_parameters, 4.x at the top level."""
    params = config.get("rope_parameters") or {}
    theta = float(params.get("rope_theta") or config.get("rope_theta") or 10000.0)
    scaling = dict(config.get("rope_scaling") or params)
    if scaling.get("rope_type", scaling.get("type", "default")) == "default":
        scaling = {}
    return theta, scaling


def permute_rows(weight: np.ndarray, heads: int) -> np.ndarray:
    """transformers' half-split rotary layout to llama.cpp's interleaved one, per head (rows = heads * head_dim)."""
    return (
        weight.reshape(heads, 2, weight.shape[0] // heads // 2, *weight.shape[1:]).swapaxes(1, 2).reshape(weight.shape)
    )


def tensor_transform(arch: Architecture, config: dict[str, Any]) -> Transform:
    """The per-tensor change llama.cpp needs, on the HF name and the merged fp32 values."""
    heads = int(config["num_attention_heads"])
    kv_heads = int(config.get("num_key_value_heads") or heads)

    def transform(name: str, values: np.ndarray) -> np.ndarray:
        if arch.permute_qk and name.endswith("self_attn.q_proj.weight"):
            return permute_rows(values, heads)
        if arch.permute_qk and name.endswith("self_attn.k_proj.weight"):
            return permute_rows(values, kv_heads)
        if arch.norm_plus_one and name.endswith("norm.weight"):
            return values + 1.0
        return values

    return transform


def llama3_rope_factors(config: dict[str, Any]) -> np.ndarray | None:
    """Llama 3.1's frequency-dependent rope scaling, as the divisors llama.cpp reads from `rope_freqs.weight`."""
    theta, scaling = rope_settings(config)
    if scaling.get("rope_type") != "llama3":
        return None
    dim = head_dim(config)
    factor = float(scaling.get("factor", 8.0))
    low, high = float(scaling.get("low_freq_factor", 1.0)), float(scaling.get("high_freq_factor", 4.0))
    old_context = float(scaling.get("original_max_position_embeddings", 8192))
    factors = []
    for i in range(0, dim, 2):
        wavelength = 2 * math.pi * theta ** (i / dim)
        if wavelength < old_context / high:
            factors.append(1.0)
        elif wavelength > old_context / low:
            factors.append(factor)
        else:
            smooth = (old_context / wavelength - low) / (high - low)
            factors.append(1.0 / ((1 - smooth) / factor + smooth))
    return np.asarray(factors, dtype=np.float32)


def write_hyperparameters(writer: Any, arch: Architecture, config: dict[str, Any]) -> None:
    """The GGUF keys llama.cpp reads for these graphs (llama-model.cpp's load_hparams)."""
    import gguf

    heads = int(config["num_attention_heads"])
    writer.add_context_length(int(config.get("max_position_embeddings") or 4096))
    writer.add_embedding_length(int(config["hidden_size"]))
    writer.add_block_count(int(config["num_hidden_layers"]))
    writer.add_feed_forward_length(int(config["intermediate_size"]))
    writer.add_head_count(heads)
    writer.add_head_count_kv(int(config.get("num_key_value_heads") or heads))
    writer.add_layer_norm_rms_eps(float(config.get("rms_norm_eps", 1e-6)))
    writer.add_vocab_size(int(config["vocab_size"]))
    dim = head_dim(config)
    writer.add_rope_dimension_count(int(dim * float(config.get("partial_rotary_factor", 1.0))))
    if dim != int(config["hidden_size"]) // heads:
        writer.add_key_length(dim)
        writer.add_value_length(dim)
    theta, scaling = rope_settings(config)
    writer.add_rope_freq_base(theta)
    kind = scaling.get("rope_type", scaling.get("type"))
    if kind == "linear":
        writer.add_rope_scaling_type(gguf.RopeScalingType.LINEAR)
        writer.add_rope_scaling_factor(float(scaling["factor"]))
    elif kind == "yarn":
        writer.add_rope_scaling_type(gguf.RopeScalingType.YARN)
        writer.add_rope_scaling_factor(float(scaling["factor"]))
        writer.add_rope_scaling_orig_ctx_len(int(scaling["original_max_position_embeddings"]))
    elif kind not in (None, "llama3"):
        raise ExportError(
            f"rope scaling {kind!r} is not exported (linear, yarn and llama3 are); "
            "use --format merged and llama.cpp's convert_hf_to_gguf.py"
        )
    if arch.gguf_arch == "GEMMA2":
        writer.add_attn_logit_softcapping(float(config.get("attn_logit_softcapping") or 50.0))
        writer.add_final_logit_softcapping(float(config.get("final_logit_softcapping") or 30.0))
        writer.add_sliding_window(int(config.get("sliding_window") or 4096))
    if arch.gguf_arch == "PHI3" and config.get("sliding_window"):
        writer.add_sliding_window(int(config["sliding_window"]))
