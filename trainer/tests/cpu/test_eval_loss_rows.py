"""evaluate's loss scores the head's logits a row at a time (no fp32 copy of the whole batch): the same mean
cross-entropy as the whole batch scored at once in fp32, over rows of uneven length."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")


def test_row_at_a_time_loss_equals_the_whole_batch_reference():
    import torch.nn.functional as F
    from transformers import LlamaConfig, LlamaForCausalLM

    from lora_lens_trainer.data.tokenize import IGNORE, Example
    from lora_lens_trainer.evaluate.compute import loss

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=97,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        pad_token_id=0,
    )
    model = LlamaForCausalLM(config).eval()
    g = torch.Generator().manual_seed(1)
    examples = []
    for n in (5, 9, 12):
        ids = torch.randint(1, 97, (n,), generator=g).tolist()
        examples.append(Example(ids, [IGNORE] * 3 + ids[3:]))
    got = loss(model, examples, batch_size=2, pad_id=0, device=torch.device("cpu"))

    total, tokens = 0.0, 0
    with torch.no_grad():
        for ex in examples:
            logits = model(input_ids=torch.tensor([ex.input_ids])).logits.float()[0, :-1]
            labels = torch.tensor(ex.labels[1:])
            total += float(F.cross_entropy(logits, labels, ignore_index=IGNORE, reduction="sum"))
            tokens += int((labels != IGNORE).sum())
    assert got.tokens == tokens == sum(len(e.input_ids) - 3 for e in examples)
    assert got.loss == pytest.approx(total / tokens, rel=1e-5)
    assert got.perplexity == pytest.approx(math.exp(total / tokens), rel=1e-5)
