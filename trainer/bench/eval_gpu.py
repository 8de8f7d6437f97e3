"""Issue 24's GPU timing: `evaluate` (the real verb, in process) on real-size models built from their configs.

Each case writes a Qwen2.5-shaped checkpoint with random bf16 weights, a rank-8 q/v LoRA adapter (non-zero, so the
tuned model differs from its base) and a word-level tokenizer whose vocabulary is the model's, then an instruction
evaluation file whose rows fill max_length (prompt max_length-32 words, completion 64: every loss row is cut at
max_length, as the estimate assumes). The verb's loss pass and generation are each wrapped to record the GPU's peak
allocated bytes, and the report's generation tokens/s are read back. Both are printed against the evaluation
estimate (core/estimate/evaluation.ts), whose figures for these cases are in eval_gpu_expected.json (written by
`npx tsx bench/eval-estimate.ts`).

Run from the repository root:  python trainer/bench/eval_gpu.py --out "$OUT"
CPU check of the whole path (tiny shapes, no figures to compare):  python trainer/bench/eval_gpu.py --tiny --out /tmp/x
Writes OUT/eval_gpu.json (one object per case) and prints one `==` line per case and a summary table.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from qwen_shapes import QWEN2_5_1_5B, QWEN2_7B  # noqa: E402 (a sibling module of this script)

GiB = 1024**3

QWEN_SHAPES: dict[str, dict[str, Any]] = {
    "Qwen/Qwen2.5-1.5B": QWEN2_5_1_5B,
    "Qwen/Qwen2.5-7B": QWEN2_7B,
    # --tiny: the same path on the CPU in seconds.
    "tiny": dict(
        vocab_size=1000,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        tie_word_embeddings=True,
    ),
}
SPECIALS = ["<pad>", "<s>", "</s>", "<unk>"]
TINY_CASE = {"name": "tiny", "model": "tiny", "maxLength": 96, "batchSize": 4, "maxNewTokens": 8, "rows": 6}


def log(*parts: Any) -> None:
    print(*parts, flush=True)


def write_tokenizer(folder: Path, vocab_size: int) -> None:
    """A word-level tokenizer over the model's whole vocabulary: 'w17' is one token, so lengths are exact."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {t: i for i, t in enumerate(SPECIALS)}
    vocab.update({f"w{i}": i for i in range(len(SPECIALS), vocab_size)})
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok.decoder = decoders.WordPiece(prefix="##")  # joins words with spaces
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", pad_token="<pad>", unk_token="<unk>"
    )
    fast.save_pretrained(folder)


def write_model(folder: Path, shape: dict[str, Any], device: Any) -> float:
    """Random bf16 weights built on `device` from the config, saved; returns seconds."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    started = time.perf_counter()
    config = Qwen2Config(
        **shape,
        max_position_embeddings=32768,
        rope_theta=1_000_000.0,
        rms_norm_eps=1e-6,
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=0,
        torch_dtype="bfloat16",
    )
    torch.manual_seed(0)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.bfloat16)
    try:
        with torch.device(device):
            model = Qwen2ForCausalLM(config)
    finally:
        torch.set_default_dtype(previous)
    model.save_pretrained(folder, safe_serialization=True)
    write_adapter(model, folder)
    del model
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return time.perf_counter() - started


def write_adapter(model: Any, folder: Path) -> None:
    """A rank-8 q/v adapter with random non-zero B (init_lora_weights=False), naming the folder as its base."""
    from peft import LoraConfig, get_peft_model

    peft_model = get_peft_model(
        model,
        LoraConfig(r=8, lora_alpha=16, target_modules=["q_proj", "v_proj"], init_lora_weights=False),
    )
    adapter = folder / "adapter"
    peft_model.save_pretrained(adapter)
    config_path = adapter / "adapter_config.json"
    config = json.loads(config_path.read_text())
    config["base_model_name_or_path"] = str(folder)
    config_path.write_text(json.dumps(config))
    peft_model.unload()


def write_eval_file(path: Path, case: dict[str, Any], vocab_size: int) -> None:
    rng = random.Random(0)

    def words(n: int) -> str:
        return " ".join(f"w{rng.randrange(len(SPECIALS), vocab_size)}" for _ in range(n))

    rows = [{"prompt": words(case["maxLength"] - 32), "completion": words(64)} for _ in range(case["rows"])]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


class PassPeaks:
    """Wraps evaluate's compute.loss and compute.generate: the peak allocated bytes of each call, and what was
    allocated when the first pass began (the weights and the adapter)."""

    def __init__(self, device: Any) -> None:
        self.device = device
        self.peaks: dict[str, int] = {}
        self.resident: int | None = None

    def wrap(self, compute: Any) -> None:
        for name, label in (("loss", "loss pass"), ("generate", "generation")):
            inner = getattr(compute, name)
            setattr(compute, name, self._measured(inner, label))

    def _measured(self, inner: Any, label: str) -> Any:
        import torch

        def call(*args: Any, **kwargs: Any) -> Any:
            if self.device.type != "cuda":
                return inner(*args, **kwargs)
            torch.cuda.synchronize()
            if self.resident is None:
                self.resident = torch.cuda.memory_allocated()
            torch.cuda.reset_peak_memory_stats()
            result = inner(*args, **kwargs)
            torch.cuda.synchronize()
            self.peaks[label] = max(self.peaks.get(label, 0), torch.cuda.max_memory_allocated())
            return result

        return call


def run_case(case: dict[str, Any], work: Path, device: Any) -> dict[str, Any]:
    import torch

    from lora_lens_trainer.evaluate import compute
    from lora_lens_trainer.evaluate.run import EvalOptions, evaluate
    from lora_lens_trainer.evaluate.target import Overrides, resolve_target

    shape = QWEN_SHAPES[case["model"]]
    folder = work / case["name"]
    folder.mkdir(parents=True)
    build_seconds = write_model(folder, shape, device)
    # Beside the adapter (as axolotl's output_dir has it): beside a qwen2 config.json, AutoTokenizer would take
    # Qwen2Tokenizer's own pipeline over this word-level vocabulary.
    write_tokenizer(folder / "adapter", shape["vocab_size"])
    eval_file = folder / "eval.jsonl"
    write_eval_file(eval_file, case, shape["vocab_size"])
    target = resolve_target(
        folder / "adapter",
        Overrides(eval_file=eval_file, chat_template="auto", data_format="instruction", max_length=case["maxLength"]),
    )
    peaks = PassPeaks(device)
    original = (compute.loss, compute.generate)
    peaks.wrap(compute)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    started = time.perf_counter()
    try:
        report = evaluate(
            target,
            EvalOptions(out=folder / "eval", batch_size=case["batchSize"], max_new_tokens=case["maxNewTokens"]),
        )
    finally:
        compute.loss, compute.generate = original
    seconds = time.perf_counter() - started
    gen = report["generation"]
    return {
        "case": case,
        "device": torch.cuda.get_device_name(0) if device.type == "cuda" else "cpu",
        "build_and_save_seconds": round(build_seconds, 1),
        "evaluate_seconds": round(seconds, 1),
        "resident_bytes": peaks.resident,
        "pass_peak_allocated_bytes": peaks.peaks,
        "peak_allocated_bytes": max(peaks.peaks.values()) if peaks.peaks else None,
        "generation_tokens_per_second": {k: gen[k]["tokens_per_second"] for k in ("base", "tuned")},
        "generated_tokens": {k: gen[k]["tokens"] for k in ("base", "tuned")},
        "stopped": {k: gen[k]["stopped"] for k in ("base", "tuned")},
        "loss": report["loss"],
        "prompts": report["prompts"],
        "base_weights": report["base_weights"],
    }


def expected_for(case: dict[str, Any], device_name: str) -> dict[str, Any] | None:
    path = HERE / "eval_gpu_expected.json"
    if not path.is_file():
        return None
    entry = json.loads(path.read_text()).get(case["name"])
    if not entry:
        return None
    per_gpu = entry["estimate"]
    key = "H200" if "H200" in device_name else "H100 80GB"
    return per_gpu.get(key)


def compared(result: dict[str, Any]) -> dict[str, Any]:
    """The measurement beside the estimate: error in percent of the measured figure."""
    expected = expected_for(result["case"], result["device"])
    if expected is None or result["peak_allocated_bytes"] is None:
        return {}

    def err(estimated: float, measured: float | None) -> float | None:
        return None if not measured else round((estimated - measured) / measured * 100, 1)

    measured_passes = result["pass_peak_allocated_bytes"]
    tps = result["generation_tokens_per_second"]
    measured_tps = tps["tuned"]
    return {
        "estimate_peak_allocated_gib": round(expected["peak_allocated_bytes"] / GiB, 2),
        "measured_peak_allocated_gib": round(result["peak_allocated_bytes"] / GiB, 2),
        "peak_error_percent": err(expected["peak_allocated_bytes"], result["peak_allocated_bytes"]),
        "estimate_peak_pass": expected["peak_pass"],
        "passes": {
            name: {
                "estimate_gib": round(bytes_ / GiB, 2),
                "measured_gib": round(measured_passes.get(name, 0) / GiB, 2),
                "error_percent": err(bytes_, measured_passes.get(name)),
            }
            for name, bytes_ in expected["passes"].items()
        },
        "estimate_tokens_per_second": expected["generation_tokens_per_second"],
        "tokens_per_second_error_percent": err(expected["generation_tokens_per_second"], measured_tps),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--tiny", action="store_true", help="the tiny CPU case only (checks the path)")
    parser.add_argument("--cases", default=None, help="comma-separated case names (default: all)")
    parser.add_argument("--budget-seconds", type=float, default=330, help="start no case after this many seconds")
    args = parser.parse_args()

    import peft
    import torch
    import transformers

    args.out.mkdir(parents=True, exist_ok=True)
    device = torch.device("cuda", 0) if torch.cuda.is_available() and not args.tiny else torch.device("cpu")
    log(
        f"torch {torch.__version__} transformers {transformers.__version__} peft {peft.__version__} device "
        f"{torch.cuda.get_device_name(0) if device.type == 'cuda' else 'cpu'}"
    )
    if args.tiny:
        cases = [TINY_CASE]
    else:
        cases = [{**v, "name": k} for k, v in json.loads((HERE / "eval_gpu_expected.json").read_text()).items()]
        cases = [{k: c[k] for k in ("name", "model", "maxLength", "batchSize", "maxNewTokens", "rows")} for c in cases]
    if args.cases:
        wanted = set(args.cases.split(","))
        cases = [c for c in cases if c["name"] in wanted]
    results = []
    began = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="eval-gpu-"))
    try:
        for case in cases:
            if time.perf_counter() - began > args.budget_seconds:
                log(f"== {case['name']}: skipped (past --budget-seconds {args.budget_seconds})")
                continue
            try:
                result = run_case(case, work, device)
                result["compared"] = compared(result)
            except Exception as error:  # one case failing (an OOM) must not lose the others' figures
                result = {"case": case, "error": f"{type(error).__name__}: {error}", "trace": traceback.format_exc()}
                if device.type == "cuda":
                    result["peak_allocated_bytes_at_error"] = torch.cuda.max_memory_allocated()
            finally:
                shutil.rmtree(work / case["name"], ignore_errors=True)
                gc.collect()
                if device.type == "cuda":
                    torch.cuda.empty_cache()
            results.append(result)
            log(f"== {case['name']}: {json.dumps({k: v for k, v in result.items() if k != 'trace'})}")
            (args.out / "eval_gpu.json").write_text(json.dumps(results, indent=2) + "\n")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    summary(results)
    return 0 if all("error" not in r for r in results) else 1


def summary(results: list[dict[str, Any]]) -> None:
    log("\ncase               peak GiB est/meas (err%)   loss pass est/meas   generation est/meas   tok/s est/meas")
    for r in results:
        c = r.get("compared") or {}
        name = r["case"]["name"]
        if "error" in r:
            log(f"{name:18} ERROR {r['error']}")
            continue
        tps = r["generation_tokens_per_second"]
        if not c:
            log(f"{name:18} (no estimate to compare) tok/s base {tps['base']:.1f} tuned {tps['tuned']:.1f}")
            continue
        p = c["passes"]
        log(
            f"{name:18} {c['estimate_peak_allocated_gib']:6.2f}/{c['measured_peak_allocated_gib']:6.2f} "
            f"({c['peak_error_percent']:+.1f}%)      "
            f"{p['loss pass']['estimate_gib']:6.2f}/{p['loss pass']['measured_gib']:6.2f}        "
            f"{p['generation']['estimate_gib']:6.2f}/{p['generation']['measured_gib']:6.2f}        "
            f"{c['estimate_tokens_per_second']:.0f}/{tps['tuned']:.0f} (base {tps['base']:.0f})"
        )


if __name__ == "__main__":
    sys.exit(main())
