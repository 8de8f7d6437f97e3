"""The DPO objective against TRL 1.13's DPOTrainer on the same data, model and settings, on the CPU in fp32: the
token ids TRL's dataset preparation produces, the loss, every reward metric TRL logs and the gradient of every
LoRA matrix, to 1e-5 relative (a reward, being β times the difference of two
summed log-probs, to 1e-5 relative plus fp32's resolution of those log-probs), for the sigmoid, IPO and hinge losses, text and chat rows.

The model is a tiny Llama built here; both sides get the same LoRA matrices (B set to random values, so the
policy differs from the reference and the rewards are not all zero). TRL's side is a PEFT model whose reference is
the adapter disabled, as ours. With gradient accumulation our step runs uneven micro-batches (two pairs, then one,
each padded to its own length) and divides by the step's pair count: its gradient must equal TRL's loss over
the same three pairs as one batch, the mean over pairs."""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch", reason="the parity test runs real torch on the CPU")
trl = pytest.importorskip("trl", reason="the parity test compares with TRL's DPOTrainer (pip install trl==1.13.0)")
pytest.importorskip("peft", reason="TRL's LoRA side is PEFT")
datasets = pytest.importorskip("datasets", reason="TRL's trainer reads a datasets.Dataset")

from lora_lens_trainer.lora import inject, lora_modules  # noqa: E402
from lora_lens_trainer.modeling import decoder_and_head  # noqa: E402
from lora_lens_trainer.objectives import ModelParts  # noqa: E402
from lora_lens_trainer.objectives.dpo import METRICS, DpoObjective  # noqa: E402
from lora_lens_trainer.plan import plan_from_dict  # noqa: E402
from tests.plans import make_plan  # noqa: E402
from tests.tiny_model import COUNTRIES, build_model_dir, write_jsonl  # noqa: E402

R, ALPHA, MAX_LENGTH, BETA = 8, 16, 128, 0.1
REL = 1e-5


def text_rows() -> list[dict]:
    rows = []
    for i, (country, capital) in enumerate(COUNTRIES[:3]):
        rows.append(
            {
                "prompt": f"Q: What is the capital of {country}?{' Answer briefly.' * i}\nA:",
                "chosen": f" The capital of {country} is {capital}.",
                "rejected": f" {country} has no capital{', really' * (2 - i)}.",
            }
        )
    return rows


def chat_rows() -> list[dict]:
    return [
        {
            "prompt": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": r["prompt"]}],
            "chosen": [{"role": "assistant", "content": r["chosen"]}],
            "rejected": [{"role": "assistant", "content": r["rejected"]}],
        }
        for r in text_rows()
    ]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_model_dir(tmp_path_factory.mktemp("dpo-parity") / "tiny-llama", hidden=64, layers=2)


def _fp32_model(model_dir: Path):
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32, attn_implementation="sdpa")


def _trl_side(model_dir: Path, rows: list[dict], loss: str, tmp_path: Path):
    from peft import LoraConfig
    from transformers import AutoTokenizer
    from trl import DPOConfig, DPOTrainer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    args = DPOConfig(
        output_dir=str(tmp_path / "trl"),
        beta=BETA,
        loss_type=[loss],
        max_length=MAX_LENGTH,
        per_device_train_batch_size=len(rows),
        report_to=[],
        use_cpu=True,
        bf16=False,
        dataset_num_proc=None,
        logging_steps=1,
    )
    peft_config = LoraConfig(
        r=R, lora_alpha=ALPHA, lora_dropout=0.0, target_modules="all-linear", task_type="CAUSAL_LM"
    )
    trainer = DPOTrainer(
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
    return trainer, tokenizer


def _our_side(model_dir: Path, trainer, rows: list[dict], loss: str, tmp_path: Path, fmt: str):
    """Our objective on the same rows, with a model whose LoRA matrices are TRL's."""
    train = write_jsonl(tmp_path / "pairs.jsonl", rows)
    plan = plan_from_dict(
        make_plan(
            str(model_dir),
            str(train),
            "lora",
            objective="dpo",
            dpo={"beta": BETA, "loss": loss, "label_smoothing": 0.0},
            data__max_length=MAX_LENGTH,
            data__format=fmt,
        )
    )
    objective = DpoObjective(plan)
    objective.load(trainer.processing_class)
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
    return objective, model, ModelParts(body, head, torch.device("cpu"), None, "sdpa")


def _close(ours: float, theirs: float, what: str, slack: float = 0.0) -> None:
    assert abs(ours - theirs) <= REL * max(abs(theirs), 1e-3) + slack, f"{what}: ours {ours!r}, TRL {theirs!r}"


@pytest.mark.parametrize(
    "loss,fmt", [("sigmoid", "text"), ("ipo", "text"), ("hinge", "text"), ("sigmoid", "chat"), ("ipo", "chat")]
)
def test_loss_metrics_and_lora_gradients_match_trl(model_dir, tmp_path, loss, fmt):
    rows = text_rows() if fmt == "text" else chat_rows()
    trainer, _ = _trl_side(model_dir, rows, loss, tmp_path)
    objective, model, parts = _our_side(model_dir, trainer, rows, loss, tmp_path, fmt)

    # The same token ids as TRL's dataset preparation (EOS added to text answers, the chat template for chat).
    prepared = trainer.train_dataset
    assert [p.prompt_ids for p in objective.data.train_pairs] == prepared["prompt_ids"]
    assert [p.chosen_ids for p in objective.data.train_pairs] == prepared["chosen_ids"]
    assert [p.rejected_ids for p in objective.data.train_pairs] == prepared["rejected_ids"]

    # TRL: the three pairs as one batch, the mean over them.
    trainer.model.train()
    inputs = trainer.data_collator([prepared[i] for i in range(len(rows))])
    trl_loss = trainer.compute_loss(trainer.model, inputs)
    trl_loss.backward()
    trl_metrics = {k: v[-1] for k, v in trainer._metrics["train"].items()}

    # Ours: two micro-batches of uneven size and padding, one optimizer step's accumulation.
    micro = [objective.collate([0, 1]), objective.collate([2])]
    assert micro[0].rows.input_ids.shape[1] != micro[1].rows.input_ids.shape[1]
    denominator = objective.denominator(micro)
    total = 0.0
    for batch in micro:
        step_loss = objective.loss(parts, batch, denominator)
        step_loss.backward()
        total += float(step_loss.detach())
    _close(total, float(trl_loss.detach()), "loss")
    ours_metrics = objective.step_metrics()
    assert set(ours_metrics) == set(METRICS)
    # A reward is β times a difference of two summed log-probs (about -60 and -60.4 here): fp32 resolves those to
    # about eps·|log-prob|, which bounds how closely two correct implementations can agree on their difference.
    resolution = (
        4
        * torch.finfo(torch.float32).eps
        * BETA
        * (abs(trl_metrics["logps/chosen"]) + abs(trl_metrics["logps/rejected"]))
    )
    for key in METRICS:
        slack = resolution if key.startswith("rewards/") and key != "rewards/accuracies" else 0.0
        _close(ours_metrics[key], trl_metrics[key], key, slack)
    assert objective.step_metrics() == {}  # read once: the next step event averages its own pairs

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
    assert checked == 2 * 7 * 2  # every adapted linear of both layers, A and B


def test_label_smoothing_is_conservative_dpo(model_dir, tmp_path):
    """cDPO: (1-ε)·L(Δ) + ε·L(-Δ) with L(x) = -log σ(βx); TRL 1.13's sigmoid loss has no ε, so the formula is
    checked against our own ε = 0 margins."""
    rows = text_rows()
    trainer, _ = _trl_side(model_dir, rows, "sigmoid", tmp_path)
    objective, _, parts = _our_side(model_dir, trainer, rows, "sigmoid", tmp_path, "text")
    from lora_lens_trainer.objectives.dpo import DpoSettings, pair_losses

    batch = objective.collate([0, 1, 2])
    with torch.no_grad():
        plain, stats = pair_losses(parts, batch, DpoSettings(BETA, "sigmoid", 0.0))
        smoothed, _ = pair_losses(parts, batch, DpoSettings(BETA, "sigmoid", 0.2))
    delta = -torch.log(torch.expm1(plain)) / BETA  # plain = log(1 + e^{-βΔ})
    expected = 0.8 * plain + 0.2 * torch.nn.functional.softplus(BETA * delta)
    torch.testing.assert_close(smoothed, expected, rtol=1e-5, atol=1e-7)
    _close(float(delta.sum() * BETA), float(stats[2]), "margins")
