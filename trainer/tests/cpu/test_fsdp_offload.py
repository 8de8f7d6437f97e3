"""FSDP2 with hardware.fsdp.offload_params (CPUOffloadPolicy): two real gloo ranks through torchrun on the CPU give
the losses of the same FSDP run without offload (LoRA and full fine-tuning, checkpoints and the export included),
and the wrapper hands fully_shard the CPU offload policy only when the plan asks for it.

Each torchrun here has its own free port (static rendezvous, --master-port) and a timeout after which the launcher
is killed (its ranks die with it: distributed.die_with_launcher), so a stuck rendezvous fails the test instead of
hanging the suite. On the CPU the offloaded shards stay where they were: what this proves is the plumbing (the
policy reaches every fully_shard call, the optimizer steps the offloaded shards, checkpoints and the export read
them); tests/gpu/test_world_size_one.py measures the GPU side."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

torch = pytest.importorskip("torch", reason="the FSDP offload tests run the real trainer: they need torch")
pytest.importorskip("transformers", reason="the FSDP offload tests need transformers")
if not torch.distributed.is_available():
    pytest.skip("this torch has no torch.distributed", allow_module_level=True)

from tests.cpu.trainer_process import TIMEOUT_S, TRAINER_DIR, env, losses, read_events, train, write_plan  # noqa: E402
from tests.plans import make_plan  # noqa: E402
from tests.tiny_model import build_model_dir, chat_rows, write_jsonl  # noqa: E402

STEPS, SAVE_EVERY = 4, 2
# The same sharded arithmetic with the shards in another place: equal to rounding (fp32 on the CPU).
LOSS_TOLERANCE = 1e-5
LORA = {
    "r": 8,
    "lora_alpha": 16,
    "lora_dropout": 0.0,
    "target_modules": "all-linear",
    "bias": "none",
    "use_rslora": False,
    "use_dora": False,
}


@pytest.fixture(scope="module")
def assets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("fsdp-offload")
    return {
        "root": root,
        "model": build_model_dir(root / "tiny-llama", hidden=64, layers=2),
        "train": write_jsonl(root / "train.jsonl", chat_rows(24)),
    }


def fsdp_plan(assets: dict[str, Path], method: str, offload: bool | None) -> dict:
    plan = make_plan(
        str(assets["model"]),
        str(assets["train"]),
        method=method,
        lora=None if method == "full" else LORA,
        precision="fp32",
        training__max_steps=STEPS,
        training__save_steps=SAVE_EVERY,
        training__learning_rate=3e-3,
        training__per_device_train_batch_size=2,
        training__gradient_accumulation_steps=1,
        training__warmup_steps=1,
        data__max_length=96,
        data__packing=False,
        hardware__num_gpus=2,
        hardware__distributed="fsdp",
        out=str(assets["root"]),
    )
    if offload is not None:
        plan["hardware"]["fsdp"] = {"offload_params": offload}
    return plan


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_ranks(
    run_dir: Path, *flags: str, ranks: int = 2, kill_at_step: int | None = None
) -> tuple[int, list[dict], str]:
    """torchrun with `ranks` processes; `kill_at_step`: SIGKILL to the launcher once rank 0 reports that step."""
    command = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--nproc-per-node", str(ranks)]
    command += ["--master-addr", "127.0.0.1", "--master-port", str(free_port())]
    command += ["-m", "lora_lens_trainer", "run", "--plan", str(run_dir / "plan.json"), "--run-dir", str(run_dir)]
    run_env = env()
    run_env.update({"TORCH_ELASTIC_SHUTDOWN_TIMEOUT": "30", "LORA_LENS_DIST_TIMEOUT_S": "120"})
    err_path = run_dir / f"torchrun-{len(list(run_dir.glob('torchrun-*.err')))}.err"
    with err_path.open("w") as err:
        proc = subprocess.Popen(
            [*command, *flags], cwd=TRAINER_DIR, env=run_env, stdout=subprocess.PIPE, stderr=err, text=True
        )
        timed_out: list[bool] = []
        watchdog = threading.Timer(TIMEOUT_S, lambda: (timed_out.append(True), proc.kill()))
        watchdog.start()
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                if kill_at_step is not None and line.startswith("{"):
                    event = json.loads(line)
                    if event.get("event") == "step" and event["step"] >= kill_at_step:
                        proc.send_signal(signal.SIGKILL)
                        kill_at_step = None
            proc.wait()
        finally:
            watchdog.cancel()
    stderr = err_path.read_text(encoding="utf-8")
    if timed_out:
        pytest.fail(f"torchrun did not finish within {TIMEOUT_S} s: {stderr[-3000:]}")
    return proc.returncode, read_events(run_dir), stderr


def no_process_uses(run_dir: Path, wait_s: float = 30.0) -> bool:
    """Whether every process whose command line names `run_dir` has gone (the ranks die with their launcher)."""
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        users = []
        for entry in Path("/proc").iterdir():
            try:
                if entry.name.isdigit() and str(run_dir) in (entry / "cmdline").read_text(errors="replace"):
                    users.append(entry.name)
            except OSError:
                continue
        if not users:
            return True
        time.sleep(0.2)
    return False


@pytest.mark.parametrize("method", ["lora", "full"])
def test_offloaded_shards_give_the_losses_of_fsdp(assets: dict[str, Path], method: str) -> None:
    got: dict[str, dict[int, float]] = {}
    for name, offload in (("plain", None), ("offload", True)):
        run_dir = assets["root"] / f"{method}-{name}"
        write_plan(run_dir, fsdp_plan(assets, method, offload))
        rc, events, stderr = run_ranks(run_dir)
        assert rc == 0, stderr[-4000:]
        assert events[-1]["event"] == "end" and events[-1]["status"] == "completed", events[-3:]
        got[name] = losses(events)
        assert (run_dir / "checkpoints" / f"step-{SAVE_EVERY:07d}" / ".metadata").is_file()
        written = run_dir / ("adapter" if method == "lora" else "model")
        assert any(written.glob("*.safetensors")), f"nothing exported into {written}"
        said = "shards in CPU memory" in (run_dir / "trainer.log").read_text(encoding="utf-8")
        assert said == (offload is True), "the log says whether the shards were offloaded"
    assert sorted(got["offload"]) == list(range(1, STEPS + 1))
    far = {
        s: (got["offload"][s], got["plain"][s])
        for s in got["plain"]
        if abs(got["offload"][s] - got["plain"][s]) > LOSS_TOLERANCE
    }
    assert far == {}, f"steps whose offloaded loss differs from FSDP's beyond {LOSS_TOLERANCE}: {far}"


def _policies(tmp_path: Path, offload: bool | None) -> set[str]:
    """The offload policy of every fully_shard unit the wrapper makes, in a one-rank gloo group."""
    import torch.distributed as dist
    from torch.distributed.fsdp import FSDPModule
    from transformers import AutoModelForCausalLM

    from lora_lens_trainer.distributed import Placement
    from lora_lens_trainer.parallel.fsdp import Fsdp
    from lora_lens_trainer.plan import plan_from_dict

    model_dir = build_model_dir(tmp_path / "m", hidden=32, layers=2)
    plan = fsdp_plan({"model": model_dir, "train": tmp_path / "t.jsonl", "root": tmp_path}, "full", offload)
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1)
    try:
        model = AutoModelForCausalLM.from_pretrained(str(model_dir))
        Fsdp(Placement(0, 1, 0, torch.device("cpu")), plan_from_dict(plan)).wrap(model, plan_from_dict(plan))
        units = [m for m in model.modules() if isinstance(m, FSDPModule)]
        assert len(units) == 2, "one unit per decoder layer (the root wraps the model from outside)"
        return {type(m._get_fsdp_state()._fsdp_param_group.offload_policy).__name__ for m in units}
    finally:
        dist.destroy_process_group()


@pytest.mark.parametrize(
    ("offload", "policy"), [(True, "CPUOffloadPolicy"), (False, "OffloadPolicy"), (None, "OffloadPolicy")]
)
def test_the_plan_decides_the_offload_policy(tmp_path: Path, offload: bool | None, policy: str) -> None:
    assert _policies(tmp_path, offload) == {policy}


def test_one_rank_under_torchrun_is_wrapped_and_gives_the_plain_losses(assets: dict[str, Path]) -> None:
    """torchrun --nproc-per-node 1 with fsdp and offload: the rank is wrapped (one rank's memory row, the offload
    log line), and its losses are one process's (tests/gpu/test_world_size_one.py does this on CUDA)."""
    plain_dir, one_dir = assets["root"] / "one-plain", assets["root"] / "one-rank"
    plain = fsdp_plan(assets, "lora", None)
    plain["hardware"].update({"num_gpus": 1, "distributed": "none"})
    write_plan(plain_dir, plain)
    rc, plain_events, stderr = train(plain_dir)
    assert rc == 0, stderr[-4000:]
    one = fsdp_plan(assets, "lora", True)
    one["hardware"]["num_gpus"] = 1
    write_plan(one_dir, one)
    rc, events, stderr = run_ranks(one_dir, ranks=1)
    assert rc == 0, stderr[-4000:]
    step = next(e for e in events if e["event"] == "step")
    assert [r["rank"] for r in step["rank_memory"]] == [0], "one rank under torchrun is wrapped"
    assert "shards in CPU memory" in (one_dir / "trainer.log").read_text(encoding="utf-8")
    got, expected = losses(events), losses(plain_events)
    assert sorted(got) == list(range(1, STEPS + 1))
    far = {s: (got[s], expected[s]) for s in expected if abs(got[s] - expected[s]) > LOSS_TOLERANCE}
    assert far == {}, f"steps whose loss differs from one plain process beyond {LOSS_TOLERANCE}: {far}"


def test_an_offloaded_run_killed_outright_resumes_to_the_same_losses(assets: dict[str, Path]) -> None:
    """The offloaded shards and their CPU optimizer states go through torch.distributed.checkpoint and back."""
    reference = assets["root"] / "lora-offload"
    if not (reference / "events.jsonl").is_file():
        pytest.skip("needs the uninterrupted offloaded LoRA run of test_offloaded_shards_give_the_losses_of_fsdp")
    run_dir = assets["root"] / "offload-killed"
    write_plan(run_dir, fsdp_plan(assets, "lora", True))
    rc, _, _ = run_ranks(run_dir, kill_at_step=SAVE_EVERY + 1)
    assert rc == -signal.SIGKILL
    assert no_process_uses(run_dir), "a rank outlived its killed launcher"
    rc, events, stderr = run_ranks(run_dir, "--resume")
    assert rc == 0, stderr[-4000:]
    assert events[-1]["event"] == "end" and events[-1]["status"] == "completed", events[-3:]
    assert [e for e in events if e["event"] == "start"][-1]["resumed_from_step"] == SAVE_EVERY
    expected, got = losses(read_events(reference)), losses(events)
    assert {s: got[s] for s in expected} == expected, "the resumed run's losses differ from the uninterrupted run's"
