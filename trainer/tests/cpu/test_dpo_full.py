"""DPO with full fine-tuning: the reference log-probabilities are computed once from the starting weights before
training (no frozen copy of the model). Through the real trainer process on the CPU: the first step's rewards are
zero (the policy is its reference), the preference is learnt (held-out reward accuracy above 0.9), and a run
killed with SIGKILL resumes bit-exactly (the reference is computed again from the model files, before the
checkpoint's weights are loaded). In process, against TRL 1.13's DPOTrainer with its frozen reference copy: the
loss and every weight's gradient to 1e-5."""

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


def test_full_dpo_matches_trls_frozen_reference_copy(tmp_path):
    """Against TRL 1.13's DPOTrainer with full fine-tuning (its reference a frozen copy of the model), fp32 on the
    CPU: the loss and the gradient of every weight, to 1e-5 relative, from our precomputed reference log-probs."""
    pytest.importorskip("trl", reason="compares with TRL's DPOTrainer (pip install trl==1.13.0)")
    datasets = pytest.importorskip("datasets", reason="TRL's trainer reads a datasets.Dataset")
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import DPOConfig, DPOTrainer

    from lora_lens_trainer.modeling import decoder_and_head
    from lora_lens_trainer.objectives import ModelParts, objective_for
    from lora_lens_trainer.plan import plan_from_dict
    from tests.cpu.test_dpo_parity import text_rows
    from tests.plans import make_plan

    model_dir = build_model_dir(tmp_path / "tiny-llama", hidden=64, layers=2)
    rows = text_rows()
    load = lambda: AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32, attn_implementation="sdpa")  # noqa: E731
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    args = DPOConfig(
        output_dir=str(tmp_path / "trl"),
        beta=0.1,
        max_length=128,
        per_device_train_batch_size=len(rows),
        report_to=[],
        use_cpu=True,
        bf16=False,
        dataset_num_proc=None,
    )
    trainer = DPOTrainer(
        model=load(), args=args, train_dataset=datasets.Dataset.from_list(rows), processing_class=tokenizer
    )
    trainer.model.train()
    inputs = trainer.data_collator([trainer.train_dataset[i] for i in range(len(rows))])
    trl_loss = trainer.compute_loss(trainer.model, inputs)
    trl_loss.backward()

    plan = plan_from_dict(
        make_plan(
            str(model_dir),
            str(write_jsonl(tmp_path / "pairs.jsonl", rows)),
            "full",
            objective="dpo",
            dpo={"beta": 0.1, "loss": "sigmoid", "label_smoothing": 0.0},
            data__max_length=128,
            data__format="text",
            precision="fp32",
        )
    )
    ours = objective_for(plan)
    ours.load(tokenizer)
    model = load()
    model.train()
    body, head = decoder_and_head(model, None)
    parts = ModelParts(body, head, torch.device("cpu"), None, "sdpa")
    ours.prepare(parts)
    # The policy moves away from its reference before the step TRL and we compare: one shared random update.
    generator = torch.Generator().manual_seed(3)
    theirs = dict(trainer.model.named_parameters())
    with torch.no_grad():
        for name, p in model.named_parameters():
            delta = torch.randn(p.shape, generator=generator) * 0.01
            p.add_(delta)
            theirs[name].add_(delta)
            theirs[name].grad = None
    trl_loss = trainer.compute_loss(trainer.model, inputs)
    trl_loss.backward()
    batch = ours.collate([0, 1, 2])
    loss = ours.loss(parts, batch, ours.denominator([batch]))
    loss.backward()
    assert abs(float(loss) - float(trl_loss)) <= 1e-5 * abs(float(trl_loss)), (float(loss), float(trl_loss))
    checked = 0
    for name, p in model.named_parameters():
        scale = float(theirs[name].grad.abs().max())
        if scale == 0:
            continue
        diff = float((p.grad - theirs[name].grad).abs().max())
        assert diff <= 1e-5 * scale + 1e-9, f"{name}: gradient differs by {diff:.3g} (largest entry {scale:.3g})"
        checked += 1
    assert checked >= 2 * 9  # every layer's weights at least
