"""KTO through the real trainer process on the CPU (a tiny Llama built here, LoRA): on unpaired rows made from the
synthetic preference of test_dpo_run (the answer desirable, the refusal undesirable) the held-out reward margin
rises and the events carry TRL's KTO metrics (schema-checked); what KTO refuses is said at start."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("torch", reason="the KTO run tests run the real trainer: they need torch (CPU is enough)")
pytest.importorskip("transformers", reason="the KTO run tests need transformers")

from tests.cpu.test_dpo_run import dpo_plan, preference_rows  # noqa: E402
from tests.cpu.trainer_process import train, write_plan  # noqa: E402
from tests.tiny_model import COUNTRIES, build_model_dir, write_jsonl  # noqa: E402


def kto_rows(countries: list[tuple[str, str]]) -> list[dict]:
    rows = []
    for pair in preference_rows(countries):
        rows.append({"prompt": pair["prompt"], "completion": pair["chosen"], "label": True})
        rows.append({"prompt": pair["prompt"], "completion": pair["rejected"], "label": False})
    return rows


@pytest.fixture(scope="module")
def assets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("kto-run")
    return {
        "root": root,
        "model": build_model_dir(root / "tiny-llama", hidden=64, layers=2),
        "train": write_jsonl(root / "train.jsonl", kto_rows(COUNTRIES[:12])),
        "eval": write_jsonl(root / "eval.jsonl", kto_rows(COUNTRIES[12:])),
    }


def _plan(assets: dict[str, Path], **overrides: object) -> dict:
    plan = dpo_plan(assets, assets["root"], **overrides)
    plan["objective"] = "kto"
    plan.pop("dpo", None)
    plan["kto"] = {"beta": 0.1, "desirable_weight": 1.0, "undesirable_weight": 1.0}
    return plan


def test_kto_learns_and_reports_trls_metrics(assets, tmp_path):
    run_dir = tmp_path / "kto"
    write_plan(run_dir, _plan(assets))
    rc, events, stderr = train(run_dir)
    assert rc == 0, stderr[-3000:]
    steps = [e for e in events if e["event"] == "step"]
    evals = [e for e in events if e["event"] == "eval"]
    assert events[-1]["status"] == "completed"
    assert all({"rewards/chosen", "rewards/rejected", "logps/chosen", "logps/rejected", "kl"} <= set(e) for e in steps)
    assert steps[0]["rewards/chosen"] == 0 and steps[0]["rewards/rejected"] == 0  # the adapter starts at zero
    assert evals[-1]["eval_rewards/margins"] > 0.5, evals
    assert steps[-1]["loss"] < steps[0]["loss"]


@pytest.mark.parametrize(
    "change,message",
    [
        ({"method": "full", "lora": None, "precision": "fp32"}, "objective kto with method full needs a frozen"),
        ({"training__per_device_train_batch_size": 1}, "per_device_train_batch_size must be 2 or more"),
    ],
)
def test_what_kto_refuses_is_said_at_start(assets, tmp_path, change, message):
    run_dir = tmp_path / "refused"
    write_plan(run_dir, _plan(assets, **change))
    rc, events, stderr = train(run_dir)
    errors = [e for e in events if e["event"] == "error"]
    assert rc != 0 and errors and message in errors[0]["message"], (rc, errors, stderr[-2000:])
