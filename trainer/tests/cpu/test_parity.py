"""The trainer's loss and LoRA gradients are transformers + PEFT's: one optimizer step of gradient accumulation over
uneven, padded, prompt-masked micro-batches, with the HF Trainer's num_items_in_batch semantics (the sum of token
losses of the whole step over the step's target-token count). Ours: modeling.apply_method (fused LoRA),
collate_padded, step.batch_loss; theirs: get_peft_model + model(labels=..., num_items_in_batch=...), from
identical weights. fp32 to 1e-5 relative; bf16 (autocast) within bf16 noise, see test_bf16_within_bf16_noise."""

from __future__ import annotations

import copy

import pytest

torch = pytest.importorskip("torch", reason="the parity tests need torch (CPU is enough)")
pytest.importorskip("peft", reason="the parity tests compare with PEFT")

from lora_lens_trainer.collate import collate_padded  # noqa: E402
from lora_lens_trainer.data.tokenize import IGNORE, Example  # noqa: E402
from lora_lens_trainer.lora import lora_modules  # noqa: E402
from lora_lens_trainer.modeling import apply_method, decoder_and_head  # noqa: E402
from lora_lens_trainer.plan import plan_from_dict  # noqa: E402
from lora_lens_trainer.step import batch_loss  # noqa: E402
from tests.plans import make_plan  # noqa: E402
from tests.tiny_model import tiny_causal_lm  # noqa: E402

CPU = torch.device("cpu")
R, ALPHA = 8, 16.0
# Micro-batches of one step: rows of (length, prompt length), uneven sizes and lengths (padding everywhere).
MICRO = [[(23, 7), (9, 3)], [(31, 12), (17, 17 - 5), (12, 2)], [(5, 1)]]


def _micro_batches(vocab: int) -> list[list[Example]]:
    gen = torch.Generator().manual_seed(11)
    out = []
    for rows in MICRO:
        examples = []
        for n, prompt in rows:
            ids = torch.randint(3, vocab, (n,), generator=gen).tolist()
            examples.append(Example(ids, [IGNORE] * prompt + ids[prompt:]))
        out.append(examples)
    return out


def _ours(base: torch.nn.Module, autocast: torch.dtype | None, targets):
    lora = {
        "r": R,
        "lora_alpha": ALPHA,
        "lora_dropout": 0.0,
        "target_modules": targets,
        "bias": "none",
        "use_rslora": False,
        "use_dora": False,
    }
    plan = plan_from_dict(make_plan("/m", "/data/train.jsonl", method="lora", lora=lora, precision="fp32"))
    setup = apply_method(base, plan, CPU, torch.float32, autocast, None)
    gen = torch.Generator().manual_seed(12)
    for m in lora_modules(setup.model).values():  # B non-zero (as after some steps), so A has a gradient
        m.lora_B.data.normal_(0.0, 0.1, generator=gen)
    return setup.model


def _peft_copy_of(ours: torch.nn.Module, base: torch.nn.Module, targets):
    from peft import LoraConfig, get_peft_model

    model = get_peft_model(
        base, LoraConfig(r=R, lora_alpha=ALPHA, lora_dropout=0.0, target_modules=targets, task_type="CAUSAL_LM")
    )
    mine = lora_modules(ours)
    loaded = 0
    for name, module in model.base_model.model.named_modules():
        if name in mine:
            module.lora_A["default"].weight.data.copy_(mine[name].lora_A.data)
            module.lora_B["default"].weight.data.copy_(mine[name].lora_B.data)
            loaded += 1
    assert loaded == len(mine) > 0
    return model


def _our_step(model, micro: list[list[Example]], autocast: torch.dtype | None):
    body, head = decoder_and_head(model)
    batches = [collate_padded(rows, 0) for rows in micro]
    denominator = float(sum(b.n_targets for b in batches))
    total = 0.0
    for b in batches:
        loss = batch_loss(body, head, b, denominator, CPU, autocast, "sdpa")
        loss.backward()
        total += float(loss.detach())
    grads = {}
    for name, m in lora_modules(model).items():
        grads[f"{name}.lora_A"], grads[f"{name}.lora_B"] = m.lora_A.grad.clone(), m.lora_B.grad.clone()
    return total, grads


def _peft_step(model, micro: list[list[Example]], autocast: torch.dtype | None):
    num_items = sum(sum(1 for label in e.labels[1:] if label != IGNORE) for rows in micro for e in rows)
    total = 0.0
    for rows in micro:
        batch = collate_padded(rows, 0)
        labels = torch.full_like(batch.input_ids, IGNORE)
        mask = torch.zeros_like(batch.input_ids)
        for i, e in enumerate(rows):
            labels[i, : len(e.labels)] = torch.tensor(e.labels)
            mask[i, : len(e.input_ids)] = 1
        with torch.autocast("cpu", dtype=autocast, enabled=autocast is not None):
            loss = model(
                input_ids=batch.input_ids,
                attention_mask=mask,
                labels=labels,
                use_cache=False,
                num_items_in_batch=torch.tensor(num_items),
            ).loss
        loss.backward()
        total += float(loss.detach())
    grads = {}
    for name, module in model.base_model.model.named_modules():
        if hasattr(module, "lora_A") and "default" in getattr(module, "lora_A", {}):
            grads[f"{name}.lora_A"] = module.lora_A["default"].weight.grad.clone()
            grads[f"{name}.lora_B"] = module.lora_B["default"].weight.grad.clone()
    return total, grads


def _relative(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.float() - b.float()).norm() / b.float().norm().clamp_min(1e-30))


def _run(arch: str, autocast: torch.dtype | None, targets="all-linear"):
    base = tiny_causal_lm(arch, vocab=300, seed=7)
    theirs_base = copy.deepcopy(base)
    ours = _ours(base, autocast, targets)
    theirs = _peft_copy_of(ours, theirs_base, targets)
    micro = _micro_batches(300)
    ours.train()
    theirs.train()
    return _our_step(ours, micro, autocast), _peft_step(theirs, micro, autocast)


@pytest.mark.parametrize("arch", ["llama", "qwen2"])
def test_fp32_loss_and_every_lora_gradient_equal_peft(arch):
    (our_loss, ours), (their_loss, theirs) = _run(arch, None)
    assert our_loss == pytest.approx(their_loss, rel=1e-5)
    assert ours.keys() == theirs.keys() and len(ours) == 2 * 7 * 2
    worst = max(_relative(ours[k], theirs[k]) for k in theirs)
    assert worst < 1e-5, worst


def test_fp32_parity_with_dotted_and_layer_targets():
    targets = ["q_proj", "mlp.down_proj", "layers.0.self_attn.v_proj"]
    (our_loss, ours), (their_loss, theirs) = _run("llama", None, targets)
    assert our_loss == pytest.approx(their_loss, rel=1e-5)
    assert len(ours) == 2 * (2 + 2 + 1)
    assert max(_relative(ours[k], theirs[k]) for k in theirs) < 1e-5


def test_the_per_micro_batch_mean_would_fail():
    """Averaging each micro-batch by its own token count (not the step's) is visibly different: the test can fail."""
    (_, ours), (_, theirs) = _run("llama", None)
    base = tiny_causal_lm("llama", vocab=300, seed=7)
    model = _ours(base, None, "all-linear")
    body, head = decoder_and_head(model)
    for rows in _micro_batches(300):
        b = collate_padded(rows, 0)
        batch_loss(body, head, b, float(b.n_targets), CPU, None, "sdpa").backward()
    wrong = {f"{n}.lora_A": m.lora_A.grad for n, m in lora_modules(model).items()}
    assert max(_relative(wrong[k], theirs[k]) for k in wrong) > 1e-2


def test_bf16_within_bf16_noise():
    """bf16 autocast on both sides. Tolerance: each side's distance from the fp32 gradients is bf16 rounding (8-bit
    significand, 2^-9 relative per rounding, compounded over the layers' matmuls and the fused vs full-logit
    loss); ours must be no further from fp32 than 2x PEFT's own bf16 distance plus 1e-3, and the two bf16 runs
    within 3% of each other per tensor (relative L2)."""
    (_, ours32), _ = _run("llama", None)
    (our_loss, ours), (their_loss, theirs) = _run("llama", torch.bfloat16)
    assert our_loss == pytest.approx(their_loss, rel=1e-2)
    our_err = max(_relative(ours[k], ours32[k]) for k in ours32)
    their_err = max(_relative(theirs[k], ours32[k]) for k in ours32)
    between = max(_relative(ours[k], theirs[k]) for k in theirs)
    print(
        f"bf16 vs fp32 (max relative L2 per tensor): ours {our_err:.2e}, PEFT {their_err:.2e}; ours vs PEFT {between:.2e}"
    )
    assert our_err <= 2 * their_err + 1e-3
    assert between < 0.03
