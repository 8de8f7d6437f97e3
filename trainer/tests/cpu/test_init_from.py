"""`init_from`: a DPO run starts from a finished SFT run of ours. A real SFT LoRA run (the trainer process, tiny Llama
on the CPU) makes the folder; in process, its adapter merged into a freshly loaded base gives the logits PEFT gives
with that adapter (PeftModel.from_pretrained), to fp32 precision; a DPO run through the trainer process from that
folder starts with zero rewards (the reference is the SFT model too) and learns; and each bad folder is refused
before anything trains, saying what to do."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

torch = pytest.importorskip("torch", reason="the init_from tests run the real trainer: they need torch (CPU is enough)")
pytest.importorskip("transformers", reason="the init_from tests need transformers")
pytest.importorskip("peft", reason="PEFT's merged logits are the reference")

from lora_lens_trainer.init_from import adapter_of, merge_run_adapter  # noqa: E402
from lora_lens_trainer.plan import PlanError, plan_from_dict  # noqa: E402
from tests.cpu.test_dpo_run import dpo_plan, preference_rows  # noqa: E402
from tests.cpu.trainer_process import read_events, train, write_plan  # noqa: E402
from tests.plans import make_plan  # noqa: E402
from tests.tiny_model import COUNTRIES, build_model_dir, chat_rows, write_jsonl  # noqa: E402


@pytest.fixture(scope="module")
def assets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("init-from")
    model = build_model_dir(root / "tiny-llama", hidden=64, layers=2)
    sft = root / "sft-run"
    plan = make_plan(
        str(model),
        str(write_jsonl(root / "sft.jsonl", chat_rows(16))),
        "lora",
        out=str(sft),
        training__max_steps=6,
        training__learning_rate=5e-3,
        training__save_steps=100,
        training__gradient_checkpointing=False,
    )
    write_plan(sft, plan)
    rc, _, stderr = train(sft)
    assert rc == 0, stderr[-3000:]
    return {
        "root": root,
        "model": model,
        "sft": sft,
        "train": write_jsonl(root / "train.jsonl", preference_rows(COUNTRIES[:12])),
        "eval": write_jsonl(root / "eval.jsonl", preference_rows(COUNTRIES[12:])),
    }


def _dpo(assets: dict[str, Path], run_from: Path | str, **overrides: object) -> dict:
    plan = dpo_plan(assets, assets["root"] / "dpo", **overrides)
    plan["init_from"] = str(run_from)
    return plan


def test_the_merged_base_is_the_sft_model(assets):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    plan = plan_from_dict(_dpo(assets, assets["sft"]))
    ids = torch.tensor([[1, 5, 9, 23, 42, 7, 3]])
    ours = AutoModelForCausalLM.from_pretrained(assets["model"], dtype=torch.float32)
    assert merge_run_adapter(ours, plan) == 2 * 7  # every adapted linear of both layers
    base = AutoModelForCausalLM.from_pretrained(assets["model"], dtype=torch.float32)
    before = base(ids).logits
    peft = PeftModel.from_pretrained(base, str(adapter_of(str(assets["sft"]), plan)))
    with torch.no_grad():
        expected, got = peft(ids).logits, ours(ids).logits
    assert float((expected - before).abs().max().detach()) > 1e-3  # the SFT run moved the model
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)


def test_dpo_from_an_sft_run_starts_at_the_sft_model_and_learns(assets, tmp_path):
    run_dir = tmp_path / "dpo"
    write_plan(run_dir, _dpo(assets, assets["sft"], training__max_steps=30))
    rc, events, stderr = train(run_dir)
    assert rc == 0, stderr[-3000:]
    steps = [e for e in events if e["event"] == "step"]
    # The new adapter starts at zero and the reference is the merged SFT model: the policy is its reference.
    assert steps[0]["rewards/chosen"] == 0 and steps[0]["rewards/margins"] == 0
    assert steps[-1]["rewards/accuracies"] > 0.9
    assert read_events(run_dir)[-1]["status"] == "completed"


def _refused(assets: dict[str, Path], tmp_path: Path, run_from: Path, **overrides: object) -> str:
    run_dir = tmp_path / f"refused-{run_from.name}"  # a folder per attempt: each reads its own events
    write_plan(run_dir, _dpo(assets, run_from, **overrides))
    rc, events, stderr = train(run_dir)
    errors = [e for e in events if e["event"] == "error"]
    assert rc != 0 and errors, (rc, stderr[-2000:])
    assert not any(e["event"] == "step" for e in events)
    return errors[0]["message"]


def test_what_init_from_refuses_is_said_at_start(assets, tmp_path):
    sft = assets["sft"]
    assert "is not a LoRA Lens run folder (no plan.json)" in _refused(assets, tmp_path, tmp_path)

    unfinished = tmp_path / "unfinished"
    shutil.copytree(sft, unfinished)
    lines = (unfinished / "events.jsonl").read_text().splitlines()
    (unfinished / "events.jsonl").write_text("\n".join(x for x in lines if '"end"' not in x) + "\n")
    assert "did not complete (no end): finish it first" in _refused(assets, tmp_path, unfinished)

    other = tmp_path / "other-base"
    shutil.copytree(sft, other)
    their = json.loads((other / "plan.json").read_text())
    their["model"]["name_or_path"] = "/somewhere/else"
    (other / "plan.json").write_text(json.dumps(their))
    assert "only fits the base it was trained on" in _refused(assets, tmp_path, other)

    full = tmp_path / "full-run"
    shutil.copytree(sft, full)
    their = json.loads((full / "plan.json").read_text())
    their["method"] = "full"
    (full / "plan.json").write_text(json.dumps(their))
    assert "is a full fine-tuning run" in _refused(assets, tmp_path, full)


def test_qlora_is_refused_in_process(assets):
    plan = plan_from_dict(
        make_plan(str(assets["model"]), str(assets["train"]), "qlora", objective="dpo", init_from=str(assets["sft"]))
    )
    with pytest.raises(PlanError, match="method qlora keeps the base in 4 bits"):
        merge_run_adapter(torch.nn.Linear(2, 2), plan)
