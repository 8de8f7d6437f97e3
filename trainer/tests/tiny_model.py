"""A tiny Llama-architecture model directory built inside the tests: config.json, random safetensors weights,
and a byte-level BPE tokenizer trained with `tokenizers` and saved with a ChatML chat template, so the
trainer's real from_pretrained path runs without any download."""

from __future__ import annotations

import json
import random
from pathlib import Path

CHATML = (
    "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\n' + m['content'] + '<|im_end|>\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
COUNTRIES = [
    ("France", "Paris"),
    ("Japan", "Tokyo"),
    ("Kenya", "Nairobi"),
    ("Peru", "Lima"),
    ("Norway", "Oslo"),
    ("Egypt", "Cairo"),
    ("Chile", "Santiago"),
    ("India", "New Delhi"),
    ("Italy", "Rome"),
    ("Spain", "Madrid"),
    ("Ghana", "Accra"),
    ("Cuba", "Havana"),
    ("Nepal", "Kathmandu"),
    ("Iran", "Tehran"),
    ("Laos", "Vientiane"),
    ("Mali", "Bamako"),
]


def chat_rows(n: int = 32) -> list[dict]:
    rows = []
    for i in range(n):
        country, capital = COUNTRIES[i % len(COUNTRIES)]
        variant = i // len(COUNTRIES)
        rows.append(
            {
                "messages": [
                    {"role": "system", "content": "Answer in one sentence."}
                    if variant % 2
                    else {"role": "system", "content": "Be brief."},
                    {"role": "user", "content": f"What is the capital of {country}?"},
                    {"role": "assistant", "content": f"The capital of {country} is {capital}."},
                ]
            }
        )
    return rows


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def build_tokenizer(folder: Path, corpus: list[str]) -> None:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    specials = ["<pad>", "<s>", "</s>", "<|im_start|>", "<|im_end|>"]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=512, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator(corpus, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="<|im_end|>", pad_token="<pad>")
    fast.chat_template = CHATML
    fast.save_pretrained(folder)


def build_model_dir(folder: Path, hidden: int = 128, layers: int = 2, seed: int = 0) -> Path:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    folder.mkdir(parents=True, exist_ok=True)
    corpus = []
    for row in chat_rows(64):
        corpus.extend(m["content"] for m in row["messages"])
    corpus += ["The quick brown fox jumps over the lazy dog. 12 + 30 = 42."] * 4
    build_tokenizer(folder, corpus)
    from transformers import AutoTokenizer

    vocab = len(AutoTokenizer.from_pretrained(folder))
    config = LlamaConfig(
        vocab_size=vocab,
        hidden_size=hidden,
        intermediate_size=hidden * 2,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        tie_word_embeddings=False,
        bos_token_id=1,
        eos_token_id=4,
        pad_token_id=0,
        # 0.02 (the default) caps a frozen head's logit range near 2.5 behind the final norm: LoRA
        # could not fit even a memorizable set. Real checkpoints have far larger head rows.
        initializer_range=0.1,
    )
    torch.manual_seed(seed)
    random.seed(seed)
    model = LlamaForCausalLM(config).to(torch.bfloat16)
    model.save_pretrained(folder, safe_serialization=True)
    return folder


# Tiny configurations of the families whose heads differ (bias, logit multiplier, softcap) and of the dense
# Llama/Qwen layout; sizes small enough for CPU tests, head dims even for rotary embeddings.
_TINY = {
    "hidden_size": 64,
    "intermediate_size": 96,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "max_position_embeddings": 256,
}


def tiny_config(arch: str, vocab: int = 256, **overrides: object):
    """A transformers config for `arch` (llama, qwen2, phi, granite, cohere, gemma2), tiny, untied head."""
    import transformers

    common = dict(
        _TINY,
        vocab_size=vocab,
        tie_word_embeddings=False,
        pad_token_id=0,
        bos_token_id=1,
        eos_token_id=2,
        initializer_range=0.1,
    )
    specific: dict[str, dict[str, object]] = {
        "llama": {},
        "qwen2": {},
        # Phi-1/2: lm_head has a bias; partial rotary.
        "phi": {"partial_rotary_factor": 0.5, "resid_pdrop": 0.0, "embd_pdrop": 0.0, "attention_dropout": 0.0},
        "granite": {
            "logits_scaling": 8.0,
            "embedding_multiplier": 12.0,
            "residual_multiplier": 0.22,
            "attention_multiplier": 0.015625,
        },
        "cohere": {"logit_scale": 0.0625, "use_qk_norm": False},
        # A cap small enough that the tiny model's logits reach the tanh's curved part.
        "gemma2": {
            "final_logit_softcapping": 2.0,
            "attn_logit_softcapping": 50.0,
            "head_dim": 16,
            "query_pre_attn_scalar": 16,
            "sliding_window": 8,
        },
    }
    classes = {
        "llama": "LlamaConfig",
        "qwen2": "Qwen2Config",
        "phi": "PhiConfig",
        "granite": "GraniteConfig",
        "cohere": "CohereConfig",
        "gemma2": "Gemma2Config",
    }
    kwargs = {**common, **specific[arch], **overrides}
    return getattr(transformers, classes[arch])(**kwargs)


def tiny_causal_lm(arch: str, vocab: int = 256, seed: int = 0, **overrides: object):
    """A randomly initialised fp32 causal LM of `arch` built from tiny_config, on the CPU, in eval mode."""
    import torch
    from transformers import AutoModelForCausalLM

    config = tiny_config(arch, vocab, **overrides)
    torch.manual_seed(seed)
    attn = "eager" if arch == "gemma2" else "sdpa"
    model = AutoModelForCausalLM.from_config(config, attn_implementation=attn, dtype=torch.float32).eval()
    bias = getattr(model.get_output_embeddings(), "bias", None)
    if bias is not None:
        torch.nn.init.normal_(bias, std=1.0)  # initialised to zero, where a trained Phi's is not
    return model
