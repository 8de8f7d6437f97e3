#!/usr/bin/env python3
"""Issue 26 on a GPU: a Qwen2-7B-shaped QLoRA run (random bf16 weights written to disk, a random rank-16 all-linear
adapter, no training) merged under a 16 GiB cap (LORA_LENS_GPU_MEMORY_LIMIT, the trainer's own) and exported to GGUF
f16 and q8_0, each phase in its own process: wall time, peak GPU memory (torch.cuda.max_memory_allocated and
reserved) and peak CPU memory (ru_maxrss), printed beside the figures the estimate's merge/export phases are built
from (resident embeddings + head, one decoder layer, the largest tensor).

    python3 bench/gpu/measure_export_7b.py            # the 7B run, results in $OUT/export_7b.json (+ logs)
    python3 bench/gpu/measure_export_7b.py --tiny     # the same code path on a tiny Qwen2 on the CPU (a smoke test)

The issue's failure it re-runs: before the streaming merge, this merge peaked at 14.9 GiB and failed under the cap.
Large files go to $WORK (default /tmp/lora-lens-export-7b, removed at the end): the model (15.2 GB), the merged
folder (15.2 GB) and the f16 GGUF (15.2 GB) are deleted as soon as measured, so the disk holds at most two.
A phase that would start past DEADLINE_S (default 320 s from the start) is skipped, and one still running 20 s past it
is stopped; either says so.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
TRAINER = ROOT / "trainer"
sys.path.insert(0, str(TRAINER))


def gguf_path() -> str:
    """The gguf package (pure Python): installed, else the wheel in .whl/ (carry it to a machine without it: a wheel
    of pure Python imports from sys.path as it is)."""
    try:
        import gguf  # noqa: F401

        return ""
    except ImportError:
        wheels = sorted((ROOT / ".whl").glob("gguf-*.whl"))
        if not wheels:
            sys.exit(
                "gguf is not installed and .whl/gguf-*.whl is absent: pip install gguf==0.19.0, or carry .whl/"
            )
        sys.path.insert(0, str(wheels[-1]))
        return str(wheels[-1])


GGUF_PATH = gguf_path()

GIB = 1 << 30
CAP = 16 * GIB
DEADLINE_S = float(os.environ.get("DEADLINE_S", "320"))


def qwen2_7b_config(tiny: bool, vocab: int) -> Any:
    from transformers import Qwen2Config

    if tiny:
        return Qwen2Config(
            vocab_size=vocab, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
            num_key_value_heads=2, max_position_embeddings=4096, tie_word_embeddings=False,
            bos_token_id=1, eos_token_id=4, pad_token_id=0,
        )  # fmt: skip
    return Qwen2Config(
        vocab_size=152064, hidden_size=3584, intermediate_size=18944, num_hidden_layers=28, num_attention_heads=28,
        num_key_value_heads=4, max_position_embeddings=32768, rope_theta=1000000.0, rms_norm_eps=1e-6,
        tie_word_embeddings=False, bos_token_id=1, eos_token_id=4, pad_token_id=0,
    )  # fmt: skip


def build_model(folder: Path, tiny: bool, device: str) -> dict[str, Any]:
    """Random weights with the architecture's shapes, written shard by shard (each tensor made on `device`)."""
    import torch
    from safetensors.torch import save_file
    from tests.tiny_model import build_tokenizer, chat_rows
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder.mkdir(parents=True)
    corpus = [m["content"] for row in chat_rows(64) for m in row["messages"]]
    build_tokenizer(
        folder,
        corpus + ["The quick brown fox jumps over the lazy dog. 12 + 30 = 42."] * 4,
    )
    config = qwen2_7b_config(tiny, len(AutoTokenizer.from_pretrained(folder)))
    config.architectures = ["Qwen2ForCausalLM"]
    config.save_pretrained(folder)
    with torch.device("meta"):
        shapes = {
            n: tuple(p.shape)
            for n, p in AutoModelForCausalLM.from_config(config).named_parameters()
        }
    gen = torch.Generator(device=device).manual_seed(0)
    shard: dict[str, Any] = {}
    weight_map: dict[str, str] = {}
    files: list[str] = []

    def flush() -> None:
        name = f"part-{len(files):03d}.safetensors"
        save_file(
            {k: v.cpu() for k, v in shard.items()},
            str(folder / name),
            metadata={"format": "pt"},
        )
        weight_map.update({k: name for k in shard})
        files.append(name)
        shard.clear()

    size = 0
    for name, shape in shapes.items():
        if name.endswith("norm.weight"):
            value = torch.ones(shape, dtype=torch.bfloat16, device=device)
        else:
            value = (torch.randn(shape, generator=gen, device=device) * 0.02).to(
                torch.bfloat16
            )
        if shard and size + value.numel() * 2 > 4 * GIB:
            flush()
            size = 0
        shard[name] = value
        size += value.numel() * 2
    flush()
    (folder / "model.safetensors.index.json").write_text(
        json.dumps(
            {
                "metadata": {"total_size": sum(2 * _numel(s) for s in shapes.values())},
                "weight_map": weight_map,
            }
        )
    )
    return {
        "parameters": sum(_numel(s) for s in shapes.values()),
        "shapes": shapes,
        "config": config.to_dict(),
    }


def _numel(shape: tuple[int, ...]) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def write_run(
    run_dir: Path, model: Path, shapes: dict[str, tuple[int, ...]], device: str
) -> None:
    """A finished QLoRA run folder: plan.json, events.jsonl's start event, the adapter (rank 16, all linear layers
    but the head, B non-zero so the merge has something to fold) with the tokenizer beside it."""
    import torch
    from safetensors.torch import save_file
    from tests.plans import make_plan

    run_dir.mkdir(parents=True)
    train = run_dir.parent / "train.jsonl"
    train.write_text('{"text": "unused: the adapter is random"}\n')
    plan = make_plan(str(model), str(train), method="qlora", out=str(run_dir.parent))
    plan["lora"].update({"r": 16, "lora_alpha": 32})
    plan["output"].update(
        {"merge": True, "merge_dtype": "bfloat16", "merge_base": "dequantized"}
    )
    (run_dir / "plan.json").write_text(json.dumps(plan))
    (run_dir / "events.jsonl").write_text(
        json.dumps({"event": "start", "quantization_backend": "builtin-nf4"}) + "\n"
    )
    adapter = run_dir / "adapter"
    adapter.mkdir()
    rank = 16
    gen = torch.Generator(device=device).manual_seed(1)
    tensors: dict[str, Any] = {}
    modules = sorted(
        n.removesuffix(".weight")
        for n, s in shapes.items()
        if len(s) == 2 and ".layers." in n
    )
    for module in modules:
        out_f, in_f = shapes[f"{module}.weight"]
        a = torch.randn(rank, in_f, generator=gen, device=device) / in_f**0.5
        b = torch.randn(out_f, rank, generator=gen, device=device) * 1e-2
        tensors[f"base_model.model.{module}.lora_A.weight"] = a.cpu()
        tensors[f"base_model.model.{module}.lora_B.weight"] = b.cpu()
    save_file(tensors, str(adapter / "adapter_model.safetensors"))
    targets = sorted({m.rsplit(".", 1)[-1] for m in modules})
    (adapter / "adapter_config.json").write_text(
        json.dumps(
            {
                "peft_type": "LORA",
                "r": rank,
                "lora_alpha": 32,
                "target_modules": targets,
                "use_rslora": False,
            }
        )
    )
    for path in model.iterdir():
        if path.name.startswith("tokenizer") or path.name == "special_tokens_map.json":
            shutil.copyfile(path, adapter / path.name)


def phase(name: str, run_dir: str, quant: str = "") -> dict[str, Any]:
    """One phase in this process (the child): its time and peaks, as one JSON line on stdout."""
    import logging

    import torch
    from lora_lens_trainer.plan import read_plan

    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    parts: list[str] = []

    class Peaks(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if "peaked at" in record.getMessage():
                parts.append(record.getMessage())

    logging.getLogger("lora_lens_trainer").addHandler(Peaks())
    cuda = torch.cuda.is_available()
    plan = read_plan(Path(run_dir) / "plan.json")
    start = time.perf_counter()
    if name == "merge":
        import lora_lens_trainer.merge as merge_module
        from lora_lens_trainer.merge import merge

        # Random weights and a random adapter are no trained model: their merged-vs-trained logit error (6.9% in bf16
        # on the H200) says nothing about a real run, so the check is recorded, not enforced, here.
        merge_module.THRESHOLDS = dict.fromkeys(merge_module.THRESHOLDS, 1.0)
        report = merge(Path(run_dir), plan)
        result = {
            "check": report["check"],
            "merged_bytes": _folder_bytes(Path(run_dir) / "merged"),
            "gpu_peaks_by_part": parts,  # the merge resets the peak after each part: the phase's peak is their max
        }
    else:
        from lora_lens_trainer.export.run import export_run

        report = export_run(Path(run_dir), plan, "gguf", quant, None, False)
        result = {
            "path": report["path"],
            "bytes": report["bytes"],
            "tensor_types": report.get("tensor_types"),
        }
    row = {
        "phase": f"{name}{'-' + quant if quant else ''}",
        "seconds": round(time.perf_counter() - start, 1),
        "gpu_peak_allocated_gib": round(torch.cuda.max_memory_allocated() / GIB, 3)
        if cuda
        else None,
        "gpu_peak_reserved_gib": round(torch.cuda.max_memory_reserved() / GIB, 3)
        if cuda
        else None,
        "cpu_peak_rss_gib": round(
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / GIB, 3
        ),
        **result,
    }
    print("PHASE " + json.dumps(row), flush=True)
    return row


def _folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def run_phase(
    name: str, run_dir: Path, out: Path, quant: str, seconds_left: float
) -> dict[str, Any]:
    env = dict(
        os.environ,
        LORA_LENS_GPU_MEMORY_LIMIT=str(CAP),
        PYTHONPATH=os.pathsep.join(p for p in (str(TRAINER), GGUF_PATH) if p),
        HF_HUB_OFFLINE="1",
    )
    label = f"{name}{'-' + quant if quant else ''}"
    args = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--phase",
        name,
        str(run_dir),
        quant,
    ]
    try:
        proc = subprocess.run(
            args,
            cwd=TRAINER,
            env=env,
            capture_output=True,
            text=True,
            timeout=seconds_left,
            check=False,
        )
    except subprocess.TimeoutExpired as stopped:
        (out / f"{label}.log").write_text(
            f"{stopped.stdout!r}\n--- stderr ---\n{stopped.stderr!r}"
        )
        print(
            f"{label}: stopped after {seconds_left:.0f} s (the script's time budget)",
            flush=True,
        )
        return {"phase": label, "failed": True, "timed_out_s": round(seconds_left)}
    (out / f"{label}.log").write_text(proc.stdout + "\n--- stderr ---\n" + proc.stderr)
    rows = [
        json.loads(line[6:])
        for line in proc.stdout.splitlines()
        if line.startswith("PHASE ")
    ]
    if proc.returncode != 0 or not rows:
        tail = "\n".join(proc.stderr.strip().splitlines()[-15:])
        print(f"{label}: FAILED (exit {proc.returncode})\n{tail}", flush=True)
        return {
            "phase": label,
            "failed": True,
            "exit": proc.returncode,
            "stderr_tail": tail,
        }
    print(f"{label}: {json.dumps(rows[-1])}", flush=True)
    return rows[-1]


def layer_figures(shapes: dict[str, tuple[int, ...]]) -> dict[str, float]:
    """What the estimate's merge/export phases are built from, in GiB (bf16 weights)."""
    layer0 = sum(2 * _numel(s) for n, s in shapes.items() if ".layers.0." in n)
    resident = sum(2 * _numel(s) for n, s in shapes.items() if ".layers." not in n)
    largest = max(_numel(s) for s in shapes.values())
    return {
        "one_layer_bf16_gib": round(layer0 / GIB, 4),
        "resident_bf16_gib": round(resident / GIB, 4),
        "largest_tensor_fp32_gib": round(4 * largest / GIB, 4),
        "model_bf16_gib": round(sum(2 * _numel(s) for s in shapes.values()) / GIB, 4),
    }


def main() -> int:
    import torch

    tiny = "--tiny" in sys.argv
    out = Path(os.environ.get("OUT") or "/tmp/lora-lens-export-7b-out")
    out.mkdir(parents=True, exist_ok=True)
    work = Path(os.environ.get("WORK") or "/tmp/lora-lens-export-7b")
    if work.exists():
        shutil.rmtree(work)
    device = "cuda" if torch.cuda.is_available() and not tiny else "cpu"
    t0 = time.perf_counter()
    summary: dict[str, Any] = {
        "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu",
        "torch": torch.__version__,
        "tiny": tiny,
        "cap_gib": CAP / GIB,
        "phases": [],
    }
    try:
        built = build_model(work / "qwen2-7b-random", tiny, device)
        summary["build_seconds"] = round(time.perf_counter() - t0, 1)
        summary["parameters"] = built["parameters"]
        summary["figures"] = layer_figures(built["shapes"])
        print(
            f"built {built['parameters']:,} parameters in {summary['build_seconds']} s: {summary['figures']}"
        )
        run_dir = work / "run"
        write_run(run_dir, work / "qwen2-7b-random", built["shapes"], device)
        for name, quant in (("merge", ""), ("export", "f16"), ("export", "q8_0")):
            if time.perf_counter() - t0 > DEADLINE_S:
                summary["phases"].append(
                    {"phase": f"{name}-{quant}", "skipped": f"past {DEADLINE_S:.0f} s"}
                )
                print(
                    f"{name} {quant}: skipped, past the {DEADLINE_S:.0f} s deadline",
                    flush=True,
                )
                continue
            seconds_left = max(30.0, DEADLINE_S + 20 - (time.perf_counter() - t0))
            summary["phases"].append(run_phase(name, run_dir, out, quant, seconds_left))
            shutil.rmtree(run_dir / "merged", ignore_errors=True)
            shutil.rmtree(run_dir / "export", ignore_errors=True)
    finally:
        summary["total_seconds"] = round(time.perf_counter() - t0, 1)
        (out / "export_7b.json").write_text(json.dumps(summary, indent=2))
        print("SUMMARY " + json.dumps(summary))
        shutil.rmtree(work, ignore_errors=True)
    return 0 if all(not p.get("failed") for p in summary["phases"]) else 1


if __name__ == "__main__":
    if len(sys.argv) >= 4 and sys.argv[1] == "--phase":
        phase(sys.argv[2], sys.argv[3], sys.argv[4] if len(sys.argv) > 4 else "")
        sys.exit(0)
    sys.exit(main())
