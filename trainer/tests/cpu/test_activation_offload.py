"""training.activation_offloading (our `gradient_checkpointing: offload`): the checkpointed layers' saved inputs go
through offload.py's pack/unpack pair, and the loss and every LoRA gradient equal those of the same checkpointing
without it, bit for bit (the copies are exact); backward takes each input from a prefetch: the first one needed
(the last layer's) from the copy started when the body's forward returned, before the loss, each other one from the
copy started when backward took the layer after it."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch", reason="the offload tests need torch (CPU is enough)")

from lora_lens_trainer.checkpointing import decoder_layers  # noqa: E402
from lora_lens_trainer.collate import collate_padded  # noqa: E402
from lora_lens_trainer.data.tokenize import Example  # noqa: E402
from lora_lens_trainer.lora import lora_modules  # noqa: E402
from lora_lens_trainer.modeling import apply_method, body_of, decoder_and_head  # noqa: E402
from lora_lens_trainer.offload import offload_checkpoint_inputs  # noqa: E402
from lora_lens_trainer.plan import plan_from_dict  # noqa: E402
from lora_lens_trainer.step import batch_loss  # noqa: E402
from tests.plans import make_plan  # noqa: E402
from tests.tiny_model import tiny_causal_lm  # noqa: E402

CPU = torch.device("cpu")
LAYERS = 4


def _model(layers: int | None, offload: bool):
    torch.manual_seed(0)
    base = tiny_causal_lm("qwen2", num_hidden_layers=LAYERS).train()
    overrides: dict[str, object] = {"training__gradient_checkpointing": True, "precision": "fp32"}
    if layers is not None:
        overrides["training__checkpoint_layers"] = layers
    if offload:
        overrides["training__activation_offloading"] = True
    plan = plan_from_dict(make_plan("/m", "/data/train.jsonl", method="lora", **overrides))
    model = apply_method(base, plan, CPU, torch.float32, None, None).model
    gen = torch.Generator().manual_seed(5)
    for m in lora_modules(model).values():  # B non-zero, so every adapter has a gradient
        m.lora_B.data.normal_(0.0, 0.1, generator=gen)
    return model


def _forward(model, seed: int = 3):
    """The loss of one batch, before its backward."""
    body, head = decoder_and_head(model)
    gen = torch.Generator().manual_seed(seed)
    rows = [Example(ids, ids) for ids in (torch.randint(3, 256, (n,), generator=gen).tolist() for n in (19, 11))]
    batch = collate_padded(rows, 0)
    return batch_loss(body, head, batch, float(batch.n_targets), CPU, None, "sdpa")


def _grads(model):
    return [torch.cat([m.lora_A.grad.flatten(), m.lora_B.grad.flatten()]) for m in lora_modules(model).values()]


def _steps(model, steps: int = 2):
    out = []
    for _ in range(steps):  # the second step reuses the hooks: each forward starts a new order
        for m in lora_modules(model).values():
            m.lora_A.grad = m.lora_B.grad = None
        loss = _forward(model)
        loss.backward()
        out.append((float(loss.detach()), _grads(model)))
    return out


def _staged(offload) -> list[bool]:
    """Which packed inputs have their copy back started, in forward order."""
    return [ref() is not None and ref().staged is not None for ref in offload.order]


def _offloaded(layer) -> bool:
    return getattr(layer._gradient_checkpointing_func, "__name__", "") == "offloaded"


@pytest.mark.parametrize("k", [None, 2])
def test_the_plan_offloads_the_checkpointed_layers_and_the_gradients_are_unchanged(k: int | None) -> None:
    model = _model(k, offload=True)
    count = LAYERS if k is None else k
    assert [_offloaded(layer) for layer in decoder_layers(model)] == [True] * count + [False] * (LAYERS - count)
    assert not any(_offloaded(layer) for layer in decoder_layers(_model(k, offload=False)))
    # The trainer's model starts the first copy back when its body's forward returns (the one hook on the body).
    assert len(body_of(model)._forward_hooks) == 1
    for (loss, grads), (loss_ref, grads_ref) in zip(_steps(model), _steps(_model(k, offload=False))):
        assert loss == loss_ref
        for g, g_ref in zip(grads, grads_ref):
            assert torch.equal(g, g_ref)


def test_the_first_copy_back_starts_when_the_forward_ends_and_backward_takes_every_input_from_a_prefetch() -> None:
    model = _model(None, offload=False)
    offload, undo = offload_checkpoint_inputs(decoder_layers(model), CPU, body_of(model))
    reference = _steps(_model(None, offload=False), steps=1)
    loss_tensor = _forward(model)
    # Between the loss and its backward: only the last layer's input is on its way back, nothing taken yet.
    assert _staged(offload) == [False] * (LAYERS - 1) + [True]
    assert (offload.hits, offload.misses) == (0, 0)
    loss_tensor.backward()
    loss, grads = float(loss_tensor.detach()), _grads(model)
    assert (offload.hits, offload.misses) == (LAYERS, 0)
    # Each layer saved its input (batch x tokens x hidden, fp32) and nothing else through the hooks.
    assert offload.bytes_offloaded == LAYERS * 2 * 19 * model.config.hidden_size * 4
    assert loss == reference[0][0] and all(torch.equal(a, b) for a, b in zip(grads, reference[0][1]))
    undo()
    assert not any(_offloaded(layer) for layer in decoder_layers(model))


def test_k_of_l_checkpointed_moves_exactly_the_k_inputs() -> None:
    """auto's offload (issue 28): 2 of 4 layers checkpointed; handed every layer, offload.py takes only those 2."""
    model = _model(2, offload=False)
    offload, undo = offload_checkpoint_inputs(decoder_layers(model), CPU, body_of(model))
    assert [_offloaded(layer) for layer in decoder_layers(model)] == [True, True, False, False]
    reference = _steps(_model(2, offload=False), steps=1)
    (loss, grads), *_ = _steps(model, steps=1)
    # Two inputs of 2 rows x 19 tokens x hidden, fp32, out and back: layer 1's started when the forward ended (before
    # the loss and the backward of layers 3 and 2, which keep their activations), layer 0's when backward took layer 1.
    assert offload.bytes_offloaded == 2 * 2 * 19 * model.config.hidden_size * 4
    assert (offload.hits, offload.misses) == (2, 0)
    assert loss == reference[0][0] and all(torch.equal(a, b) for a, b in zip(grads, reference[0][1]))
    undo()


def test_a_second_forward_before_backward_drops_the_early_copy_and_backward_still_prefetches_every_input() -> None:
    """Two losses summed into one backward (two micro-batches' graphs alive at once): the copy started when the first
    forward ended is not what backward needs first, so the second forward drops it; backward takes the second graph's
    inputs, then the first's, every one from a prefetch, and the gradients are those of checkpointing alone."""
    model = _model(None, offload=False)
    offload, undo = offload_checkpoint_inputs(decoder_layers(model), CPU, body_of(model))
    reference_model = _model(None, offload=False)
    first, second = _forward(model, seed=3), _forward(model, seed=4)
    assert _staged(offload) == [False] * (2 * LAYERS - 1) + [True]
    (first + second).backward()
    assert (offload.hits, offload.misses) == (2 * LAYERS, 0)
    reference_first, reference_second = _forward(reference_model, seed=3), _forward(reference_model, seed=4)
    (reference_first + reference_second).backward()
    assert float(first.detach()) == float(reference_first.detach())
    assert float(second.detach()) == float(reference_second.detach())
    assert all(torch.equal(a, b) for a, b in zip(_grads(model), _grads(reference_model)))
    undo()
    _forward(model).backward()  # the body's hook went with the undo: nothing is packed or fetched any more
    assert (offload.hits, offload.misses) == (2 * LAYERS, 0) and not any(_staged(offload))
