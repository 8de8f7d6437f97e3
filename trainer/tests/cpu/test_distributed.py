"""Two training processes through torchrun on the CPU (gloo), the real trainer on a tiny Llama: DDP and FSDP2 give
the losses of one process accumulating the same global batch (tolerance below); an FSDP run killed outright leaves
no rank behind and resumes from its torch.distributed.checkpoint to the uninterrupted run's losses; a rank that
dies ends the run with an error event; SIGINT to the launcher stops both ranks at one step with a checkpoint."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import warnings
from pathlib import Path

import pytest

torch = pytest.importorskip("torch", reason="the distributed tests run the real trainer: they need torch")
pytest.importorskip("transformers", reason="the distributed tests need transformers")
if not torch.distributed.is_available():
    pytest.skip("this torch has no torch.distributed", allow_module_level=True)

from tests.cpu.trainer_process import TIMEOUT_S, TRAINER_DIR, env, losses, read_events, train, write_plan  # noqa: E402
from tests.plans import make_plan  # noqa: E402
from tests.tiny_model import build_model_dir, chat_rows, write_jsonl  # noqa: E402

STEPS, SAVE_EVERY, BATCH, ACCUM = 6, 3, 2, 2
# fp32 on the CPU: the ranks' gradients are summed in another order than one process accumulates them, so the
# losses agree to rounding (measured: below 1e-6), not bit for bit.
LOSS_TOLERANCE = 1e-4
RUN_TIMEOUT_S = min(TIMEOUT_S, 180)


@pytest.fixture(scope="module")
def assets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("distributed")
    return {
        "root": root,
        "model": build_model_dir(root / "tiny-llama", hidden=64, layers=2),
        "train": write_jsonl(root / "train.jsonl", chat_rows(40)),
    }


def plan_for(assets: dict[str, Path], method: str, accumulation: int, distributed: str, steps: int = STEPS) -> dict:
    lora = {
        "r": 8,
        "lora_alpha": 16,
        "lora_dropout": 0.0,
        "target_modules": "all-linear",
        "bias": "none",
        "use_rslora": False,
        "use_dora": False,
    }
    plan = make_plan(
        str(assets["model"]),
        str(assets["train"]),
        method=method,
        lora=None if method == "full" else lora,
        precision="fp32",
        training__max_steps=steps,
        training__save_steps=SAVE_EVERY,
        training__learning_rate=3e-3,
        training__per_device_train_batch_size=BATCH,
        training__gradient_accumulation_steps=accumulation,
        training__warmup_steps=1,
        data__max_length=128,
        data__packing=False,
        hardware__num_gpus=2 if distributed != "none" else 1,
        hardware__distributed=distributed,
    )
    plan["output"] = {
        "dir": str(assets["root"]),
        "merge": False,
        "merge_dtype": "bfloat16",
        "merge_base": "dequantized",
        "safe_serialization": True,
    }
    return plan


def torchrun(run_dir: Path, *flags: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        "-m",
        "lora_lens_trainer",
        "run",
        "--plan",
        str(run_dir / "plan.json"),
        "--run-dir",
        str(run_dir),
        *flags,
    ]


def dist_env() -> dict[str, str]:
    out = env()
    out.update({"TORCH_ELASTIC_SHUTDOWN_TIMEOUT": "60", "LORA_LENS_DIST_TIMEOUT_S": "120"})
    return out


def run_torchrun(run_dir: Path, *flags: str) -> tuple[int, list[dict], str]:
    """One torchrun to its end. A launch that is still running after RUN_TIMEOUT_S (a clean-clone CI once saw one
    hang for 300 s; alone it takes ~30 s) is killed with its ranks, and a fresh run (no flags) is started once more,
    with a warning that says so and what the stuck one printed; a second hang fails with both outputs."""
    rc, stderr = _torchrun_once(run_dir, *flags)
    if rc is None and not flags:
        warnings.warn(
            f"torchrun hung for {RUN_TIMEOUT_S} s and was run again; it printed:\n{stderr[-3000:]}", stacklevel=2
        )
        for entry in run_dir.iterdir():
            if entry.name != "plan.json":
                shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
        rc, second = _torchrun_once(run_dir, *flags)
        stderr = f"{stderr}\n--- second attempt ---\n{second}"
    assert rc is not None, f"torchrun hung for {RUN_TIMEOUT_S} s and was killed; it printed:\n{stderr[-6000:]}"
    return rc, read_events(run_dir), stderr


def _torchrun_once(run_dir: Path, *flags: str) -> tuple[int | None, str]:
    """(exit code, stderr and the ranks' logs); None for the code when it ran past RUN_TIMEOUT_S and was killed with
    its whole process group (killing only the launcher leaves the ranks running)."""
    proc = subprocess.Popen(
        torchrun(run_dir, *flags),
        cwd=TRAINER_DIR,
        env=dist_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        _, stderr = proc.communicate(timeout=RUN_TIMEOUT_S)
        return proc.returncode, stderr
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        _, stderr = proc.communicate()
        logs = "".join(f"\n--- {log.name} ---\n{log.read_text()[-2000:]}" for log in run_dir.glob("trainer-rank*.log"))
        return None, (stderr or "") + logs


def children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(entry.name))
    return out


def alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def run_until(run_dir: Path, act, *flags: str) -> tuple[int, list[dict], str, list[int]]:
    """torchrun with rank 0's events read as they come; `act(event, launcher, ranks)` returns True once done."""
    proc = subprocess.Popen(
        torchrun(run_dir, *flags),
        cwd=TRAINER_DIR,
        env=dist_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    # Reading stdout line by line has no timeout of its own: a hung launch is killed, ranks and all, by this timer.
    watchdog = threading.Timer(TIMEOUT_S, os.killpg, (proc.pid, signal.SIGKILL))
    watchdog.start()
    ranks: list[int] = []
    try:
        assert proc.stdout is not None
        done = False
        for line in proc.stdout:
            if done or not line.startswith("{"):
                continue
            ranks = ranks or children(proc.pid)
            done = act(json.loads(line), proc, ranks)
        _, stderr = proc.communicate(timeout=TIMEOUT_S)
    finally:
        watchdog.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, read_events(run_dir), stderr, ranks


@pytest.fixture(scope="module")
def one_process(assets: dict[str, Path]) -> dict[int, float]:
    """One process accumulating both ranks' batches: 2 × ACCUM micro-batches of BATCH per step."""
    run_dir = assets["root"] / "single"
    write_plan(run_dir, plan_for(assets, "lora", ACCUM * 2, "none"))
    rc, events, stderr = train(run_dir)
    assert rc == 0, stderr[-3000:]
    return losses(events)


def assert_close(got: dict[int, float], expected: dict[int, float]) -> None:
    assert sorted(got) == list(range(1, STEPS + 1))
    far = {s: (got[s], expected[s]) for s in expected if abs(got[s] - expected[s]) > LOSS_TOLERANCE}
    assert far == {}, f"steps whose loss differs from one process beyond {LOSS_TOLERANCE}: {far}"


@pytest.mark.parametrize("strategy", ["ddp", "fsdp"])
def test_two_ranks_give_one_process_losses(
    assets: dict[str, Path], one_process: dict[int, float], strategy: str
) -> None:
    run_dir = assets["root"] / f"two-{strategy}"
    write_plan(run_dir, plan_for(assets, "lora", ACCUM, strategy))
    rc, events, stderr = run_torchrun(run_dir)
    assert rc == 0, stderr[-4000:]
    assert events[-1]["event"] == "end" and events[-1]["status"] == "completed"
    assert sum(1 for e in events if e["event"] == "start") == 1, "only rank 0 writes events"
    step = next(e for e in events if e["event"] == "step")
    assert [r["rank"] for r in step["rank_memory"]] == [0, 1]
    assert_close(losses(events), one_process)
    assert (run_dir / "adapter" / "adapter_model.safetensors").is_file()
    from safetensors.torch import load_file

    adapter = load_file(str(run_dir / "adapter" / "adapter_model.safetensors"))
    lora_a = next(v for k, v in adapter.items() if k.endswith("q_proj.lora_A.weight"))
    assert lora_a.shape == (8, 64), "the adapter is written whole, not one rank's shard"
    if strategy == "fsdp":
        assert (run_dir / "checkpoints" / f"step-{SAVE_EVERY:07d}" / ".metadata").is_file()


def test_fsdp_killed_leaves_no_rank_and_resumes_to_the_same_losses(assets: dict[str, Path]) -> None:
    reference = assets["root"] / "two-fsdp"
    if not (reference / "events.jsonl").is_file():
        pytest.skip("needs the uninterrupted FSDP run of test_two_ranks_give_one_process_losses")
    run_dir = assets["root"] / "fsdp-killed"
    write_plan(run_dir, plan_for(assets, "lora", ACCUM, "fsdp"))

    def kill_after_checkpoint(event: dict, launcher: subprocess.Popen, ranks: list[int]) -> bool:
        if event["event"] == "step" and event["step"] >= SAVE_EVERY + 1:
            launcher.send_signal(signal.SIGKILL)
            return True
        return False

    rc, _, _, ranks = run_until(run_dir, kill_after_checkpoint)
    assert rc == -signal.SIGKILL and len(ranks) == 2
    deadline_polls = 600
    while any(alive(pid) for pid in ranks) and deadline_polls:
        deadline_polls -= 1
        subprocess.run(["sleep", "0.1"])
    assert not any(alive(pid) for pid in ranks), "a rank outlived its killed launcher"
    rc, events, stderr = run_torchrun(run_dir, "--resume")
    assert rc == 0, stderr[-4000:]
    assert events[-1]["status"] == "completed"
    starts = [e for e in events if e["event"] == "start"]
    assert starts[-1]["resumed_from_step"] == SAVE_EVERY
    expected = losses(read_events(reference))
    got = losses(events)
    assert {s: got[s] for s in expected} == expected, "the resumed run's losses differ from the uninterrupted run's"


def test_a_rank_that_dies_ends_the_run_with_an_error(assets: dict[str, Path]) -> None:
    run_dir = assets["root"] / "rank-dies"
    write_plan(run_dir, plan_for(assets, "lora", ACCUM, "ddp", steps=40))

    def kill_rank_one(event: dict, launcher: subprocess.Popen, ranks: list[int]) -> bool:
        if event["event"] == "step" and event["step"] >= 2:
            rank_one = [pid for pid in ranks if "RANK=1\0" in _environ(pid)]
            assert rank_one, "rank 1's process was not found"
            os.kill(rank_one[0], signal.SIGKILL)
            return True
        return False

    rc, events, stderr, ranks = run_until(run_dir, kill_rank_one)
    assert rc != 0
    assert events[-1]["event"] == "end" and events[-1]["status"] == "failed", events[-3:]
    error = next(e for e in events if e["event"] == "error")
    assert error["kind"] == "environment" and "another training process" in error["message"], error
    assert not any(alive(pid) for pid in ranks)


def test_sigint_to_the_launcher_stops_both_ranks_at_one_step(assets: dict[str, Path]) -> None:
    run_dir = assets["root"] / "stopped"
    write_plan(run_dir, plan_for(assets, "lora", ACCUM, "ddp", steps=40))

    def interrupt(event: dict, launcher: subprocess.Popen, ranks: list[int]) -> bool:
        if event["event"] == "step" and event["step"] >= 2:
            launcher.send_signal(signal.SIGINT)
            return True
        return False

    _, events, stderr, ranks = run_until(run_dir, interrupt)
    end = events[-1]
    assert end["event"] == "end" and end["status"] == "stopped", stderr[-3000:]
    assert (run_dir / "checkpoints" / f"step-{end['step']:07d}").is_dir()
    assert not any(alive(pid) for pid in ranks)
    rank_log = (run_dir / "trainer-rank1.log").read_text()
    assert "SIGINT received" in rank_log, "the stop did not reach rank 1"


def _environ(pid: int) -> str:
    try:
        return (Path("/proc") / str(pid) / "environ").read_text(errors="replace")
    except OSError:
        return ""


def test_fsdp_full_fine_tune_matches_one_process_and_writes_the_whole_model(assets: dict[str, Path]) -> None:
    single = assets["root"] / "single-full"
    write_plan(single, plan_for(assets, "full", ACCUM * 2, "none"))
    rc, events, stderr = train(single)
    assert rc == 0, stderr[-3000:]
    run_dir = assets["root"] / "two-fsdp-full"
    write_plan(run_dir, plan_for(assets, "full", ACCUM, "fsdp"))
    rc, sharded, stderr = run_torchrun(run_dir)
    assert rc == 0, stderr[-4000:]
    assert_close(losses(sharded), losses(events))
    from safetensors.torch import load_file

    ours = load_file(str(run_dir / "model" / "model.safetensors"))
    theirs = load_file(str(single / "model" / "model.safetensors"))
    assert sorted(ours) == sorted(theirs)
    assert all(ours[k].shape == theirs[k].shape for k in theirs), "the model is written whole, not one rank's shards"
