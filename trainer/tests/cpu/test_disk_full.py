"""A full disk while a checkpoint is written, simulated in-process by the save itself failing with ENOSPC (or with
torch's own short-write error): the run ends with an error that says the disk is full, how much is free and what
the checkpoint needed, with advice; the previous checkpoint is intact and nothing half-written is left."""

from __future__ import annotations

import errno
import signal
from pathlib import Path

import pytest

torch = pytest.importorskip("torch", reason="the trainer runs in-process on real torch (CPU is enough)")
pytest.importorskip("transformers", reason="the trainer loads a tiny transformers model")

from lora_lens_trainer import exit_codes  # noqa: E402
from lora_lens_trainer import train as train_mod
from lora_lens_trainer.lifecycle import checkpoint  # noqa: E402
from lora_lens_trainer.lifecycle.disk import DiskFull, is_disk_full, reported  # noqa: E402
from tests.cpu.trainer_process import read_events, write_plan  # noqa: E402
from tests.plans import make_plan  # noqa: E402
from tests.tiny_model import build_model_dir, chat_rows, write_jsonl  # noqa: E402

TORCH_SHORT_WRITE = "[enforce fail at inline_container.cc:672] . unexpected pos 1536 vs 1434"


def _failing_save(monkeypatch: pytest.MonkeyPatch, error: Exception, after: int) -> None:
    """torch.save writes part of optimizer.pt and then fails, from the (after+1)-th optimizer.pt on."""
    real = torch.save
    calls = {"n": 0}

    def save(obj, f, *args, **kwargs):
        if isinstance(f, Path) and f.name == "optimizer.pt":
            calls["n"] += 1
            if calls["n"] > after:
                f.write_bytes(b"PK\x03\x04 partial")
                raise error
        return real(obj, f, *args, **kwargs)

    monkeypatch.setattr(torch, "save", save)


@pytest.mark.parametrize(
    "error",
    [OSError(errno.ENOSPC, "No space left on device"), RuntimeError(TORCH_SHORT_WRITE)],
    ids=["enospc", "torch-short-write"],
)
def test_a_full_disk_during_a_checkpoint_is_reported_and_keeps_the_previous_one(tmp_path, monkeypatch, error):
    model = build_model_dir(tmp_path / "model", hidden=32, layers=1)
    train = write_jsonl(tmp_path / "train.jsonl", chat_rows(16))
    lora = {
        "r": 4,
        "lora_alpha": 8,
        "lora_dropout": 0.0,
        "target_modules": "all-linear",
        "bias": "none",
        "use_rslora": False,
        "use_dora": False,
    }
    plan = make_plan(
        str(model),
        str(train),
        method="lora",
        lora=lora,
        training__max_steps=8,
        training__save_steps=3,
        data__max_length=64,
    )
    plan["output"] = {
        "dir": str(tmp_path),
        "merge": False,
        "merge_dtype": "bfloat16",
        "merge_base": "dequantized",
        "safe_serialization": True,
    }
    run_dir = tmp_path / "run"
    write_plan(run_dir, plan)
    monkeypatch.setenv("LORA_LENS_VALIDATE_EVENTS", "1")
    _failing_save(monkeypatch, error, after=1)
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}

    rc = train_mod.run(run_dir / "plan.json", run_dir, False)

    events = read_events(run_dir)
    assert rc == exit_codes.FAILED
    failure = [e for e in events if e["event"] == "error"][-1]
    # `disk` is not among the schema's error kinds (yet): a full disk is the machine's, i.e. `environment`.
    assert failure["kind"] == "environment" and failure["step"] == 6, failure
    message = failure["message"]
    assert message.startswith("the disk is full: checkpoint step-0000006 could not be written to "), message
    assert " free on that filesystem" in message and "it needs about " in message, message
    assert any("training.save_total_limit" in a for a in failure["advice"])
    assert any("free space" in a for a in failure["advice"])
    assert events[-1]["event"] == "end" and events[-1]["status"] == "failed" and events[-1]["step"] == 6
    assert "internal" not in {e.get("kind") for e in events if e["event"] == "error"}
    folder = run_dir / "checkpoints"
    assert [p.name for p in folder.iterdir()] == ["step-0000003"], "a half-written checkpoint was left behind"
    assert checkpoint.read(folder / "step-0000003", torch.device("cpu")).step == 3  # verified against its manifest
    assert {s: signal.getsignal(s) for s in handlers} == handlers, "the trainer's signal handlers were left behind"


def test_only_disk_full_errors_become_disk_full(tmp_path):
    assert is_disk_full(OSError(errno.ENOSPC, "No space left on device"))
    assert is_disk_full(RuntimeError(TORCH_SHORT_WRITE))
    wrapped = RuntimeError("while saving")
    wrapped.__cause__ = OSError(errno.EDQUOT, "Disk quota exceeded")
    assert is_disk_full(wrapped)
    assert not is_disk_full(OSError(errno.EACCES, "Permission denied"))
    assert not is_disk_full(RuntimeError("shape mismatch"))
    with pytest.raises(DiskFull) as caught, reported("the adapter", tmp_path / "adapter", lambda: 3 * 1024**2):
        raise OSError(errno.ENOSPC, "No space left on device")
    assert "the adapter could not be written" in str(caught.value) and "about 3.0 MiB" in str(caught.value)
    with pytest.raises(PermissionError), reported("the adapter", tmp_path, lambda: None):
        raise PermissionError(errno.EACCES, "Permission denied")
