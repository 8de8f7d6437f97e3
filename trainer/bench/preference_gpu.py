"""Issue 23's GPU calibration: the bundled trainer's preference objectives (DPO, ORPO, SimPO; SFT as the control)
on Qwen2.5-0.5B- and 1.5B-shaped models with random bf16 weights, measured against our estimate.

Each case's plan is the one the TypeScript normaliser built (trainer/bench/preference_gpu_expected.json, written by
`npx tsx bench/preference-estimate.ts`, with the estimate's peak and tokens/s for H100 and H200); only the model,
data and output paths are swapped in. The trainer runs as the real child process (`python -m lora_lens_trainer
run`) for the plan's 12 steps; its step events give the peak allocated bytes (the largest over the steps) and
tokens/s (the median of steps 4-12, past warm-up). Rows fill max_length exactly: prompts of max_length/2 tokens
and answers of max_length/2 - 1 tokens plus EOS.

The tokenizer is byte-level with no merges (one token per character) over ids below 300 of the model's vocabulary;
the embedding and head keep the real vocabulary's size, which is what the memory and time depend on.

Run from the repository root:  python trainer/bench/preference_gpu.py --out "$OUT"
CPU check of the whole path (tiny shapes, fp32, no figures to compare):  python trainer/bench/preference_gpu.py --tiny --out /tmp/x
Writes OUT/preference_gpu.json (one object per case), OUT/<case>/{events.jsonl,stderr.log} (models, data and the
trained weights go to a scratch folder, removed at the end), and prints one `==`
line per case and a summary table.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from qwen_shapes import QWEN2_5_0_5B, QWEN2_5_1_5B, QWEN2_7B

HERE = Path(__file__).resolve().parent
TRAINER_DIR = HERE.parent
EXPECTED = HERE / "preference_gpu_expected.json"
GiB = 1024**3
CASE_TIMEOUT_S = 90
BUDGET_S = 260  # no case starts after this: the whole script stays under the 6-minute device call

SHAPES: dict[str, dict[str, Any]] = {
    "Qwen/Qwen2.5-0.5B": QWEN2_5_0_5B,
    "Qwen/Qwen2.5-1.5B": QWEN2_5_1_5B,
    "Qwen/Qwen2.5-7B": QWEN2_7B,
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


def log(*parts: Any) -> None:
    print(*parts, flush=True)


def write_tokenizer(folder: Path) -> None:
    """A byte-level BPE with no merges: every ASCII character is one token, so lengths are exact (transformers 5
    loads a Qwen2 folder's tokenizer as its BPE class, from this vocabulary and these merges)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    alphabet = pre_tokenizers.ByteLevel.alphabet()
    trainer = trainers.BpeTrainer(
        vocab_size=len(alphabet) + len(SPECIALS), special_tokens=SPECIALS, initial_alphabet=alphabet
    )
    tok.train_from_iterator([], trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", pad_token="<pad>", unk_token="<unk>"
    )
    fast.save_pretrained(folder)


def build_model(shape: dict[str, Any], device: Any) -> Any:
    """A Qwen2 model of `shape` with random bf16 weights, built on `device` (seeded: the same weights every call)."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

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
            # Small weights: random init at this scale keeps the logits finite and the loss near log(vocab).
            for p in model.parameters():
                if p.dim() > 1:
                    torch.nn.init.normal_(p, std=0.02)
    finally:
        torch.set_default_dtype(previous)
    return model


def write_model(folder: Path, shape: dict[str, Any], device: Any) -> float:
    """Random bf16 weights built on `device` from the config, saved with the tokenizer; returns seconds."""
    import torch

    started = time.perf_counter()
    model = build_model(shape, device)
    model.save_pretrained(folder, safe_serialization=True)
    write_tokenizer(folder)
    del model
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return time.perf_counter() - started


def write_data(path: Path, objective: str, max_length: int, rows: int) -> None:
    """Rows that fill max_length (one token per character): pairs of a max_length/2-token prompt and two answers of
    max_length/2 - 1 tokens (the trainer adds EOS to each), or SFT text of max_length tokens."""
    rng = random.Random(0)

    def words(n: int) -> str:
        return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz ") for _ in range(n))

    half = max_length // 2
    with path.open("w", encoding="utf-8") as f:
        for _ in range(rows):
            if objective == "sft":
                row = {"text": words(max_length)}
            elif objective == "kto":
                row = {"prompt": words(half), "completion": words(half - 1), "label": rng.random() < 0.5}
            else:
                row = {"prompt": words(half), "chosen": words(half - 1), "rejected": words(half - 1)}
            f.write(json.dumps(row) + "\n")


def run_case(
    case: dict[str, Any], model_dir: Path, out: Path, work: Path, gpu_key: str | None, tiny: bool
) -> dict[str, Any]:
    """Data, plan, run folder and the trained weights under `work` (a full fine-tune saves gigabytes); only the
    events and stderr go to `out`."""
    name = case["name"]
    run_dir = work / name
    run_dir.mkdir(parents=True, exist_ok=True)
    (out / name).mkdir(parents=True, exist_ok=True)
    plan = json.loads(json.dumps(case["plan"]))
    max_length = 96 if tiny else plan["data"]["max_length"]
    plan["model"]["name_or_path"] = str(model_dir)
    plan["data"]["max_length"] = max_length
    train = run_dir / "train.jsonl"
    steps = plan["training"]["max_steps"]
    rows = steps * plan["training"]["per_device_train_batch_size"] * plan["training"]["gradient_accumulation_steps"]
    write_data(train, case["objective"], max_length, rows)
    plan["data"]["train"] = str(train)
    plan["output"]["dir"] = str(run_dir / "output")
    if tiny:
        plan["precision"] = "fp32"
    trainer_run = run_dir / "run"
    trainer_run.mkdir(exist_ok=True)
    (trainer_run / "plan.json").write_text(json.dumps(plan, indent=1))
    env = dict(os.environ, PYTHONPATH=str(TRAINER_DIR), PYTHONUNBUFFERED="1")
    started = time.perf_counter()
    cmd = [sys.executable, "-m", "lora_lens_trainer", "run", "--plan", str(trainer_run / "plan.json")]
    cmd += ["--run-dir", str(trainer_run)]
    proc = subprocess.run(cmd, cwd=TRAINER_DIR, env=env, capture_output=True, text=True, timeout=CASE_TIMEOUT_S)
    wall = time.perf_counter() - started
    (out / name / "stderr.log").write_text(proc.stderr[-200_000:])
    events_path = trainer_run / "events.jsonl"
    events = [json.loads(x) for x in events_path.read_text().splitlines() if x.strip()] if events_path.exists() else []
    (out / name / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    steps_ev = [e for e in events if e.get("event") == "step"]
    result: dict[str, Any] = {"name": name, "rc": proc.returncode, "wall_s": round(wall, 1), "steps": len(steps_ev)}
    result.update({k: case[k] for k in ("model", "objective", "method", "maxLength", "batchSize")})
    if proc.returncode != 0 or not steps_ev:
        result["error"] = proc.stderr[-3000:]
        return result
    peaks = [e["peak_allocated_bytes"] for e in steps_ev if e.get("peak_allocated_bytes") is not None]
    tps = [e["tokens_per_second"] for e in steps_ev[3:] if e.get("tokens_per_second")]
    last = steps_ev[-1]
    result.update(
        {
            "measured_peak_allocated_bytes": max(peaks) if peaks else None,
            "measured_tokens_per_second": statistics.median(tps) if tps else None,
            "last_loss": last.get("loss"),
            "last_metrics": {k: v for k, v in last.items() if "/" in k or k in ("nll_loss",)},
        }
    )
    if gpu_key is not None:
        est = case["estimate"][gpu_key]
        result["estimate_peak_allocated_bytes"] = est["peak_allocated_bytes"]
        result["estimate_peak_phase"] = est["peak_phase"]
        result["estimate_tokens_per_second"] = est["tokens_per_second"]
        result["estimate_breakdown_gib"] = {t["label"]: round(t["bytes"] / GiB, 3) for t in est["breakdown"]}
        if result["measured_peak_allocated_bytes"]:
            result["memory_error"] = est["peak_allocated_bytes"] / result["measured_peak_allocated_bytes"] - 1
        if result["measured_tokens_per_second"] and est["tokens_per_second"]:
            result["time_error"] = est["tokens_per_second"] / result["measured_tokens_per_second"] - 1
    return result


def _fmt(x: Any, scale: float = 1.0, digits: int = 2) -> str:
    return "-" if x is None else f"{x / scale:.{digits}f}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--tiny", action="store_true", help="CPU check of the path with a tiny model")
    parser.add_argument("--cases", default="", help="comma-separated case names (default: all)")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    import torch

    expected: dict[str, Any] = json.loads(EXPECTED.read_text())
    wanted = [c for c in args.cases.split(",") if c]
    cases = [c for name, c in expected.items() if not wanted or name in wanted]
    if args.tiny and not wanted:
        cases = [c for c in cases if c["model"] == "Qwen/Qwen2.5-1.5B"][:5]
    device = torch.device("cuda" if torch.cuda.is_available() and not args.tiny else "cpu")
    gpu_name = torch.cuda.get_device_name(0) if device.type == "cuda" else "cpu"
    gpu_key = None if args.tiny else ("H200" if "H200" in gpu_name else "H100 80GB")
    log(f"== device {gpu_name}; estimate column: {gpu_key}; torch {torch.__version__}")

    # Models, data and run folders (gigabytes) in a scratch folder removed at the end, never under OUT.
    work = Path(tempfile.mkdtemp(prefix="preference-gpu-"))
    models: dict[str, Path] = {}
    results = []
    started = time.perf_counter()
    for case in cases:
        if time.perf_counter() - started > BUDGET_S:
            log(f"== skipped {case['name']}: past {BUDGET_S}s (the device call's limit is 6 minutes)")
            continue
        shape_name = "tiny" if args.tiny else case["model"]
        if shape_name not in models:
            models[shape_name] = work / "models" / shape_name.replace("/", "--")
            seconds = write_model(models[shape_name], SHAPES[shape_name], device)
            log(f"== built {shape_name} in {seconds:.1f}s")
        try:
            r = run_case(case, models[shape_name], out, work, gpu_key, args.tiny)
        except subprocess.TimeoutExpired:
            r = {"name": case["name"], "rc": None, "error": f"timed out after {CASE_TIMEOUT_S}s"}
        results.append(r)
        log("==", json.dumps({k: v for k, v in r.items() if k != "error"}))
        if r.get("error"):
            log(f"   error in {case['name']}:\n{r['error']}")
        (out / "preference_gpu.json").write_text(json.dumps(results, indent=1))
    shutil.rmtree(work, ignore_errors=True)
    log(f"\n== total {time.perf_counter() - started:.0f}s on {gpu_name}")
    log(
        f"{'case':22} {'rc':>3} {'peak GiB':>9} {'est GiB':>8} {'err':>7} {'tok/s':>8} {'est tok/s':>9} {'err':>7}  margin"
    )
    for r in results:
        margin = (r.get("last_metrics") or {}).get("rewards/margins")
        log(
            f"{r['name']:22} {str(r.get('rc')):>3} {_fmt(r.get('measured_peak_allocated_bytes'), GiB):>9} "
            f"{_fmt(r.get('estimate_peak_allocated_bytes'), GiB):>8} {_fmt(r.get('memory_error'), 0.01, 1):>6}% "
            f"{_fmt(r.get('measured_tokens_per_second'), 1, 0):>8} {_fmt(r.get('estimate_tokens_per_second'), 1, 0):>9} "
            f"{_fmt(r.get('time_error'), 0.01, 1):>6}%  {_fmt(margin, 1, 4)}"
        )
    for r in results:
        if r.get("estimate_breakdown_gib"):
            log(f"== {r['name']} estimate at its peak ({r.get('estimate_peak_phase')}): {r['estimate_breakdown_gib']}")
    failed = [r["name"] for r in results if r.get("rc") != 0]
    if failed:
        log(f"== FAILED: {', '.join(failed)}")
        sys.exit(1)


if __name__ == "__main__":
    main()
