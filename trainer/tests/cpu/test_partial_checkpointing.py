"""gradient_checkpointing: auto's count (training.checkpoint_layers) is applied as is: exactly the first k decoder
layers run checkpointed (their forward runs again in backward, counted by a forward hook), and the loss and the
LoRA gradients equal those of full checkpointing and of none, to fp32 noise."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch", reason="the checkpointing tests need torch (CPU is enough)")

from lora_lens_trainer.checkpointing import checkpointed_layers, decoder_layers  # noqa: E402
from lora_lens_trainer.collate import collate_padded  # noqa: E402
from lora_lens_trainer.data.tokenize import Example  # noqa: E402
from lora_lens_trainer.lora import lora_modules  # noqa: E402
from lora_lens_trainer.modeling import ModelError, apply_method, decoder_and_head  # noqa: E402
from lora_lens_trainer.plan import plan_from_dict  # noqa: E402
from lora_lens_trainer.step import batch_loss  # noqa: E402
from tests.plans import make_plan  # noqa: E402
from tests.tiny_model import tiny_causal_lm  # noqa: E402

CPU = torch.device("cpu")
LAYERS = 4


def _model(gc: bool, layers: int | None):
    base = tiny_causal_lm("qwen2", num_hidden_layers=LAYERS).train()
    overrides: dict[str, object] = {"training__gradient_checkpointing": gc, "precision": "fp32"}
    if layers is not None:
        overrides["training__checkpoint_layers"] = layers
        overrides["training__checkpoint_auto"] = True
    plan = plan_from_dict(make_plan("/m", "/data/train.jsonl", method="lora", **overrides))
    model = apply_method(base, plan, CPU, torch.float32, None, None).model
    gen = torch.Generator().manual_seed(5)
    for m in lora_modules(model).values():  # B non-zero, so every adapter has a gradient
        m.lora_B.data.normal_(0.0, 0.1, generator=gen)
    return model


def _step(model):
    """One forward and backward; returns the loss, the adapters' gradients and how often each layer's forward started
    (a pre-hook: the recompute stops early, once it has what backward needs, so a post-hook would miss it)."""
    body, head = decoder_and_head(model)  # its probe runs a forward: before the hooks count
    calls = [0] * LAYERS
    for i, layer in enumerate(decoder_layers(model)):
        layer.register_forward_pre_hook(lambda *_, i=i: calls.__setitem__(i, calls[i] + 1))
    gen = torch.Generator().manual_seed(3)
    rows = [Example(ids, ids) for ids in (torch.randint(3, 256, (n,), generator=gen).tolist() for n in (19, 11))]
    batch = collate_padded(rows, 0)
    loss = batch_loss(body, head, batch, float(batch.n_targets), CPU, None, "sdpa")
    loss.backward()
    grads = {n: torch.cat([m.lora_A.grad.flatten(), m.lora_B.grad.flatten()]) for n, m in lora_modules(model).items()}
    return float(loss.detach()), grads, calls


@pytest.mark.parametrize("k", [0, 1, 3, 4])
def test_exactly_the_first_k_layers_are_checkpointed_and_the_gradients_match_full_checkpointing(k: int) -> None:
    full_loss, full_grads, full_calls = _step(_model(True, None))
    assert full_calls == [2] * LAYERS  # the probe sees recomputes: every layer ran twice
    model = _model(True, k)
    assert checkpointed_layers(model) == list(range(k))
    loss, grads, calls = _step(model)
    assert calls == [2] * k + [1] * (LAYERS - k)
    assert loss == pytest.approx(full_loss, rel=1e-6)
    for name, g in grads.items():
        torch.testing.assert_close(g, full_grads[name], rtol=1e-5, atol=1e-7)


def test_no_checkpointing_and_true_without_a_count() -> None:
    assert checkpointed_layers(_model(False, None)) == []
    assert checkpointed_layers(_model(True, None)) == list(range(LAYERS))


def test_a_count_past_the_models_layers_is_refused_with_what_to_do() -> None:
    with pytest.raises(ModelError, match=r"checkpoint_layers is 9 but the model has 4 decoder layers.*lora-lens check"):
        _model(True, 9)


def test_out_of_memory_advice_under_auto_says_to_checkpoint_every_layer() -> None:
    from lora_lens_trainer.memory import oom_advice

    def plan(**training: object):
        overrides = {f"training__{k}": v for k, v in training.items()}
        return plan_from_dict(make_plan("/m", "/data/train.jsonl", method="lora", **overrides))

    auto = oom_advice(plan(gradient_checkpointing=True, checkpoint_auto=True, checkpoint_layers=3), None, 80 * 2**30)
    assert any("auto checkpointed only the first 3 decoder layers" in a for a in auto), auto
    full = oom_advice(plan(gradient_checkpointing=True), None, 80 * 2**30)
    assert not any("gradient_checkpointing" in a for a in full), full
    # auto offloaded k of L (no count fit on the GPU): every layer offloaded is what takes less, not `true`.
    offloaded = oom_advice(
        plan(gradient_checkpointing=True, checkpoint_auto=True, checkpoint_layers=3, activation_offloading=True),
        None,
        80 * 2**30,
    )
    assert any(
        "gradient_checkpointing: offload (auto checkpointed and offloaded only the first 3" in a for a in offloaded
    )
    assert not any("gradient_checkpointing: true" in a for a in offloaded), offloaded
