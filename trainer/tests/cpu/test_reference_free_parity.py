"""ORPO and SimPO against TRL 1.13's ORPOTrainer and CPOTrainer(loss_type="simpo") on the CPU in fp32: the loss,
every reward/log-prob metric both report, the NLL and log-odds figures, and the gradient of every LoRA matrix, to
1e-5 relative.

Both sides score the same token ids: TRL's own dataset preparation for these trainers (its ORPO/CPO tokenisation,
which joins prompt and answer and adds BOS/EOS its own way) gives each pair, and our objective scores those
pairs; our tokenisation is DPOTrainer's, checked in test_dpo_parity. The model is a tiny Llama with the same
LoRA matrices on both sides (B random, so the policy is not the base model). Ours runs the three pairs as two
uneven, separately padded micro-batches of one step; TRL runs them as one batch."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

torch = pytest.importorskip("torch", reason="the parity test runs real torch on the CPU")
pytest.importorskip("trl", reason="the parity test compares with TRL (pip install trl==1.13.0)")
pytest.importorskip("peft", reason="TRL's LoRA side is PEFT")
datasets = pytest.importorskip("datasets", reason="TRL's trainer reads a datasets.Dataset")

from lora_lens_trainer.data.preference import PreferencePair  # noqa: E402
from lora_lens_trainer.lora import inject, lora_modules  # noqa: E402
from lora_lens_trainer.modeling import decoder_and_head  # noqa: E402
from lora_lens_trainer.objectives import ModelParts, objective_for  # noqa: E402
from lora_lens_trainer.objectives.dpo import DpoDatasets  # noqa: E402
from lora_lens_trainer.plan import OrpoPlan, SimpoPlan, plan_from_dict  # noqa: E402
from tests.cpu.test_dpo_parity import text_rows  # noqa: E402
from tests.plans import make_plan  # noqa: E402
from tests.tiny_model import build_model_dir, write_jsonl  # noqa: E402

R, ALPHA, MAX_LENGTH = 8, 16, 128
REL = 1e-5


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_model_dir(tmp_path_factory.mktemp("ref-free-parity") / "tiny-llama", hidden=64, layers=2)


def _fp32_model(model_dir: Path):
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32, attn_implementation="sdpa")


def _trl_trainer(model_dir: Path, rows: list[dict], objective: str, settings, tmp_path: Path):
    from peft import LoraConfig
    from transformers import AutoTokenizer

    common = dict(
        output_dir=str(tmp_path / "trl"),
        beta=settings.beta,
        max_length=MAX_LENGTH,
        per_device_train_batch_size=len(rows),
        report_to=[],
        use_cpu=True,
        bf16=False,
        logging_steps=1,
        remove_unused_columns=False,
    )
    if objective == "orpo":
        from trl.experimental.orpo import ORPOConfig as Config
        from trl.experimental.orpo import ORPOTrainer as Trainer

        args = Config(**common)
    else:
        from trl.experimental.cpo import CPOConfig as Config
        from trl.experimental.cpo import CPOTrainer as Trainer

        args = Config(
            **common,
            loss_type="simpo",
            simpo_gamma=settings.gamma,
            cpo_alpha=settings.cpo_alpha,
            label_smoothing=settings.label_smoothing,
        )
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    peft_config = LoraConfig(
        r=R, lora_alpha=ALPHA, lora_dropout=0.0, target_modules="all-linear", task_type="CAUSAL_LM"
    )
    trainer = Trainer(
        model=_fp32_model(model_dir),
        args=args,
        train_dataset=datasets.Dataset.from_list(rows),
        processing_class=tokenizer,
        peft_config=peft_config,
    )
    generator = torch.Generator().manual_seed(1)
    for module in trainer.model.modules():
        if hasattr(module, "lora_B") and "default" in getattr(module, "lora_B", {}):
            with torch.no_grad():
                module.lora_B["default"].weight.copy_(
                    torch.randn(module.lora_B["default"].weight.shape, generator=generator) * 0.05
                )
    return trainer


def _pairs_as_trl_prepared(prepared) -> list[PreferencePair]:
    pairs = []
    for row in prepared:
        sides = {}
        for side in ("chosen", "rejected"):
            n_prompt = sum(1 for label in row[f"{side}_labels"] if label == -100)
            ids = row[f"{side}_input_ids"]
            sides[side] = (ids[:n_prompt], ids[n_prompt:])
        assert sides["chosen"][0] == sides["rejected"][0], "TRL gave the two sides different prompts"
        pairs.append(PreferencePair(sides["chosen"][0], sides["chosen"][1], sides["rejected"][1]))
    return pairs


def _our_side(model_dir: Path, trainer, rows: list[dict], objective: str, settings, tmp_path: Path):
    train = write_jsonl(tmp_path / "pairs.jsonl", rows)
    base = plan_from_dict(
        make_plan(str(model_dir), str(train), "lora", objective="dpo", data__max_length=MAX_LENGTH, data__format="text")
    )
    plan = dataclasses.replace(base, objective=objective, dpo=None, **{objective: settings})
    ours = objective_for(plan)
    pairs = _pairs_as_trl_prepared(trainer.train_dataset)
    ours.pad_id = trainer.processing_class.pad_token_id
    ours.data = DpoDatasets([0] * len(pairs), len(pairs), None, train_pairs=pairs, eval_pairs=pairs)
    model = _fp32_model(model_dir)
    inject(model, "all-linear", R, ALPHA, 0.0, False)
    peft_modules = dict(trainer.model.named_modules())
    for name, m in lora_modules(model).items():
        theirs = peft_modules[f"base_model.model.{name}"]
        with torch.no_grad():
            m.lora_A.copy_(theirs.lora_A["default"].weight)
            m.lora_B.copy_(theirs.lora_B["default"].weight)
    model.train()
    body, head = decoder_and_head(model, None)
    return ours, model, ModelParts(body, head, torch.device("cpu"), None, "sdpa")


def _close(ours: float, theirs: float, what: str) -> None:
    assert abs(ours - theirs) <= REL * max(abs(theirs), 1e-3), f"{what}: ours {ours!r}, TRL {theirs!r}"


CASES = [
    ("orpo", OrpoPlan(beta=0.1)),
    ("orpo", OrpoPlan(beta=0.5)),
    ("simpo", SimpoPlan(beta=2.0, gamma=0.5, cpo_alpha=0.0, label_smoothing=0.0)),
    ("simpo", SimpoPlan(beta=2.5, gamma=1.0, cpo_alpha=0.5, label_smoothing=0.1)),
]


@pytest.mark.parametrize("objective,settings", CASES, ids=lambda c: str(c))
def test_loss_metrics_and_lora_gradients_match_trl(model_dir, tmp_path, objective, settings):
    rows = text_rows()
    trainer = _trl_trainer(model_dir, rows, objective, settings, tmp_path)
    ours, model, parts = _our_side(model_dir, trainer, rows, objective, settings, tmp_path)

    trainer.model.train()
    inputs = trainer.data_collator([trainer.train_dataset[i] for i in range(len(rows))])
    trl_loss = trainer.compute_loss(trainer.model, inputs)
    trl_loss.backward()
    trl_metrics = {k: v[-1] for k, v in trainer._stored_metrics["train"].items()}

    micro = [ours.collate([0, 1]), ours.collate([2])]
    assert micro[0].rows.input_ids.shape[1] != micro[1].rows.input_ids.shape[1]
    denominator = ours.denominator(micro)
    total = 0.0
    for batch in micro:
        step_loss = ours.loss(parts, batch, denominator)
        step_loss.backward()
        total += float(step_loss.detach())
    _close(total, float(trl_loss.detach()), "loss")

    metrics = ours.step_metrics()
    expected = set(ours.metrics) | ({"nll_loss"} if ours.nll_weight else set())
    assert set(metrics) == expected
    for key in sorted(metrics):
        _close(metrics[key], trl_metrics[key], key)
    if not ours.nll_weight:
        assert trl_metrics["nll_loss"] == 0.0  # TRL skips the NLL at cpo_alpha 0, and so do we
    assert ours.step_metrics() == {}

    # Eval: the same pairs in one batch give the same loss and metrics.
    evaluated = ours.evaluate(parts)
    _close(evaluated["eval_loss"], float(trl_loss.detach()), "eval_loss")
    _close(evaluated["eval_rewards/margins"], trl_metrics["rewards/margins"], "eval_rewards/margins")

    peft_modules = dict(trainer.model.named_modules())
    checked = 0
    for name, m in lora_modules(model).items():
        theirs = peft_modules[f"base_model.model.{name}"]
        for ours_p, their_p in (
            (m.lora_A, theirs.lora_A["default"].weight),
            (m.lora_B, theirs.lora_B["default"].weight),
        ):
            scale = float(their_p.grad.abs().max())
            assert scale > 0, name
            diff = float((ours_p.grad - their_p.grad).abs().max())
            assert diff <= REL * scale, f"{name}: gradient differs by {diff:.3g} (largest entry {scale:.3g})"
            checked += 1
    assert checked == 2 * 7 * 2


def test_reference_free_objectives_take_full_fine_tuning_and_refuse_packing(model_dir, tmp_path):
    """No reference forward: method full is accepted; packing is refused as for DPO."""
    train = write_jsonl(tmp_path / "pairs.jsonl", text_rows())
    base = plan_from_dict(make_plan(str(model_dir), str(train), "full", objective="dpo"))
    for objective, settings in CASES[::2]:
        plan = dataclasses.replace(base, objective=objective, dpo=None, **{objective: settings})
        assert objective_for(plan).name == objective
        packed = dataclasses.replace(plan, data=dataclasses.replace(plan.data, packing=True))
        with pytest.raises(Exception, match="data.packing"):
            objective_for(packed)
