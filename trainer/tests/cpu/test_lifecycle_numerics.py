"""A non-finite loss in the real trainer on the CPU: caught at the step it happens, before the optimizer applies
it, on any step (not only logging steps); with fp16 loss scaling the step is skipped and the scale backs off,
as GradScaler does, until a scale below 1 shows real divergence. The model here has a NaN in the embedding of
a token every row holds, so every loss is NaN from the first step on."""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch", reason="the numerics tests run the real trainer: they need torch (CPU is enough)")
pytest.importorskip("transformers", reason="the numerics tests need transformers")

from tests.cpu.trainer_process import train, write_plan  # noqa: E402
from tests.plans import make_plan  # noqa: E402
from tests.tiny_model import build_model_dir, chat_rows, write_jsonl  # noqa: E402


@pytest.fixture(scope="module")
def poisoned(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from safetensors.torch import load_file, save_file

    root = tmp_path_factory.mktemp("numerics")
    model = build_model_dir(root / "nan-llama", hidden=64, layers=2)
    from transformers import AutoTokenizer

    weights = load_file(str(model / "model.safetensors"))
    # Every chat row starts with <|im_start|>: its embedding row, and no other, is NaN (the trainer's start-up
    # probe of the head reads other tokens and passes).
    weights["model.embed_tokens.weight"][AutoTokenizer.from_pretrained(model).convert_tokens_to_ids("<|im_start|>")] = (
        float("nan")
    )
    save_file(weights, str(model / "model.safetensors"), metadata={"format": "pt"})
    return {"root": root, "model": model, "train": write_jsonl(root / "train.jsonl", chat_rows(16))}


def test_a_nan_loss_is_an_error_at_its_own_step_before_anything_is_applied_or_saved(poisoned, tmp_path):
    run_dir = tmp_path / "run"
    # Logging every 10 steps and saving every step: the old loop noticed at step 10, after saving 9 NaN checkpoints.
    write_plan(
        run_dir,
        make_plan(
            str(poisoned["model"]),
            str(poisoned["train"]),
            training__max_steps=12,
            training__logging_steps=10,
            training__save_steps=1,
        ),
    )
    rc, events, _ = train(run_dir)
    assert rc == 1
    error = next(e for e in events if e["event"] == "error")
    assert error["kind"] == "config" and "loss nan at step 1" in error["message"] and "not applied" in error["message"]
    assert any("learning_rate" in a for a in error["advice"])
    assert not [e for e in events if e["event"] in ("step", "checkpoint")]
    assert not (run_dir / "checkpoints").exists() and not (run_dir / "adapter").exists()
    assert events[-1]["status"] == "failed"


def test_fp16_skips_inf_nan_steps_backing_off_the_scale_then_reports_divergence(poisoned, tmp_path):
    run_dir = tmp_path / "run"
    write_plan(
        run_dir,
        make_plan(
            str(poisoned["model"]),
            str(poisoned["train"]),
            precision="fp16-mixed",
            training__max_steps=40,
            training__save_steps=1000,
        ),
    )
    rc, events, _ = train(run_dir)
    assert rc == 1
    skips = [e["message"] for e in events if e["event"] == "warning" and e.get("kind") == "fp16_skip"]
    assert len(skips) == 5 and "trainer.log only" in skips[-1]
    assert "step 1 skipped" in skips[0] and "scale 65536" in skips[0] and "backs off to 32768" in skips[0]
    assert "step 2 skipped" in skips[1] and "scale 32768" in skips[1]
    error = next(e for e in events if e["event"] == "error")
    # 65536 halves 16 times to 1, once more below 1: the 17th step is where divergence is reported.
    assert error["kind"] == "config" and "at step 17" in error["message"] and "skipped fp16 steps" in error["message"]
    assert any("bf16-mixed" in a for a in error["advice"])
    assert not [e for e in events if e["event"] == "step"]
