"""World size 1 on one GPU (issue 21): torchrun --nproc-per-node 1 under hardware.distributed ddp, fsdp and fsdp with
CPU offload, against the plain one-process path, for three steps of a tiny Llama built here (full fine-tuning in
fp32, so the layouts differ only in where the same arithmetic runs). Under torchrun one rank is wrapped all the same
(parallel_for), so DDP's bucket all-reduce and FSDP2's all-gather and reduce-scatter run on a one-rank NCCL group.

Losses: equal to the plain run within LOSS_TOLERANCE. Memory: each run's peak allocated bytes are printed (run with
-s); the one assertion on memory is that offloading the shards lowers the peak, which it must by the model states'
size (about 0.6 GB here against a few MB of activations). Skips without CUDA, saying so."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch", reason="the world-size-1 GPU test needs torch")
if not torch.cuda.is_available():
    pytest.skip("the world-size-1 test needs a CUDA GPU (NCCL); none is visible here", allow_module_level=True)
if not torch.distributed.is_available() or not torch.distributed.is_nccl_available():
    pytest.skip("this torch has no NCCL backend for the one-rank process group", allow_module_level=True)
pytest.importorskip("transformers")

from lora_lens_trainer import schema_check  # noqa: E402
from tests.plans import make_plan  # noqa: E402
from tests.tiny_model import build_model_dir, chat_rows, write_jsonl  # noqa: E402

TRAINER_DIR = Path(__file__).resolve().parents[2]
SCHEMA = schema_check.load_schema(schema_check.find_events_schema())
STEPS = 3
# fp32 with the same kernels: what differs is the order of a few reductions (a one-rank all-reduce is a copy).
LOSS_TOLERANCE = 1e-4
TIMEOUT_S = 300
LAYOUTS = {
    "plain": ("none", None),
    "ddp": ("ddp", None),
    "fsdp": ("fsdp", None),
    "fsdp-offload": ("fsdp", {"offload_params": True}),
}


@pytest.fixture(scope="module")
def assets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("world-size-one")
    return {
        "root": root,
        # Wide enough that the model states (~38 M parameters: 0.6 GB of fp32 weights, gradients and AdamW states)
        # dwarf the activations, so offloading them shows in the peak.
        "model": build_model_dir(root / "tiny-llama", hidden=1024, layers=4),
        "train": write_jsonl(root / "train.jsonl", chat_rows(24)),
    }


def plan_for(assets: dict[str, Path], layout: str) -> dict:
    distributed, fsdp = LAYOUTS[layout]
    plan = make_plan(
        str(assets["model"]),
        str(assets["train"]),
        method="full",
        lora=None,
        precision="fp32",
        training__max_steps=STEPS,
        training__save_steps=1000,
        training__learning_rate=1e-3,
        training__per_device_train_batch_size=2,
        training__gradient_accumulation_steps=2,
        training__warmup_steps=0,
        training__gradient_checkpointing=False,
        training__checkpoint_auto=False,
        data__max_length=128,
        data__packing=False,
        hardware__num_gpus=1,
        hardware__distributed=distributed,
        out=str(assets["root"]),
    )
    if fsdp is not None:
        plan["hardware"]["fsdp"] = fsdp
    return plan


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run(assets: dict[str, Path], layout: str) -> list[dict]:
    run_dir = assets["root"] / layout
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "plan.json").write_text(json.dumps(plan_for(assets, layout)))
    trainer = ["-m", "lora_lens_trainer", "run", "--plan", str(run_dir / "plan.json"), "--run-dir", str(run_dir)]
    launch = [sys.executable]
    if layout != "plain":
        port = str(free_port())
        launch += ["-m", "torch.distributed.run", "--nnodes", "1", "--nproc-per-node", "1"]
        launch += ["--master-addr", "127.0.0.1", "--master-port", port]
    env = dict(os.environ)
    env.update({"PYTHONPATH": str(TRAINER_DIR), "PYTHONUNBUFFERED": "1", "LORA_LENS_VALIDATE_EVENTS": "1"})
    env.update({"CUDA_VISIBLE_DEVICES": env.get("CUDA_VISIBLE_DEVICES", "0").split(",")[0] or "0"})
    proc = subprocess.run(launch + trainer, cwd=TRAINER_DIR, env=env, capture_output=True, text=True, timeout=TIMEOUT_S)
    assert proc.returncode == 0, f"{layout}: exit {proc.returncode}\n{proc.stderr[-4000:]}"
    events = [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines() if line.strip()]
    for event in events:
        assert schema_check.errors(SCHEMA, event) == [], event
    assert events[-1]["event"] == "end" and events[-1]["status"] == "completed", events[-3:]
    return events


@pytest.fixture(scope="module")
def runs(assets: dict[str, Path]) -> dict[str, list[dict]]:
    out = {layout: run(assets, layout) for layout in LAYOUTS}
    keep = os.environ.get("OUT")  # bench/world_size_one_gpu.sh: the events come back with the log
    if keep:
        for layout in LAYOUTS:
            shutil.copy(assets["root"] / layout / "events.jsonl", Path(keep) / f"world-size-one-{layout}.events.jsonl")
    for layout, events in out.items():
        steps = [e for e in events if e["event"] == "step"]
        peak = max(e["peak_allocated_bytes"] or 0 for e in steps)
        losses = [round(e["loss"], 6) for e in steps]
        print(f"\n== {layout}: losses {losses}  peak allocated {peak / 2**20:.1f} MiB", flush=True)
    return out


def step_losses(events: list[dict]) -> dict[int, float]:
    return {e["step"]: e["loss"] for e in events if e["event"] == "step"}


@pytest.mark.parametrize("layout", ["ddp", "fsdp", "fsdp-offload"])
def test_one_rank_gives_the_plain_losses(runs: dict[str, list[dict]], layout: str) -> None:
    plain, got = step_losses(runs["plain"]), step_losses(runs[layout])
    assert sorted(got) == list(range(1, STEPS + 1))
    far = {s: (got[s], plain[s]) for s in plain if abs(got[s] - plain[s]) > LOSS_TOLERANCE}
    print(f"\n== {layout}: largest loss gap to plain {max(abs(got[s] - plain[s]) for s in plain):.3g}", flush=True)
    assert far == {}, f"{layout}: steps whose loss differs from the plain run beyond {LOSS_TOLERANCE}: {far}"
    step = next(e for e in runs[layout] if e["event"] == "step")
    assert [r["rank"] for r in step["rank_memory"]] == [0], "a wrapped run reports its one rank"


def test_offloaded_shards_lower_the_peak(runs: dict[str, list[dict]]) -> None:
    def peak(layout: str) -> float:
        return max(e["peak_allocated_bytes"] or 0 for e in runs[layout] if e["event"] == "step")

    # The model states alone: 38 M parameters × (4 weights + 4 gradients + 8 AdamW) bytes, about 0.6 GB.
    assert peak("fsdp-offload") < peak("fsdp") - 256 * 2**20, (peak("fsdp-offload"), peak("fsdp"))
