"""fp16-mixed gives the fp32 LoRA gradients: loss scaling (LossScaler) with the logit gradient scaled in fp32
before its cast to fp16, at a vocabulary of 102,400 where an unscaled fp16 logit gradient (softmax / token
count, ~2e-8 per entry) flushes to zero. Metric: relative L2 error per LoRA tensor, ||g16 - g32|| / ||g32||."""

from __future__ import annotations

import statistics

import pytest

torch = pytest.importorskip("torch", reason="the fp16 test needs torch (CPU is enough)")
pytest.importorskip("transformers", reason="the fp16 test builds a tiny Llama with transformers")

from lora_lens_trainer.collate import collate_padded  # noqa: E402
from lora_lens_trainer.data.tokenize import IGNORE, Example  # noqa: E402
from lora_lens_trainer.lora import inject, lora_modules  # noqa: E402
from lora_lens_trainer.modeling import decoder_and_head  # noqa: E402
from lora_lens_trainer.scaler import LossScaler  # noqa: E402
from lora_lens_trainer.step import batch_loss  # noqa: E402
from tests.tiny_model import tiny_causal_lm  # noqa: E402

VOCAB = 102_400
CPU = torch.device("cpu")


def _model() -> torch.nn.Module:
    model = tiny_causal_lm("llama", vocab=VOCAB, seed=3)
    inject(model, "all-linear", 8, 16.0, 0.0, False)
    gen = torch.Generator().manual_seed(4)
    # Trained heads share a common direction across their rows; then the softmax-weighted sum of rows (the part
    # of the hidden-state gradient the small logit-gradient entries carry) is large, as on a real checkpoint,
    # rather than cancelling as it does over purely random rows.
    model.lm_head.weight.data += torch.randn(model.lm_head.weight.shape[1], generator=gen) * 0.1
    for m in lora_modules(model).values():  # B non-zero, as after a few steps, so A's gradient is not zero
        m.lora_B.data.normal_(0.0, 0.05, generator=gen)
    return model


def _micro_batches() -> list:
    gen = torch.Generator().manual_seed(5)
    batches = []
    for lengths in ((96, 61), (80, 72)):
        examples = []
        for n in lengths:
            ids = torch.randint(3, VOCAB, (n,), generator=gen).tolist()
            examples.append(Example(ids, [IGNORE] * 12 + ids[12:]))
        batches.append(collate_padded(examples, 0))
    return batches


def lora_gradients(model: torch.nn.Module, autocast: torch.dtype | None, scaler: LossScaler) -> dict[str, torch.Tensor]:
    """One accumulated step's LoRA gradients, unscaled, as the training loop forms them."""
    body, head = decoder_and_head(model)
    micro = _micro_batches()
    denominator = float(sum(m.n_targets for m in micro))
    params = [p for p in model.parameters() if p.requires_grad]
    for p in params:
        p.grad = None
    for m in micro:
        batch_loss(body, head, m, denominator, CPU, autocast, "sdpa", loss_scale=scaler.scale).backward()
    found_inf = scaler.unscale_and_check(params)
    assert not found_inf
    return {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


def relative_errors(ours: dict[str, torch.Tensor], reference: dict[str, torch.Tensor]) -> list[float]:
    return [float((ours[n] - g).norm() / g.norm()) for n, g in reference.items()]


def test_fp16_mixed_lora_gradients_are_within_1_percent_of_fp32():
    model = _model()
    fp32 = lora_gradients(model, None, LossScaler(enabled=False))
    scaled = relative_errors(lora_gradients(model, torch.float16, LossScaler(enabled=True)), fp32)
    unscaled = relative_errors(lora_gradients(model, torch.float16, LossScaler(enabled=False)), fp32)
    print(
        f"fp16-mixed vs fp32, relative L2 per LoRA tensor ({len(fp32)} tensors): "
        f"loss-scaled median {statistics.median(scaled):.2e} max {max(scaled):.2e}; "
        f"unscaled median {statistics.median(unscaled):.2e} max {max(unscaled):.2e}"
    )
    assert max(scaled) < 0.01
    # Without the scale the flushed logit gradient shows: the comparison above is able to fail.
    assert max(unscaled) > 0.01
