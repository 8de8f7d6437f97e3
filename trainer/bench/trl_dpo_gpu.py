"""Issue 23's calibration against TRL + PEFT: the LoRA DPO cases of preference_gpu_expected.json (7B at batch 1 and
2, 1.5B at batch 2 as a small control) run through TRL 1.13's DPOTrainer with a PEFT LoraConfig, on the same
random-weight bf16 Qwen2 model preference_gpu.py builds (built on the GPU from the config, seeded), the same rows
(prompt max_length/2 tokens, answers max_length/2 - 1 plus EOS: every sequence fills max_length) and the plan's
settings. Measured: the largest per-step torch.cuda.max_memory_allocated and tokens/s (the median of steps 4-12),
from a TrainerCallback that times each step end to end (data, forwards, backward, optimizer, logging), as our
trainer's step events do.

Each TRL row is printed beside our trainer's (OUT/preference_gpu.json of the same OUT, from preference_gpu.py; when
that file is absent our trainer is run here first, through preference_gpu.py's functions) and beside the two
estimates: `estimate` (the bundled trainer) and `estimate_hf` (transformers + PEFT, which is what TRL runs).

TRL's settings, matched to the plan one by one (DPOConfig below): per_device_train_batch_size, accumulation 1,
max_steps 12, learning_rate, constant schedule, no warm-up, max_grad_norm, weight_decay 0, optim (the plan's
adamw_torch: the hf estimate counts its foreach temporaries), seed, gradient checkpointing with use_reentrant=False
(ours: every decoder layer, non-reentrant), bf16 autocast over bf16 weights, SDPA, beta 0.1, loss sigmoid,
label_smoothing 0, max_length = data.max_length, precompute_ref_log_probs False (the reference is the adapter
disabled, scored in the same micro-batch under no_grad after the policy's forward, as ours), disable_dropout False
(TRL's default would zero the plan's lora_dropout 0.05, which ours applies), no evaluation, no saving.
LoRA: r, lora_alpha, lora_dropout, all-linear (lm_head excluded by both), bias none, no rsLoRA or DoRA.

What cannot match (the differences are what the two estimates model):
- TRL computes the whole micro-batch's logits (2·batch × max_length × vocab, bf16) for the policy and again for
  the reference, both alive through its loss; ours projects only completion positions, a chunk at a time.
- PEFT keeps adapters in fp32 and casts each adapted layer's input to fp32 (a copy per target under autocast);
  ours runs the adapter in bf16 with fp32 master weights in one fused node.
- TRL's max_length truncates each prompt+answer sequence (keep_start), ours cuts each side the same way: with
  these rows (exactly max_length) neither truncates, and both count 2·batch·max_length tokens a step.
- TRL pads each batch to its longest row (right padding); every row here has the same length, so no padding.
- TRL disables gradient checkpointing around the no_grad reference forward; under no_grad it saves nothing
  either way.

Run from the repository root after preference_gpu.py (TRL, datasets, dill and multiprocess from the carried wheels;
`.whl` is git-ignored, so a fresh checkout makes it first: `echo /.whl/ >> .git/info/exclude; python3 -m pip download
--no-deps --only-binary=:all: --python-version 3.12 --implementation cp --platform manylinux2014_x86_64 --platform any
-d .whl trl==1.13.0 datasets==5.0.1 dill==0.4.1`, and multiprocess==0.70.19 the same way with --python-version 3.11
(the mirror has only its py311 wheel), then carry [".whl"] in the device call):
  python trainer/bench/preference_gpu.py --out "$OUT" --cases 7b-lora-dpo-b1,7b-lora-dpo-b2,1.5b-lora-dpo-b2
  python trainer/bench/trl_dpo_gpu.py --out "$OUT"
CPU check of the whole path (tiny shapes, fp32, our trainer run here too):
  python trainer/bench/trl_dpo_gpu.py --tiny --out /tmp/x --cases 1.5b-lora-dpo-b2
Writes OUT/trl_dpo_gpu.json (one object per case) and prints one `==` line per case and a summary table.
"""

from __future__ import annotations

import argparse
import gc
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import preference_gpu as ours  # noqa: E402 (a sibling script, not a package)

CASES = ("7b-lora-dpo-b1", "7b-lora-dpo-b2", "1.5b-lora-dpo-b2")  # the 7B first: they are what the call is for
BUDGET_S = 100  # default --budget: no TRL case starts after it, so the part ends inside its device-call timeout
TINY_MAX_LENGTH = 96  # as preference_gpu.py's --tiny
TIMED_FROM_STEP = 4  # steps 1-3 warm up (allocator, optimizer state, kernels), as preference_gpu.py skips them
GiB = ours.GiB
log = ours.log


def import_trl() -> None:
    """Stop with what to do when TRL's stack is missing (the GPU machine has none of it preinstalled)."""
    missing = []
    for name in ("trl", "peft", "datasets"):
        try:
            __import__(name)
        except ImportError as error:
            missing.append(f"{name} ({error})")
    if missing:
        sys.exit(
            "trl_dpo_gpu.py needs trl 1.13.0, peft and datasets; not importable: " + "; ".join(missing) + ". "
            "On the GPU machine install the carried wheels first: python3 -m pip install -q --no-index --no-deps "
            "--no-compile --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site"
        )


def step_meter() -> Any:
    """A TrainerCallback recording each step's wall time (step end to step end, the device synchronised) and its
    peak allocated bytes (the peak is reset at every step end, so each step's own)."""
    import torch
    from transformers import TrainerCallback

    cuda = torch.cuda.is_available()

    def now() -> float:
        if cuda:
            torch.cuda.synchronize()
        return time.perf_counter()

    class StepMeter(TrainerCallback):  # type: ignore[misc]
        def __init__(self) -> None:
            self.seconds: list[float] = []
            self.peaks: list[int] = []
            self.allocated_at_start: int | None = None
            self.last = 0.0

        def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if cuda:
                self.allocated_at_start = torch.cuda.memory_allocated()
                torch.cuda.reset_peak_memory_stats()
            self.last = now()

        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            t = now()
            self.seconds.append(t - self.last)
            self.last = t
            if cuda:
                self.peaks.append(torch.cuda.max_memory_allocated())
                torch.cuda.reset_peak_memory_stats()

    return StepMeter()


def dpo_config(plan: dict[str, Any], work: Path, max_length: int, tiny: bool) -> Any:
    """TRL's settings from the plan, each named (the module docstring lists what they match)."""
    from trl import DPOConfig

    t, d = plan["training"], plan["dpo"]
    return DPOConfig(
        output_dir=str(work / "trl-output"),
        per_device_train_batch_size=t["per_device_train_batch_size"],
        gradient_accumulation_steps=t["gradient_accumulation_steps"],
        max_steps=t["max_steps"],
        learning_rate=t["learning_rate"],
        lr_scheduler_type=t["lr_scheduler_type"],
        warmup_steps=t["warmup_steps"],
        max_grad_norm=t["max_grad_norm"],
        weight_decay=t["weight_decay"],
        optim=t["optim"],
        seed=t["seed"],
        gradient_checkpointing=t["gradient_checkpointing"],
        gradient_checkpointing_kwargs={"use_reentrant": False},
        bf16=not tiny,
        beta=d["beta"],
        loss_type=[d["loss"]],
        label_smoothing=d["label_smoothing"],
        max_length=max_length,
        truncation_mode="keep_start",
        padding_free=False,
        precompute_ref_log_probs=False,
        disable_dropout=False,
        dataloader_num_workers=t["dataloader_num_workers"],
        logging_steps=1,
        save_strategy="no",
        eval_strategy="no",
        report_to="none",
        disable_tqdm=True,
        use_cpu=tiny,
    )


def lora_config(plan: dict[str, Any]) -> Any:
    from peft import LoraConfig

    lora = plan["lora"]
    return LoraConfig(
        r=lora["r"],
        lora_alpha=lora["lora_alpha"],
        lora_dropout=lora["lora_dropout"],
        target_modules=lora["target_modules"],
        bias=lora["bias"],
        use_rslora=lora["use_rslora"],
        use_dora=lora["use_dora"],
        task_type="CAUSAL_LM",
    )


def pair_rows(case: dict[str, Any], max_length: int, work: Path) -> list[dict[str, Any]]:
    """The rows preference_gpu.py gives our trainer (its write_data), read back for a datasets.Dataset."""
    t = case["plan"]["training"]
    path = work / f"{case['name']}.jsonl"
    ours.write_data(path, case["objective"], max_length, t["max_steps"] * t["per_device_train_batch_size"])
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def run_trl_case(case: dict[str, Any], model: Any, tokenizer: Any, work: Path, tiny: bool) -> dict[str, Any]:
    """One DPOTrainer run of `case` on `model` (PEFT wraps it; the adapter is unloaded again at the end, so the
    next case gets the bare model back)."""
    from datasets import Dataset
    from transformers import PrinterCallback
    from trl import DPOTrainer

    plan = case["plan"]
    max_length = TINY_MAX_LENGTH if tiny else plan["data"]["max_length"]
    meter = step_meter()
    trainer = DPOTrainer(
        model=model,
        args=dpo_config(plan, work, max_length, tiny),
        train_dataset=Dataset.from_list(pair_rows(case, max_length, work)),
        processing_class=tokenizer,
        peft_config=lora_config(plan),
        callbacks=[meter],
    )
    trainer.remove_callback(PrinterCallback)  # a dict per step; the row below carries what the table needs
    started = time.perf_counter()
    trainer.train()
    wall = time.perf_counter() - started
    logs = [h for h in trainer.state.log_history if "loss" in h]
    tokens = logs[-1].get("num_tokens") if logs else None
    steps = len(meter.seconds)
    tokens_per_step = tokens / steps if tokens and steps else None
    timed = meter.seconds[TIMED_FROM_STEP - 1 :]
    result = {
        "name": case["name"],
        "steps": steps,
        "wall_s": round(wall, 1),
        "tokens_per_step": tokens_per_step,
        "trl_peak_allocated_bytes": max(meter.peaks) if meter.peaks else None,
        "trl_step_peaks_gib": [round(p / GiB, 3) for p in meter.peaks],
        "allocated_at_start_bytes": meter.allocated_at_start,
        "trl_tokens_per_second": tokens_per_step / statistics.median(timed) if timed and tokens_per_step else None,
        "trl_step_seconds": [round(s, 4) for s in meter.seconds],
        "last_loss": logs[-1].get("loss") if logs else None,
        "last_margin": logs[-1].get("rewards/margins") if logs else None,
    }
    trainer.accelerator.free_memory()
    trainer.model.unload()  # takes the LoRA layers out of `model` in place: the next case gets it as built
    model.disable_input_require_grads()  # TRL hooked the embeddings for checkpointing through PEFT
    result["adapter_modules_left"] = sum(1 for name, _ in model.named_modules() if "lora_" in name)
    del trainer
    return result


def our_rows(out: Path, cases: list[dict[str, Any]], work: Path, gpu_key: str | None, tiny: bool) -> dict[str, Any]:
    """Our trainer's rows for `cases`: OUT/preference_gpu.json when preference_gpu.py wrote it, else run here."""
    path = out / "preference_gpu.json"
    if path.exists():
        log(f"== our trainer's rows from {path}")
        return {r["name"]: r for r in json.loads(path.read_text())}
    import torch

    device = torch.device("cuda" if torch.cuda.is_available() and not tiny else "cpu")
    rows, models = {}, {}
    for case in cases:
        shape = "tiny" if tiny else case["model"]
        if shape not in models:
            models[shape] = work / "models" / shape.replace("/", "--")
            ours.write_model(models[shape], ours.SHAPES[shape], device)
        try:
            rows[case["name"]] = ours.run_case(case, models[shape], out, work, gpu_key, tiny)
        except subprocess.TimeoutExpired:
            rows[case["name"]] = {"name": case["name"], "rc": None, "error": f"timed out after {ours.CASE_TIMEOUT_S}s"}
        log("== ours", json.dumps({k: v for k, v in rows[case["name"]].items() if k != "error"}))
    path.write_text(json.dumps(list(rows.values()), indent=1))
    return rows


def _error(estimate: Any, measured: Any) -> float | None:
    return estimate / measured - 1 if estimate and measured else None


def compare(case: dict[str, Any], trl: dict[str, Any], mine: dict[str, Any] | None, gpu_key: str | None) -> None:
    """Adds our trainer's figures and both estimates to the TRL row, with the errors (estimate / measured - 1)."""
    mine = mine or {}
    trl["ours_peak_allocated_bytes"] = mine.get("measured_peak_allocated_bytes")
    trl["ours_tokens_per_second"] = mine.get("measured_tokens_per_second")
    trl["ours_rc"] = mine.get("rc")
    if gpu_key is None:
        return
    est, hf = case["estimate"][gpu_key], case["estimate_hf"][gpu_key]
    trl["estimate_peak_allocated_bytes"] = est["peak_allocated_bytes"]
    trl["estimate_tokens_per_second"] = est["tokens_per_second"]
    trl["estimate_hf_peak_allocated_bytes"] = hf["peak_allocated_bytes"]
    trl["estimate_hf_peak_phase"] = hf["peak_phase"]
    trl["estimate_hf_tokens_per_second"] = hf["tokens_per_second"]
    trl["estimate_hf_breakdown_gib"] = {t["label"]: round(t["bytes"] / GiB, 3) for t in hf["breakdown"]}
    trl["memory_error_hf_vs_trl"] = _error(hf["peak_allocated_bytes"], trl["trl_peak_allocated_bytes"])
    trl["time_error_hf_vs_trl"] = _error(hf["tokens_per_second"], trl["trl_tokens_per_second"])
    trl["memory_error_ours"] = _error(est["peak_allocated_bytes"], trl["ours_peak_allocated_bytes"])
    trl["time_error_ours"] = _error(est["tokens_per_second"], trl["ours_tokens_per_second"])


def _pct(x: Any) -> str:
    return "-" if x is None else f"{100 * x:+.1f}%"


def print_table(rows: list[dict[str, Any]]) -> None:
    f = ours._fmt
    log(
        f"{'case':18} {'TRL GiB':>8} {'hf est':>7} {'err':>7} {'ours GiB':>8} {'est':>6} {'err':>7}   "
        f"{'TRL tok/s':>9} {'hf est':>7} {'err':>7} {'ours tok/s':>10} {'est':>6} {'err':>7}"
    )
    for r in rows:
        log(
            f"{r['name']:18} {f(r.get('trl_peak_allocated_bytes'), GiB):>8} "
            f"{f(r.get('estimate_hf_peak_allocated_bytes'), GiB):>7} {_pct(r.get('memory_error_hf_vs_trl')):>7} "
            f"{f(r.get('ours_peak_allocated_bytes'), GiB):>8} {f(r.get('estimate_peak_allocated_bytes'), GiB):>6} "
            f"{_pct(r.get('memory_error_ours')):>7}   {f(r.get('trl_tokens_per_second'), 1, 0):>9} "
            f"{f(r.get('estimate_hf_tokens_per_second'), 1, 0):>7} {_pct(r.get('time_error_hf_vs_trl')):>7} "
            f"{f(r.get('ours_tokens_per_second'), 1, 0):>10} {f(r.get('estimate_tokens_per_second'), 1, 0):>6} "
            f"{_pct(r.get('time_error_ours')):>7}"
        )
    for r in rows:
        if r.get("estimate_hf_breakdown_gib"):
            log(
                f"== {r['name']} hf estimate at its peak ({r['estimate_hf_peak_phase']}): {r['estimate_hf_breakdown_gib']}"
            )


def load_tokenizer(work: Path) -> Any:
    from transformers import AutoTokenizer

    folder = work / "tokenizer"
    ours.write_tokenizer(folder)
    return AutoTokenizer.from_pretrained(folder)


def build(shape_name: str, device: Any, tiny: bool) -> Any:
    """preference_gpu.py's model (same seed, same weights), in fp32 for the CPU check as its plans say."""
    started = time.perf_counter()
    model = ours.build_model(ours.SHAPES[shape_name], device)
    if tiny:
        model = model.float()
    model.set_attn_implementation("sdpa")
    log(f"== built {shape_name} in {time.perf_counter() - started:.1f}s")
    return model


def run_trl_cases(
    cases: list[dict[str, Any]],
    mine: dict[str, Any],
    out: Path,
    work: Path,
    device: Any,
    gpu_key: str | None,
    tiny: bool,
    budget_s: float,
) -> list[dict[str, Any]]:
    """TRL on each case in order, one model build per shape (the 7B cases share theirs); OUT/trl_dpo_gpu.json is
    rewritten after every case, so a part cut short keeps what it measured."""
    import torch

    tokenizer = load_tokenizer(work)
    results: list[dict[str, Any]] = []
    started, model, built = time.perf_counter(), None, None
    for case in cases:
        if time.perf_counter() - started > budget_s:
            log(f"== skipped {case['name']}: past the {budget_s:.0f}s budget")
            continue
        shape_name = "tiny" if tiny else case["model"]
        if built != shape_name:
            model = None
            gc.collect()
            if device.type == "cuda":
                torch.cuda.empty_cache()
            model, built = build(shape_name, device, tiny), shape_name
        try:
            r = run_trl_case(case, model, tokenizer, work, tiny)
            compare(case, r, mine.get(case["name"]), gpu_key)
        except Exception as error:  # one failed case (out of memory, a TRL change) must not lose the others
            r = {"name": case["name"], "error": f"{type(error).__name__}: {error}"[-3000:]}
            built = None  # the model may still carry the adapter: build it again
        gc.collect()
        results.append(r)
        log("== trl", json.dumps({k: v for k, v in r.items() if not k.endswith(("_seconds", "_gib"))}))
        (out / "trl_dpo_gpu.json").write_text(json.dumps(results, indent=1))
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--tiny", action="store_true", help="CPU check of the path with a tiny model, fp32")
    parser.add_argument("--cases", default=",".join(CASES), help="comma-separated case names, run in this order")
    parser.add_argument("--budget", type=float, default=BUDGET_S, help="seconds after which no TRL case starts")
    args = parser.parse_args()
    import_trl()
    import datasets
    import torch

    datasets.disable_progress_bars()

    expected: dict[str, Any] = json.loads(ours.EXPECTED.read_text())
    names = [n for n in args.cases.split(",") if n]
    unknown = [n for n in names if n not in expected or "estimate_hf" not in expected[n]]
    if unknown:
        known = [n for n, c in expected.items() if "estimate_hf" in c]
        sys.exit(f"--cases: {', '.join(unknown)} not among the TRL cases of {ours.EXPECTED.name} ({', '.join(known)})")
    cases = [expected[n] for n in names]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    device = torch.device("cuda" if torch.cuda.is_available() and not args.tiny else "cpu")
    gpu_name = torch.cuda.get_device_name(0) if device.type == "cuda" else "cpu"
    gpu_key = None if args.tiny else ("H200" if "H200" in gpu_name else "H100 80GB")
    import peft
    import transformers
    import trl

    versions = f"torch {torch.__version__}, transformers {transformers.__version__}, trl {trl.__version__}"
    log(f"== device {gpu_name}; {versions}, peft {peft.__version__}; estimate column: {gpu_key}")
    work = Path(tempfile.mkdtemp(prefix="trl-dpo-gpu-"))
    try:
        mine = our_rows(out, cases, work, gpu_key, args.tiny)
        rows = run_trl_cases(cases, mine, out, work, device, gpu_key, args.tiny, args.budget)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print_table(rows)
    failed = [r["name"] for r in rows if r.get("error")]
    for r in rows:
        if r.get("error"):
            log(f"== FAILED {r['name']}: {r['error']}")
    if failed or len(rows) < len(cases):
        sys.exit(1)


if __name__ == "__main__":
    main()
