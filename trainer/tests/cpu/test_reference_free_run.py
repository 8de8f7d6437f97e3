"""ORPO and SimPO through the real trainer process on the CPU (a tiny Llama built here): each learns the synthetic
preference of test_dpo_run (the held-out reward accuracy ends above 0.9), its step and eval events carry TRL's
metrics for these trainers and pass the event schema, and full fine-tuning runs (no reference model to keep)."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("torch", reason="the run tests run the real trainer: they need torch (CPU is enough)")
pytest.importorskip("transformers", reason="the run tests need transformers")

from tests.cpu.test_dpo_run import METRICS, dpo_plan, preference_rows  # noqa: E402
from tests.cpu.trainer_process import train, write_plan  # noqa: E402
from tests.tiny_model import COUNTRIES, build_model_dir, write_jsonl  # noqa: E402

SETTINGS = {
    "orpo": {"orpo": {"beta": 0.5}, "training__learning_rate": 2e-3},
    "simpo": {"simpo": {"beta": 2.0, "gamma": 0.5, "cpo_alpha": 0.0, "label_smoothing": 0.0}},
}


@pytest.fixture(scope="module")
def assets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("reference-free-run")
    return {
        "root": root,
        "model": build_model_dir(root / "tiny-llama", hidden=64, layers=2),
        "train": write_jsonl(root / "train.jsonl", preference_rows(COUNTRIES[:12])),
        "eval": write_jsonl(root / "eval.jsonl", preference_rows(COUNTRIES[12:])),
    }


def _plan(assets: dict[str, Path], objective: str, **overrides: object) -> dict:
    plan = dpo_plan(assets, assets["root"] / objective, **{**SETTINGS[objective], **overrides})
    plan["objective"] = objective
    plan.pop("dpo", None)
    return plan


@pytest.mark.parametrize("objective", ["orpo", "simpo"])
def test_learns_the_preference_and_reports_trls_metrics(assets, tmp_path, objective):
    run_dir = tmp_path / objective
    write_plan(run_dir, _plan(assets, objective))
    rc, events, stderr = train(run_dir)
    assert rc == 0, stderr[-3000:]
    steps = [e for e in events if e["event"] == "step"]
    evals = [e for e in events if e["event"] == "eval"]
    assert events[-1]["status"] == "completed" and events[-1]["adapter_path"]
    extra = {"nll_loss", "log_odds_ratio", "log_odds_chosen"} if objective == "orpo" else set()
    assert all(set(METRICS) | extra <= set(e) for e in steps)
    assert evals[-1]["eval_rewards/accuracies"] > 0.9, evals
    assert evals[-1]["eval_rewards/margins"] > evals[0]["eval_rewards/margins"] - 1e-9
    assert steps[-1]["rewards/accuracies"] > 0.9 and steps[-1]["loss"] < steps[0]["loss"]


def test_orpo_with_full_fine_tuning(assets, tmp_path):
    run_dir = tmp_path / "full"
    plan = _plan(assets, "orpo", method="full", training__max_steps=4, training__learning_rate=1e-4)
    plan["lora"] = None
    write_plan(run_dir, plan)
    rc, events, stderr = train(run_dir)
    assert rc == 0, stderr[-3000:]
    steps = [e for e in events if e["event"] == "step"]
    assert len(steps) == 4 and all("log_odds_ratio" in e for e in steps)
    assert events[-1]["status"] == "completed"
