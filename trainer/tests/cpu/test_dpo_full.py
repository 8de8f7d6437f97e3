"""DPO with full fine-tuning: the reference log-probabilities are computed once from the starting weights before
training (no frozen copy of the model). Through the real trainer process on the CPU: the first step's rewards are
zero (the policy is its reference), the preference is learnt (held-out reward accuracy above 0.9), and a run
killed with SIGKILL resumes bit-exactly (the reference is computed again from the model files, before the
checkpoint's weights are loaded). In process: the precomputed reference equals the policy's own log-probs before
any update."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

torch = pytest.importorskip("torch", reason="the DPO run tests run the real trainer: they need torch (CPU is enough)")
pytest.importorskip("transformers", reason="the DPO run tests need transformers")

from tests.cpu.test_dpo_run import METRICS, dpo_plan, preference_rows  # noqa: E402
from tests.cpu.trainer_process import losses, read_events, signal_at_step, train, train_until, write_plan  # noqa: E402
from tests.tiny_model import COUNTRIES, build_model_dir, write_jsonl  # noqa: E402


@pytest.fixture(scope="module")
def assets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("dpo-full")
    return {
        "root": root,
        "model": build_model_dir(root / "tiny-llama", hidden=64, layers=2),
        "train": write_jsonl(root / "train.jsonl", preference_rows(COUNTRIES[:12])),
        "eval": write_jsonl(root / "eval.jsonl", preference_rows(COUNTRIES[12:])),
    }


def _plan(assets: dict[str, Path]) -> dict:
    plan = dpo_plan(assets, assets["root"], method="full", training__learning_rate=1e-4, training__max_steps=30)
    plan["lora"] = None
    return plan


@pytest.fixture(scope="module")
def uninterrupted(assets: dict[str, Path]) -> Path:
    run_dir = assets["root"] / "uninterrupted"
    write_plan(run_dir, _plan(assets))
    rc, _, stderr = train(run_dir)
    assert rc == 0, stderr[-3000:]
    return run_dir


def test_full_dpo_learns_from_a_precomputed_reference(uninterrupted):
    events = read_events(uninterrupted)
    steps = [e for e in events if e["event"] == "step"]
    evals = [e for e in events if e["event"] == "eval"]
    assert events[-1]["status"] == "completed"
    assert all(set(METRICS) <= set(e) for e in steps)
    # Step 1's policy is the starting model: each reward is β times a log-ratio of (almost) zero; the reference was
    # computed in other batches (other padding), which fp32 sums to within ~1e-5.
    assert abs(steps[0]["rewards/chosen"]) < 1e-5 and abs(steps[0]["rewards/rejected"]) < 1e-5
    assert evals[-1]["eval_rewards/accuracies"] > 0.9, evals
    assert steps[-1]["rewards/margins"] > 0.5


def test_full_dpo_resumes_bit_exactly(assets, uninterrupted, tmp_path):
    run_dir = tmp_path / "killed"
    write_plan(run_dir, _plan(assets))
    rc, events, stderr = train_until(run_dir, signal_at_step(15, signal.SIGKILL))
    assert rc == -signal.SIGKILL and events[-1]["event"] != "end", stderr[-3000:]
    rc, events, stderr = train(run_dir, "--resume")
    assert rc == 0, stderr[-3000:]
    starts = [e for e in events if e["event"] == "start"]
    assert len(starts) == 2 and starts[1]["resumed_from_step"] == 10
    expected, got = losses(read_events(uninterrupted)), losses(events)
    assert sorted(got) == sorted(expected)
    assert {s: (got[s], expected[s]) for s in expected if got[s] != expected[s]} == {}
