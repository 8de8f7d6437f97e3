"""`merge`: the adapter folded into the base weights tensor by tensor (export/weights.py), saved as safetensors shards
with the tokenizer, and checked against the trained model with one decoder layer on the GPU at a time
(streamed_forward.py), so the merge fits wherever the training did (LORA_LENS_GPU_MEMORY_LIMIT honoured).

The base: for LoRA the original weights; for QLoRA by default the dequantized NF4 weights the adapter was trained
against (output.merge_base "dequantized"), or the original unquantized weights ("original"), whose merge no longer
carries the 4-bit error the adapter learned to compensate.

The check, on a probe batch (a sentence and random tokens): the merged model's logits against the trained model's
(the training code path: the same quantized base, the adapter as separate modules, the training precision) as a
relative RMS error ||merged - trained|| / ||trained||. Past the threshold the merge fails loudly (MergeCheckFailed,
nothing written to merged/). With merge_base "original" the trained model is not what is being reproduced: the
check is then PEFT's adapter model on that base before and after the fold, and the distance to the trained model
is reported beside it.
"""

from __future__ import annotations

import gc
import json
import logging
from pathlib import Path
from typing import Any

from . import schema_check
from .atomic import staged_dir, write_json
from .plan import TrainingPlan

log = logging.getLogger("lora_lens_trainer")

# Relative RMS logit error allowed, by the coarser of the two dtypes compared (the training compute dtype and the
# merge dtype). The two sides compute in different orders (adapter as its own product vs folded into W) and round
# to 16 bits at every layer: measured on the CPU test model, 1.0-1.3% in bf16 (the noise floor), 7e-7 in fp32.
# What the check must catch is of another order: a QLoRA adapter on the unquantized base is 26% off there (the
# 4-bit error the adapter learned around). bf16's threshold leaves ~4x the noise floor for deeper models.
THRESHOLDS = {"float32": 1e-3, "float16": 1.5e-2, "bfloat16": 5e-2}
_RANK = ["float32", "float16", "bfloat16"]


class MergeCheckFailed(RuntimeError):
    pass


class MergeReportError(AssertionError):
    """The report does not match schemas/merge-report.schema.json: a bug here, never the user's."""


def checked_report(report: dict[str, Any]) -> dict[str, Any]:
    """The report, once it matches schemas/merge-report.schema.json (the CLI and the editor parse it); raises
    MergeReportError otherwise. Without the schema file (a trainer copied out of the repository) it is returned as is."""
    found = schema_check.find_schema("merge-report.schema.json")
    if found is None:
        return report
    problems = schema_check.errors(schema_check.load_schema(found), report)
    if problems:
        raise MergeReportError(f"the merge report does not match {found.name}: {'; '.join(problems)}")
    return report


def _probe(tokenizer: Any, vocab: int) -> Any:
    import torch

    text = "The quick brown fox jumps over the lazy dog. 12 + 30 = 42."
    ids = tokenizer(text, add_special_tokens=True)["input_ids"][:48]
    gen = torch.Generator().manual_seed(0)
    rand = torch.randint(0, vocab, (1, 48), generator=gen)
    probe = torch.tensor([ids + [tokenizer.pad_token_id or 0] * (48 - len(ids))])
    return torch.cat([probe, rand])


def _free(device: Any) -> None:
    import torch

    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()


def trained_logits(run_dir: Path, plan: TrainingPlan, probe: Any, device: Any) -> tuple[Any, str | None]:
    """Logits of the model as it trained: the training loader (same quantization, same precision) with the saved
    adapter loaded into its LoRA modules. Returns (logits as fp32 on the CPU, quantization backend)."""
    import torch
    from safetensors.torch import load_file

    from .lora import lora_modules
    from .modeling import load_model
    from .step import autocast_context

    setup = load_model(plan, device)
    saved = load_file(str(run_dir / "adapter" / "adapter_model.safetensors"))
    modules = lora_modules(setup.model)
    expected = {f"base_model.model.{n}.lora_{ab}.weight" for n in modules for ab in ("A", "B")}
    if set(saved) != expected:
        raise MergeCheckFailed(
            f"{run_dir / 'adapter'} does not match the plan's target modules "
            f"({len(saved)} tensors saved, {len(expected)} expected)"
        )
    with torch.no_grad():
        for name, m in modules.items():
            m.lora_A.copy_(saved[f"base_model.model.{name}.lora_A.weight"])
            m.lora_B.copy_(saved[f"base_model.model.{name}.lora_B.weight"])
        model = setup.model.eval()
        with autocast_context(device, setup.autocast_dtype):
            logits = model(input_ids=probe.to(device)).logits.float().cpu()
    backend = setup.quantization_backend
    del model, setup, modules
    _free(device)
    return logits, backend


def _round_trip_4bit(model: Any, plan: TrainingPlan, backend: str | None, device: Any) -> int:
    """Every linear the training quantized (all but the output head) replaced by its 4-bit round trip, in the
    compute dtype the training dequantized to; one layer at a time on `device`. Returns how many. (The export's
    torch reference, export/reference.py, builds its whole model this way.)"""
    import torch

    q = plan.quantization
    assert q is not None
    head = model.get_output_embeddings()
    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear) and m is not head]
    with torch.no_grad():
        for m in linears:
            m.weight.copy_(round_trip_4bit_weight(m.weight.data, q, backend, device))
    return len(linears)


def round_trip_4bit_weight(weight: Any, q: Any, backend: str | None, device: Any = None) -> Any:
    """One weight through the 4-bit quantization the training used (bitsandbytes or the built-in NF4) and back, in
    its own dtype and on its own device; the work is done on `device` (default: where the weight is). The merge and
    the streaming export (export/weights.py) share it, so both fold the adapter into the same base."""
    from . import nf4

    on_device = weight.to(device) if device is not None else weight
    if backend == "bitsandbytes":
        import bitsandbytes.functional as bnbf

        packed, state = bnbf.quantize_4bit(
            on_device, blocksize=64, quant_type=q.bnb_4bit_quant_type, compress_statistics=q.bnb_4bit_use_double_quant
        )
        return bnbf.dequantize_4bit(packed, state).to(weight.device, weight.dtype)
    return nf4.dequantize(nf4.quantize(on_device, q.bnb_4bit_use_double_quant), weight.dtype).to(weight.device)


def _relative(a: Any, ref: Any) -> tuple[float, float]:
    diff = a - ref
    return float(diff.norm() / ref.norm().clamp(min=1e-30)), float(diff.abs().max())


def _threshold(plan: TrainingPlan) -> float:
    from .modeling import precision_dtypes

    param, autocast = precision_dtypes(plan)
    compute = str(autocast or param).removeprefix("torch.")
    coarser = max(_RANK.index(compute), _RANK.index(plan.output.merge_dtype))
    return THRESHOLDS[_RANK[coarser]]


def _start_backend(run_dir: Path) -> str | None:
    """The quantization backend the run trained with, from its last start event (None if unknown)."""
    path = run_dir / "events.jsonl"
    backend = None
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            if '"start"' in line:
                try:
                    backend = json.loads(line).get("quantization_backend", backend)
                except json.JSONDecodeError:
                    pass
    return backend


def merge(run_dir: Path, plan: TrainingPlan, quantization_backend: str | None = None) -> dict[str, Any]:
    """Streams the merged weights to RUN_DIR/merged (export/weights.py: one tensor at a time, the 4-bit round trip
    and the adapter's delta on the GPU), then checks them with one decoder layer on the GPU at a time
    (streamed_forward.py). Peak GPU memory: the trained model for its logits (what the training held, less its
    optimizer and activations), then the embeddings and head plus one layer; never the whole merged model."""
    import torch
    from transformers import AutoTokenizer

    from .distributed import limit_memory
    from .export.gguf_file import check_free_space
    from .export.merged_folder import merged_bytes, write_merged_files
    from .export.weights import weight_source
    from .modeling import set_offline

    set_offline()
    adapter = run_dir / "adapter"
    if not (adapter / "adapter_config.json").is_file():
        raise FileNotFoundError(f"{adapter}: no adapter to merge (train first, or method is full)")
    device = torch.device("cuda", 0) if torch.cuda.is_available() else torch.device("cpu")
    limit_memory(device)
    tokenizer = AutoTokenizer.from_pretrained(adapter, local_files_only=True)
    base_kind = getattr(plan.output, "merge_base", "dequantized") if plan.method == "qlora" else "original"
    ref = plan.model
    load = dict(revision=ref.revision, trust_remote_code=ref.trust_remote_code, local_files_only=True)
    probe = _probe(tokenizer, _vocab_size(ref.name_or_path, load))
    trained, backend = trained_logits(run_dir, plan, probe, device)
    _log_peak(device, "the trained model's logits")
    backend = quantization_backend or _start_backend(run_dir) or backend
    source = weight_source(run_dir, plan)
    if source.quantized:
        source.backend = backend or source.backend
    source.device = device
    final = run_dir / "merged"
    check_free_space(run_dir, merged_bytes(source, plan.output.merge_dtype))
    with staged_dir(final) as tmp:
        write_merged_files(source, tmp, plan.output.merge_dtype)
        adapter_on_base, after = _streamed_check_logits(source, tmp, plan, probe, device)
        report = _check(plan, base_kind, backend, trained, adapter_on_base, after, int(probe.numel()))
        if not report["check"]["passed"]:
            raise MergeCheckFailed(
                f"merged logits differ from {report['check']['reference']} by {report['check']['relative_rms']:.3g} "
                f"(relative RMS), past the threshold {report['check']['threshold']:g}: merged/ was not written"
            )
        report["merged_path"] = str(final)
        write_json(tmp / "merge_report.json", checked_report(report))
    _log_peak(device, "the streamed merge and its check")
    log.info("merge: %s", json.dumps(report["check"]))
    return report


def _log_peak(device: Any, what: str) -> None:
    """The GPU peak of one part of the merge (each part starts from an empty cache), for the log."""
    import torch

    if device.type == "cuda":
        log.info("merge: %s peaked at %.2f GiB allocated", what, torch.cuda.max_memory_allocated(device) / 2**30)
        torch.cuda.reset_peak_memory_stats(device)


def _streamed_check_logits(
    source: Any, merged_dir: Path, plan: TrainingPlan, probe: Any, device: Any
) -> tuple[Any, Any]:
    """(the adapter as hooks on the merge base, the merged folder's weights), both in the merge dtype with one
    decoder layer on `device` at a time."""
    from dataclasses import replace

    from .export.weights import WeightSource, _shards
    from .modeling import DTYPES
    from .streamed_forward import streamed_logits

    dtype = DTYPES[plan.output.merge_dtype]
    ref = plan.model
    attn, remote = ref.attn_implementation or "eager", ref.trust_remote_code
    base = replace(source, deltas={})
    adapter_on_base = streamed_logits(
        merged_dir, base.tensor, probe, device, dtype, (source.deltas, source.scale), attn, remote
    )
    merged = WeightSource(merged_dir, source.config, merged_dir, _shards(merged_dir))
    after = streamed_logits(merged_dir, merged.tensor, probe, device, dtype, None, attn, remote)
    return adapter_on_base, after


def _vocab_size(name: str, load: dict[str, Any]) -> int:
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(
        name, revision=load["revision"], trust_remote_code=load["trust_remote_code"], local_files_only=True
    )
    return int(getattr(config, "vocab_size", None) or config.get_text_config().vocab_size)


def _check(
    plan: TrainingPlan,
    base_kind: str,
    backend: str | None,
    trained: Any,
    adapter_on_base: Any,
    after: Any,
    probe_tokens: int,
) -> dict[str, Any]:
    threshold = _threshold(plan)
    to_trained = _relative(after, trained)
    fold = _relative(after, adapter_on_base)
    if base_kind == "original" and plan.method == "qlora":
        reference = "the adapter on the original (unquantized) base, before the fold"
        rel, max_abs = fold
    else:
        reference = "the trained model (the adapter on the base it was trained with)"
        rel, max_abs = to_trained
    check = {
        "reference": reference,
        "metric": "relative RMS logit error",
        "relative_rms": rel,
        "max_abs_logit_diff": max_abs,
        "max_abs_logit": float(trained.abs().max()),
        "threshold": threshold,
        "passed": rel <= threshold,
    }
    return {
        "merge_base": base_kind,
        "quantization_backend": backend if plan.method == "qlora" else None,
        "merge_dtype": plan.output.merge_dtype,
        "probe_tokens": probe_tokens,
        "check": check,
        "vs_trained_model": {"relative_rms": to_trained[0], "max_abs_logit_diff": to_trained[1]},
        # The fold alone (PEFT's adapter model on the merge base, before and after merge_and_unload, both in
        # merge_dtype), under the keys earlier reports used.
        "max_abs_logit_diff": fold[1],
        "max_abs_logit": float(adapter_on_base.abs().max()),
        "fold_relative_rms": fold[0],
    }
