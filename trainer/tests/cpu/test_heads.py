"""Each output-head variant trains on the model's own loss: the fused loss (body + OutputHead) against
transformers' forward(labels=...) in fp32, loss and every parameter's gradient (the head's weight and bias too)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch", reason="the head tests need torch (CPU is enough)")
pytest.importorskip("transformers", reason="the head tests compare with transformers' own forward")

from lora_lens_trainer.collate import collate_padded  # noqa: E402
from lora_lens_trainer.data.tokenize import IGNORE, Example  # noqa: E402
from lora_lens_trainer.loss import LogitTransform  # noqa: E402
from lora_lens_trainer.modeling import ModelError, decoder_and_head  # noqa: E402
from lora_lens_trainer.step import batch_loss  # noqa: E402
from tests.tiny_model import tiny_causal_lm  # noqa: E402

ARCHS = ["llama", "phi", "granite", "cohere", "gemma2"]
CPU = torch.device("cpu")


def _examples(vocab: int, seed: int) -> list[Example]:
    """Uneven lengths (padding) and prompt-masked labels."""
    gen = torch.Generator().manual_seed(seed)
    out = []
    for n, prompt in ((23, 6), (14, 3), (31, 12)):
        ids = torch.randint(3, vocab, (n,), generator=gen).tolist()
        out.append(Example(ids, [IGNORE] * prompt + ids[prompt:]))
    return out


def _reference(model, examples: list[Example]):
    """transformers' own loss: padded labels, its internal shift, mean over the target tokens."""
    batch = collate_padded(examples, 0)
    labels = torch.full_like(batch.input_ids, IGNORE)
    for row, e in enumerate(examples):
        labels[row, : len(e.labels)] = torch.tensor(e.labels)
    mask = torch.zeros_like(batch.input_ids)
    for row, e in enumerate(examples):
        mask[row, : len(e.input_ids)] = 1
    return model(input_ids=batch.input_ids, attention_mask=mask, labels=labels, use_cache=False).loss


def _grads(model) -> dict[str, torch.Tensor]:
    out = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    model.zero_grad(set_to_none=True)
    return out


def _relative(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).norm() / b.norm().clamp_min(1e-30))


@pytest.mark.parametrize("arch", ARCHS)
def test_fused_head_loss_and_gradients_equal_the_models_own(arch):
    model = tiny_causal_lm(arch, vocab=320, seed=1)
    if arch == "gemma2":
        # Logits past the cap's linear range, so the softcap (and its derivative) matter.
        torch.nn.init.normal_(model.lm_head.weight, std=1.0)
    body, head = decoder_and_head(model)
    examples = _examples(320, seed=2)
    batch = collate_padded(examples, 0)
    ours = batch_loss(body, head, batch, float(batch.n_targets), CPU, None, "eager" if arch == "gemma2" else "sdpa")
    ours.backward()
    our_grads = _grads(model)
    theirs = _reference(model, examples)
    theirs.backward()
    their_grads = _grads(model)
    assert float(ours.detach()) == pytest.approx(float(theirs), rel=1e-5)
    assert our_grads.keys() == their_grads.keys()
    worst = max(_relative(our_grads[n], their_grads[n]) for n in their_grads)
    assert worst < 1e-5, worst
    if arch == "phi":
        assert head.bias is not None and "lm_head.bias" in our_grads


def test_the_bare_weight_would_be_wrong_for_each_variant():
    """The same comparison without the head's bias/transform fails: the tests above can fail."""
    for arch in ("phi", "granite", "cohere", "gemma2"):
        model = tiny_causal_lm(arch, vocab=320, seed=1)
        if arch == "gemma2":
            torch.nn.init.normal_(model.lm_head.weight, std=1.0)
        body = model.model
        examples = _examples(320, seed=2)
        batch = collate_padded(examples, 0)
        weight_only = torch.nn.Linear(64, 320, bias=False)
        weight_only.weight = model.lm_head.weight
        with torch.no_grad():
            plain = float(batch_loss(body, weight_only, batch, float(batch.n_targets), CPU, None, "eager"))
            theirs = float(_reference(model, examples))
        assert abs(plain - theirs) > 1e-3 * theirs, arch


def test_logit_transform_read_from_each_config():
    assert decoder_and_head(tiny_causal_lm("granite"))[1].transform == LogitTransform(1 / 8.0, None)
    assert decoder_and_head(tiny_causal_lm("cohere"))[1].transform == LogitTransform(0.0625, None)
    assert decoder_and_head(tiny_causal_lm("gemma2"))[1].transform == LogitTransform(1.0, 2.0)
    assert decoder_and_head(tiny_causal_lm("llama"))[1].transform == LogitTransform()


def test_an_unmodelled_logit_post_processing_is_refused():
    """A model whose forward scales its logits in a way the config does not say: the probe refuses it."""
    model = tiny_causal_lm("llama", vocab=320, seed=1)
    original = model.forward

    def scaled_forward(*args, **kwargs):
        out = original(*args, **kwargs)
        out.logits = out.logits * 3.0
        return out

    model.forward = scaled_forward
    with pytest.raises(ModelError, match="post-processes its logits"):
        decoder_and_head(model)
