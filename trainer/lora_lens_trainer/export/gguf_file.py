"""The GGUF file, written with llama.cpp's own writer (gguf.GGUFWriter) in two passes: every tensor's name, shape
and type first (from the safetensors headers, no data read), then the data, one merged tensor at a time, so the
model is never whole in memory. The file is written under a temporary name in the target folder and renamed once
complete and fsynced: an interrupted export leaves no .gguf behind.

Quantization types: those the gguf package (0.19.0) quantizes in Python (gguf.quants), tensor by tensor. The
k-quants (q4_k_m, q5_k_m, q6_k...) are produced by llama.cpp's llama-quantize binary only: export f16, then run
`llama-quantize model.f16.gguf model.q4_k_m.gguf Q4_K_M`."""

from __future__ import annotations

import os
import re
import shutil
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import ExportError
from .architectures import Architecture, llama3_rope_factors, tensor_transform, write_hyperparameters
from .tokenizer_meta import TokenizerFacts, write_tokenizer
from .weights import WeightSource

# --quant value -> (tensor type for 2-D weights, llama.cpp's file type)
QUANT_TYPES = {
    "f32": ("F32", "ALL_F32"),
    "f16": ("F16", "MOSTLY_F16"),
    "bf16": ("BF16", "MOSTLY_BF16"),
    "q8_0": ("Q8_0", "MOSTLY_Q8_0"),
    "q5_1": ("Q5_1", "MOSTLY_Q5_1"),
    "q5_0": ("Q5_0", "MOSTLY_Q5_0"),
    "q4_1": ("Q4_1", "MOSTLY_Q4_1"),
    "q4_0": ("Q4_0", "MOSTLY_Q4_0"),
}
LLAMA_QUANTIZE_ONLY = [
    "q2_k",
    "q3_k_s",
    "q3_k_m",
    "q3_k_l",
    "q4_k_s",
    "q4_k_m",
    "q5_k_s",
    "q5_k_m",
    "q6_k",
    "iq4_nl",
    "iq4_xs",
]
# Metadata (vocabulary, merges, template) is small next to the tensors; this covers a 256k vocabulary.
METADATA_ALLOWANCE = 64 << 20


def check_quant(quant: str) -> None:
    if quant in QUANT_TYPES:
        return
    if quant in LLAMA_QUANTIZE_ONLY:
        raise ExportError(
            f"--quant {quant} is made by llama.cpp's llama-quantize, not by the gguf Python package: "
            f"export with --quant f16, then run llama-quantize FILE.f16.gguf FILE.{quant}.gguf "
            f"{quant.upper()}. Offered here: {', '.join(QUANT_TYPES)}"
        )
    raise ExportError(f"--quant {quant!r} is not a GGUF type the exporter writes; use one of {', '.join(QUANT_TYPES)}")


@dataclass(frozen=True)
class PlannedTensor:
    hf_name: str
    gguf_name: str
    qtype: Any  # gguf.GGMLQuantizationType
    nbytes: int


def _tensor_type(gguf_name: str, shape: tuple[int, ...], quant: str) -> Any:
    import gguf

    if len(shape) <= 1 or gguf_name.endswith("_norm.weight"):
        return gguf.GGMLQuantizationType.F32  # llama.cpp keeps norms and biases in f32
    qtype = gguf.GGMLQuantizationType[QUANT_TYPES[quant][0]]
    block = gguf.GGML_QUANT_SIZES[qtype][0]
    if shape[-1] % block:
        return gguf.GGMLQuantizationType.F16  # a row that is not whole blocks: f16, as convert_hf_to_gguf does
    return qtype


def _nbytes(shape: tuple[int, ...], qtype: Any) -> int:
    import gguf

    block, size = gguf.GGML_QUANT_SIZES[qtype]
    return int(np.prod(shape[:-1], dtype=np.int64)) * (shape[-1] // block) * size


def plan_tensors(source: WeightSource, arch: Architecture, quant: str) -> list[PlannedTensor]:
    import gguf

    blocks = int(source.config["num_hidden_layers"])
    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH[arch.gguf_arch], blocks)
    planned = []
    for hf_name in source.names():
        if hf_name.endswith("rotary_emb.inv_freq"):
            continue  # recomputed by llama.cpp
        gguf_name = names.get_name(hf_name, try_suffixes=(".weight", ".bias"))
        if gguf_name is None and hf_name == "lm_head.weight":
            raise ExportError(
                f"llama.cpp's {arch.gguf_arch.lower()} graph has no output head of its own (it reuses the "
                "embedding), but this checkpoint has an untied lm_head.weight that llama.cpp would "
                "ignore; use --format merged for transformers or vLLM"
            )
        if gguf_name is None:
            raise ExportError(
                f"tensor {hf_name} has no llama.cpp name for {arch.hf_name}: the checkpoint differs "
                "from the architecture's usual layout; use --format merged and convert_hf_to_gguf.py"
            )
        shape = source.shape(hf_name)
        qtype = _tensor_type(gguf_name, shape, quant)
        planned.append(PlannedTensor(hf_name, gguf_name, qtype, _nbytes(shape, qtype)))
    return planned


# Rows per piece when a tensor is quantized on several threads: gguf.quants works block by block in numpy, which
# releases the GIL, so pieces of whole rows quantize in parallel into exactly the bytes one call gives.
_ROWS_PER_PIECE = 256


def _encode(values: np.ndarray, qtype: Any) -> np.ndarray:
    import gguf

    if qtype == gguf.GGMLQuantizationType.F32:
        return values.astype(np.float32)

    def encode(piece: np.ndarray) -> np.ndarray:
        if qtype == gguf.GGMLQuantizationType.F16:
            return piece.astype(np.float16)
        return gguf.quants.quantize(piece.astype(np.float32), qtype)

    workers = min(os.cpu_count() or 1, 16, -(-values.shape[0] // _ROWS_PER_PIECE)) if values.ndim == 2 else 1
    if workers <= 1:
        return encode(values)
    from concurrent.futures import ThreadPoolExecutor

    pieces = [values[i : i + _ROWS_PER_PIECE] for i in range(0, values.shape[0], _ROWS_PER_PIECE)]
    with ThreadPoolExecutor(workers) as pool:
        return np.concatenate(list(pool.map(encode, pieces)))


def _add_info(writer: Any, shape: tuple[int, ...], t: PlannedTensor) -> None:
    import gguf

    if t.qtype in (gguf.GGMLQuantizationType.F32, gguf.GGMLQuantizationType.F16):
        dtype = np.float32 if t.qtype == gguf.GGMLQuantizationType.F32 else np.float16
        writer.add_tensor_info(t.gguf_name, shape, np.dtype(dtype), t.nbytes)
    else:
        byte_shape = gguf.quant_shape_to_byte_shape(shape, t.qtype)
        writer.add_tensor_info(t.gguf_name, byte_shape, np.dtype(np.uint8), t.nbytes, raw_dtype=t.qtype)


def check_free_space(folder: Path, needed: int) -> None:
    free = shutil.disk_usage(folder).free
    if free < needed:
        raise ExportError(
            f"{folder}: {free / 2**30:.2f} GiB free, the export needs {needed / 2**30:.2f} GiB; free "
            "space or pass --out on another disk"
        )


@contextmanager
def staged_file(final: Path) -> Iterator[Path]:
    """A temporary sibling that becomes `final` in one rename once complete and fsynced; removed on any failure,
    SIGTERM included (turned into an exception while the file is open)."""
    from ..atomic import fsync_path

    tmp = final.with_name(f".{final.name}.tmp-{os.getpid()}")

    def on_term(signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        yield tmp
        fsync_path(tmp)
        os.replace(tmp, final)
        fsync_path(final.parent)
    finally:
        signal.signal(signal.SIGTERM, previous)
        tmp.unlink(missing_ok=True)


# llama.cpp (llama-vocab.cpp) sets Phi-3's special-token attributes when general.name contains "phi3" or "phi-3",
# and aborts the load when one of these tokens is missing: Phi-3's own tokenizer has them all.
_PHI3_NAMED_TOKENS = ("</s>", "<unk>", "<s>", "<|endoftext|>")


def model_name(name: str, tokens: list[str]) -> str:
    """general.name; "phi3"/"phi-3" spelled "phi_3" when the vocabulary lacks a token llama.cpp then looks up."""
    if re.search(r"phi-?3", name, re.IGNORECASE) and not set(_PHI3_NAMED_TOKENS) <= set(tokens):
        return re.sub(r"phi-?3", "phi_3", name, flags=re.IGNORECASE)
    return name


def write_gguf(
    source: WeightSource, arch: Architecture, tokenizer: TokenizerFacts, quant: str, out: Path, name: str
) -> dict[str, Any]:
    import gguf

    check_quant(quant)
    planned = plan_tensors(source, arch, quant)
    rope_factors = llama3_rope_factors(source.config)
    total = sum(t.nbytes for t in planned) + (rope_factors.nbytes if rope_factors is not None else 0)
    out.parent.mkdir(parents=True, exist_ok=True)
    check_free_space(out.parent, total + METADATA_ALLOWANCE)
    transform = tensor_transform(arch, source.config)
    with staged_file(out) as tmp:
        writer = gguf.GGUFWriter(tmp, gguf.MODEL_ARCH_NAMES[gguf.MODEL_ARCH[arch.gguf_arch]])
        writer.add_name(model_name(name, tokenizer.tokens))
        write_hyperparameters(writer, arch, source.config)
        writer.add_file_type(int(gguf.LlamaFileType[QUANT_TYPES[quant][1]]))
        writer.add_quantization_version(gguf.GGML_QUANT_VERSION)
        write_tokenizer(writer, source.tokenizer_dir, tokenizer)
        for t in planned:
            _add_info(writer, source.shape(t.hf_name), t)
        if rope_factors is not None:
            writer.add_tensor_info("rope_freqs.weight", rope_factors.shape, rope_factors.dtype, rope_factors.nbytes)
        writer.open_output_file(tmp)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_ti_data_to_file()
        for t in planned:
            values = transform(t.hf_name, source.tensor(t.hf_name).numpy())
            writer.write_tensor_data(_encode(values, t.qtype))
        if rope_factors is not None:
            writer.write_tensor_data(rope_factors)
        writer.close()
    types = sorted({t.qtype.name for t in planned})
    return {
        "path": str(out),
        "bytes": out.stat().st_size,
        "quant": quant,
        "tensor_types": types,
        "tensors": len(planned) + (rope_factors is not None),
        "architecture": arch.gguf_arch.lower(),
    }
