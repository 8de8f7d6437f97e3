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


def _word_tokenizer():
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {t: i for i, t in enumerate(["<pad>", "<s>", "</s>", "<unk>", "<|im_end|>", "a", "b"])}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", pad_token="<pad>")


def test_stop_tokens_end_of_turn_only_when_asked():
    from lora_lens_trainer.evaluate.run import stop_tokens

    template = "{% for m in messages %}{{ m['content'] + '<|im_end|>' }}{% endfor %}"
    tokenizer = _word_tokenizer()
    assert stop_tokens(tokenizer, template) == ([4, 2], ["<|im_end|>", "</s>"])
    assert stop_tokens(tokenizer, template, end_of_turn=False) == ([2], ["</s>"])


def test_sampling_is_seeded_and_greedy_is_the_default():
    from transformers import LlamaConfig, LlamaForCausalLM

    from lora_lens_trainer.evaluate.compute import Sampling, generate

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
    prompts = [[5, 6, 7], [8, 9]]
    cpu = torch.device("cpu")

    def run(sampling=None):
        args = (model, prompts, [], 12, 2, 0, cpu)
        return generate(*args, sampling).token_ids if sampling else generate(*args).token_ids

    greedy = run()
    assert run() == greedy
    hot = run(Sampling(temperature=5.0, seed=3))
    assert run(Sampling(temperature=5.0, seed=3)) == hot, "the same seed gives the same samples"
    assert hot != greedy, "at temperature 5 over 97 tokens, sampling leaves the greedy path"
    assert run(Sampling(temperature=5.0, seed=4)) != hot
