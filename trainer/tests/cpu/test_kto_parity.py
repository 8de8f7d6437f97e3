"""KTO against TRL 1.13's KTOTrainer on the same unpaired rows, model and settings, on the CPU in fp32: the token ids
TRL's preparation produces, the loss, every metric both report (rewards/chosen, logps/chosen, rewards/rejected,
logps/rejected, rewards/margins, kl) and the gradient of every LoRA matrix, to 1e-5 relative, for text and chat
rows and two weightings. One batch of four rows in dataset order (KTO's KL pairs rotate within a batch: TRL needs
sequential sampling, and the same order here); a tiny Llama whose LoRA B matrices are random on both sides."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

torch = pytest.importorskip("torch", reason="the parity test runs real torch on the CPU")
pytest.importorskip("trl", reason="the parity test compares with TRL's KTOTrainer (pip install trl==1.13.0)")
pytest.importorskip("peft", reason="TRL's LoRA side is PEFT")
datasets = pytest.importorskip("datasets", reason="TRL's trainer reads a datasets.Dataset")

from lora_lens_trainer.lora import inject, lora_modules  # noqa: E402
from lora_lens_trainer.modeling import decoder_and_head  # noqa: E402
from lora_lens_trainer.objectives import ModelParts, objective_for  # noqa: E402
from lora_lens_trainer.plan import KtoPlan, plan_from_dict  # noqa: E402
from tests.cpu.test_dpo_parity import text_rows  # noqa: E402
from tests.plans import make_plan  # noqa: E402
from tests.tiny_model import build_model_dir, write_jsonl  # noqa: E402

R, ALPHA, MAX_LENGTH = 8, 16, 128
REL = 1e-5


def kto_rows(chat: bool) -> list[dict]:
    rows = []
    for i, pair in enumerate(text_rows()[:2]):
        for side, label in (("chosen", True), ("rejected", False)):
            prompt, completion = pair["prompt"], pair[side]
            if chat:
                prompt = [{"role": "user", "content": prompt}]
                completion = [{"role": "assistant", "content": completion}]
            rows.append({"prompt": prompt, "completion": completion, "label": label if i == 0 else not label})
    return rows


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_model_dir(tmp_path_factory.mktemp("kto-parity") / "tiny-llama", hidden=64, layers=2)


def _fp32_model(model_dir: Path):
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32, attn_implementation="sdpa")


def _trl_trainer(model_dir: Path, rows: list[dict], settings: KtoPlan, tmp_path: Path):
    from peft import LoraConfig
    from transformers import AutoTokenizer
    from trl import KTOConfig, KTOTrainer

    args = KTOConfig(
        output_dir=str(tmp_path / "trl"),
        beta=settings.beta,
        desirable_weight=settings.desirable_weight,
        undesirable_weight=settings.undesirable_weight,
        max_length=MAX_LENGTH,
        per_device_train_batch_size=len(rows),
        report_to=[],
        use_cpu=True,
        bf16=False,
        logging_steps=1,
    )
    trainer = KTOTrainer(
        model=_fp32_model(model_dir),
        args=args,
        train_dataset=datasets.Dataset.from_list(rows),
        processing_class=AutoTokenizer.from_pretrained(model_dir),
        peft_config=LoraConfig(
            r=R, lora_alpha=ALPHA, lora_dropout=0.0, target_modules="all-linear", task_type="CAUSAL_LM"
        ),
    )
    generator = torch.Generator().manual_seed(1)
    for module in trainer.model.modules():
        if hasattr(module, "lora_B") and "default" in getattr(module, "lora_B", {}):
            with torch.no_grad():
                module.lora_B["default"].weight.copy_(
                    torch.randn(module.lora_B["default"].weight.shape, generator=generator) * 0.05
                )
    return trainer


def _our_side(model_dir: Path, trainer, rows: list[dict], settings: KtoPlan, tmp_path: Path, fmt: str):
    train = write_jsonl(tmp_path / "rows.jsonl", rows)
    base = plan_from_dict(
        make_plan(
            str(model_dir),
            str(train),
            "lora",
            objective="dpo",
            data__max_length=MAX_LENGTH,
            data__format=fmt,
            training__per_device_train_batch_size=len(rows),
        )
    )
    ours = objective_for(dataclasses.replace(base, objective="kto", dpo=None, kto=settings))
    ours.load(trainer.processing_class)
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


def _close(ours: float, theirs: float, what: str, slack: float = 0.0) -> None:
    assert abs(ours - theirs) <= REL * max(abs(theirs), 1e-3) + slack, f"{what}: ours {ours!r}, TRL {theirs!r}"


@pytest.mark.parametrize(
    "fmt,settings",
    [
        ("text", KtoPlan(beta=0.1, desirable_weight=1.0, undesirable_weight=1.0)),
        ("text", KtoPlan(beta=0.5, desirable_weight=1.33, undesirable_weight=0.8)),
        ("chat", KtoPlan(beta=0.1, desirable_weight=1.0, undesirable_weight=1.0)),
    ],
    ids=str,
)
def test_loss_metrics_and_lora_gradients_match_trl(model_dir, tmp_path, fmt, settings):
    rows = kto_rows(chat=fmt == "chat")
    trainer = _trl_trainer(model_dir, rows, settings, tmp_path)
    ours, model, parts = _our_side(model_dir, trainer, rows, settings, tmp_path, fmt)

    prepared = trainer.train_dataset
    assert [it.prompt_ids for it in ours.data.train_items] == prepared["prompt_ids"]
    assert [it.completion_ids for it in ours.data.train_items] == prepared["completion_ids"]

    trainer.model.train()
    inputs = trainer.data_collator([prepared[i] for i in range(len(rows))])
    trl_loss = trainer.compute_loss(trainer.model, inputs)
    trl_loss.backward()
    trl_metrics = {k: v[-1] for k, v in trainer._metrics["train"].items()}

    batch = ours.collate(list(range(len(rows))))
    loss = ours.loss(parts, batch, ours.denominator([batch]))
    loss.backward()
    _close(float(loss.detach()), float(trl_loss.detach()), "loss")
    metrics = ours.step_metrics()
    assert set(metrics) == {
        "rewards/chosen",
        "logps/chosen",
        "rewards/rejected",
        "logps/rejected",
        "rewards/margins",
        "kl",
    }
    # A reward is β times, and kl is, a difference of two summed log-probs (about -60 here): fp32 resolves those to
    # about eps·|log-prob|, which bounds how closely two correct implementations agree on the difference.
    resolution = 4 * torch.finfo(torch.float32).eps * (abs(metrics["logps/chosen"]) + abs(metrics["logps/rejected"]))
    for key, value in metrics.items():
        slack = 0.0 if key.startswith("logps/") else resolution * (settings.beta if key.startswith("rewards/") else 1)
        _close(value, trl_metrics[key], key, slack)
    assert metrics["kl"] >= 0

    # The gradient is weight · σ'(z) · β · ∇log-prob, with z = β(reward difference) - kl: an error δ in the summed
    # log-probs (the resolution above) moves σ'(z) by at most β·δ relatively, so two correct fp32 implementations may
    # differ by that on top of REL (here 0.5 · 5.7e-5; the text case measured 1.09e-5 relative on this CPU).
    grad_rel = REL + settings.beta * resolution
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
            assert diff <= grad_rel * scale, f"{name}: gradient differs by {diff:.3g} (largest entry {scale:.3g})"
            checked += 1
    assert checked == 2 * 7 * 2
