"""DPO through the real trainer process on the CPU (a tiny Llama built here, LoRA): it learns a synthetic
preference (the reward accuracy on held-out prompts rises from 0 to above 0.9 within a few dozen steps), the step
and eval events carry TRL's reward metrics and pass the event schema, and a run killed with SIGKILL resumes to a
loss sequence and adapter bit-identical to an uninterrupted run's."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

torch = pytest.importorskip("torch", reason="the DPO run tests run the real trainer: they need torch (CPU is enough)")
pytest.importorskip("transformers", reason="the DPO run tests need transformers")

from tests.cpu.trainer_process import losses, read_events, signal_at_step, train, train_until, write_plan  # noqa: E402
from tests.plans import make_plan  # noqa: E402
from tests.tiny_model import COUNTRIES, build_model_dir, write_jsonl  # noqa: E402

METRICS = (
    "rewards/chosen",
    "rewards/rejected",
    "rewards/margins",
    "rewards/accuracies",
    "logps/chosen",
    "logps/rejected",
)


def preference_rows(countries: list[tuple[str, str]]) -> list[dict]:
    """Chosen: the answer. Rejected: a refusal. A preference a tiny model can learn and carry to new prompts."""
    rows = []
    for country, capital in countries:
        for asked in (f"What is the capital of {country}?", f"Name the capital city of {country}."):
            rows.append(
                {
                    "prompt": f"Q: {asked}\nA:",
                    "chosen": f" The capital of {country} is {capital}.",
                    "rejected": " I do not know.",
                }
            )
    return rows


@pytest.fixture(scope="module")
def assets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("dpo-run")
    return {
        "root": root,
        "model": build_model_dir(root / "tiny-llama", hidden=64, layers=2),
        "train": write_jsonl(root / "train.jsonl", preference_rows(COUNTRIES[:12])),
        "eval": write_jsonl(root / "eval.jsonl", preference_rows(COUNTRIES[12:])),
    }


def dpo_plan(assets: dict[str, Path], out: Path, **overrides: object) -> dict:
    lora = {
        "r": 8,
        "lora_alpha": 16,
        "lora_dropout": 0.1,
        "target_modules": "all-linear",
        "bias": "none",
        "use_rslora": False,
        "use_dora": False,
    }
    settings: dict = {
        "training__max_steps": 40,
        "training__learning_rate": 2e-3,
        "training__logging_steps": 1,
        "training__eval_steps": 20,
        "training__save_steps": 10,
        "training__per_device_train_batch_size": 4,
        "training__per_device_eval_batch_size": 8,
        "training__gradient_accumulation_steps": 2,
        "training__lr_scheduler_type": "constant",
        "training__warmup_steps": 0,
        "data__format": "text",
        "data__max_length": 64,
        "objective": "dpo",
        "dpo": {"beta": 0.1, "loss": "sigmoid", "label_smoothing": 0.0},
        "lora": lora,
    }
    method = str(overrides.pop("method", "lora"))
    plan = make_plan(
        str(assets["model"]), str(assets["train"]), method, eval_path=str(assets["eval"]), **{**settings, **overrides}
    )
    plan["output"] = {
        "dir": str(out),
        "merge": False,
        "merge_dtype": "bfloat16",
        "merge_base": "dequantized",
        "safe_serialization": True,
    }
    return plan


@pytest.fixture(scope="module")
def uninterrupted(assets: dict[str, Path]) -> Path:
    run_dir = assets["root"] / "uninterrupted"
    write_plan(run_dir, dpo_plan(assets, assets["root"]))
    rc, events, stderr = train(run_dir)
    assert rc == 0, stderr[-3000:]
    return run_dir


def test_dpo_learns_the_preference_and_reports_trls_metrics(uninterrupted):
    events = read_events(uninterrupted)
    steps = [e for e in events if e["event"] == "step"]
    evals = [e for e in events if e["event"] == "eval"]
    assert events[-1]["status"] == "completed" and events[-1]["adapter_path"]
    assert all(set(METRICS) <= set(e) for e in steps)
    # The adapter starts at zero (B = 0): the policy is the reference, every reward 0, no pair ranked right.
    first = steps[0]
    assert first["step"] == 1 and first["rewards/accuracies"] == 0 and first["rewards/margins"] == 0
    assert steps[-1]["rewards/accuracies"] > 0.9 and steps[-1]["rewards/margins"] > 0.5
    assert [e["step"] for e in evals] == [20, 40]
    assert evals[-1]["eval_rewards/accuracies"] > 0.9, evals
    assert evals[-1]["eval_pairs"] == 8 and evals[-1]["eval_loss"] < evals[0]["eval_loss"] + 1e-9
    assert steps[-1]["loss"] < 0.5 < first["loss"] + 0.2  # log 2 = 0.693 at the start


def test_resume_after_sigkill_is_bit_exact(assets, uninterrupted, tmp_path):
    run_dir = tmp_path / "killed"
    write_plan(run_dir, dpo_plan(assets, assets["root"]))
    rc, events, stderr = train_until(run_dir, signal_at_step(25, signal.SIGKILL))
    assert rc == -signal.SIGKILL and events[-1]["event"] != "end", stderr[-3000:]
    rc, events, stderr = train(run_dir, "--resume")
    assert rc == 0, stderr[-3000:]
    starts = [e for e in events if e["event"] == "start"]
    assert len(starts) == 2 and starts[1]["resumed_from_step"] == 20
    expected, got = losses(read_events(uninterrupted)), losses(events)
    assert sorted(got) == sorted(expected)
    assert {s: (got[s], expected[s]) for s in expected if got[s] != expected[s]} == {}
    adapter = "adapter/adapter_model.safetensors"
    assert (run_dir / adapter).read_bytes() == (uninterrupted / adapter).read_bytes()


@pytest.mark.parametrize(
    "change,message",
    [
        ({"data__packing": True}, "data.packing does not apply to preference pairs"),
    ],
)
def test_what_dpo_refuses_is_said_at_start(assets, tmp_path, change, message):
    run_dir = tmp_path / "refused"
    plan = dpo_plan(assets, tmp_path, **change)
    write_plan(run_dir, plan)
    rc, events, stderr = train(run_dir)
    errors = [e for e in events if e["event"] == "error"]
    assert rc != 0 and errors and message in errors[0]["message"], (rc, errors, stderr[-2000:])


def test_a_row_without_rejected_is_named(assets, tmp_path):
    bad = write_jsonl(tmp_path / "bad.jsonl", [{"prompt": "Q: x?\nA:", "chosen": " y."}])
    run_dir = tmp_path / "bad"
    plan = dpo_plan(assets, tmp_path)
    plan["data"]["train"], plan["data"]["eval"] = str(bad), None
    write_plan(run_dir, plan)
    rc, events, _ = train(run_dir)
    errors = [e for e in events if e["event"] == "error"]
    assert rc != 0 and errors[0]["kind"] == "data"
    assert "row 0: a preference row needs 'prompt', 'chosen' and 'rejected' (missing: rejected)" in errors[0]["message"]
