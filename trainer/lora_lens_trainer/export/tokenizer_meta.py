"""The tokenizer as GGUF metadata: the vocabulary with token types, the BPE merges, the pre-tokenizer llama.cpp
must use, BOS/EOS/EOT/padding ids and the chat template. Merges, special ids, add_bos and the chat template are
read by llama.cpp's own SpecialVocab (gguf.vocab); the pre-tokenizer is recognised from tokenizer.json.

A lost end-of-turn token is how an export goes wrong without a word (the model never stops): the EOT id is written
explicitly, and export refuses a chat template whose end-of-turn token is not in the vocabulary."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import ExportError

# The split regexes of the byte-level BPE tokenizers llama.cpp implements, by its pre-tokenizer name
# (llama-vocab.cpp). A byte-level BPE without a Split step uses GPT-2's regex inside ByteLevel itself.
_LLAMA3 = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|"
    r"\s+(?!\S)|\s+"
)
_QWEN2 = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|"
    r"\s+(?!\S)|\s+"
)
SPLIT_REGEXES = {_LLAMA3: "llama-bpe", _QWEN2: "qwen2"}
# End-of-turn tokens of the chat templates in use; llama.cpp also stops on EOS.
EOT_TOKENS = ["<|im_end|>", "<|eot_id|>", "<end_of_turn>", "<|end|>", "<|endoftext|>"]


@dataclass
class TokenizerFacts:
    model: str  # "gpt2" (byte-level BPE) or "llama" (SentencePiece-style BPE with byte fallback)
    pre: str | None
    tokens: list[str]
    types: list[int]
    scores: list[float] | None
    add_space_prefix: bool | None  # SentencePiece-style only: a "▁" before the text (Llama 2, Mistral; not Gemma)
    eot_id: int | None
    eot_token: str | None
    chat_template: str | None
    stop_tokens: list[str]


def _pre_tokenizer(tokenizer_json: dict[str, Any]) -> str:
    pre = tokenizer_json.get("pre_tokenizer") or {}
    steps = pre.get("pretokenizers", [pre]) if pre.get("type") == "Sequence" else [pre]
    splits = [s for s in steps if s.get("type") == "Split"]
    if not splits and any(s.get("type") == "ByteLevel" and s.get("use_regex", True) for s in steps):
        return "gpt-2"
    if len(splits) == 1:
        regex = (splits[0].get("pattern") or {}).get("Regex")
        if regex in SPLIT_REGEXES:
            return SPLIT_REGEXES[regex]
    raise ExportError(
        "the tokenizer's pre-tokenizer is not one the exporter recognises (GPT-2's byte level, "
        "Llama 3's or Qwen2's split regex): llama.cpp would split text differently from training. "
        "Use --format merged and llama.cpp's convert_hf_to_gguf.py, which knows more of them"
    )


def _bpe_tokens(tokenizer: Any, vocab_size: int) -> tuple[list[str], list[int]]:
    import gguf

    reverse = {i: t for t, i in tokenizer.get_vocab().items()}
    added = tokenizer.added_tokens_decoder
    tokens: list[str] = []
    types: list[int] = []
    for i in range(vocab_size):
        if i not in reverse:
            tokens.append(f"[PAD{i}]")
            types.append(int(gguf.TokenType.UNUSED))
        elif i in added:
            tokens.append(reverse[i])
            types.append(int(gguf.TokenType.CONTROL if added[i].special else gguf.TokenType.USER_DEFINED))
        else:
            tokens.append(reverse[i])
            types.append(int(gguf.TokenType.NORMAL))
    return tokens, types


def merge_scores(tokenizer_json: dict[str, Any]) -> dict[str, float]:
    """Scores that make llama.cpp's SentencePiece merge loop (highest score first) follow the BPE merge order: a
    token made by merge number i scores -i. gguf.LlamaHfVocab gives every token -1000, which leaves the order to
    position and tokenizes differently from transformers."""
    scores: dict[str, float] = {}
    for rank, merge in enumerate(tokenizer_json["model"].get("merges") or []):
        left, right = merge.split(" ", 1) if isinstance(merge, str) else merge
        scores.setdefault(left + right, -float(rank))
    return scores


def _spm_tokens(
    folder: Path, vocab_size: int, tokenizer_json: dict[str, Any], added: dict[int, Any]
) -> tuple[list[str], list[int], list[float]]:
    import gguf

    vocab = gguf.LlamaHfVocab(folder)
    ranks = merge_scores(tokenizer_json)
    tokens: list[str] = []
    scores: list[float] = []
    types: list[int] = []
    for text, score, kind in vocab.all_tokens():
        # LlamaHfVocab marks only the tokenizer's named specials (BOS, EOS...) as control; an added special token such
        # as <|im_start|> must be one too, or llama.cpp reads the chat template's markers as plain text.
        if kind == gguf.TokenType.NORMAL and len(tokens) in added and added[len(tokens)].special:
            kind = gguf.TokenType.CONTROL
        tokens.append(text.decode("utf-8"))
        scores.append(ranks.get(tokens[-1], 0.0 if kind == gguf.TokenType.NORMAL else score))
        types.append(int(kind))
    for i in range(len(tokens), vocab_size):
        tokens.append(f"[PAD{i}]")
        scores.append(-1000.0)
        types.append(int(gguf.TokenType.UNUSED))
    return tokens, types, scores


def tokenizer_facts(folder: Path, vocab_size: int) -> TokenizerFacts:
    """What the GGUF needs of the tokenizer saved in `folder` (the run's adapter or model folder)."""
    from transformers import AutoTokenizer

    path = folder / "tokenizer.json"
    if not path.is_file():
        raise ExportError(
            f"{folder}: no tokenizer.json (a fast tokenizer); save the tokenizer with transformers "
            "(AutoTokenizer.from_pretrained(...).save_pretrained(folder)) and export again"
        )
    tokenizer_json = json.loads(path.read_text(encoding="utf-8"))
    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    if len(tokenizer) > vocab_size:
        raise ExportError(
            f"the tokenizer has {len(tokenizer)} tokens, more than the model's {vocab_size} embedding "
            "rows: tokens were added without resizing the embedding"
        )
    model = tokenizer_json.get("model") or {}
    scores = None
    if model.get("type") == "BPE" and model.get("byte_fallback"):
        kind, pre = "llama", None
        tokens, types, scores = _spm_tokens(folder, vocab_size, tokenizer_json, tokenizer.added_tokens_decoder)
    elif model.get("type") == "BPE":
        kind, pre = "gpt2", _pre_tokenizer(tokenizer_json)
        tokens, types = _bpe_tokens(tokenizer, vocab_size)
    else:
        raise ExportError(
            f"the tokenizer model {model.get('type')!r} is not exported (BPE is: byte-level, or "
            "SentencePiece-style with byte fallback); use --format merged and llama.cpp's "
            "convert_hf_to_gguf.py"
        )
    template = tokenizer.chat_template if isinstance(tokenizer.chat_template, str) else None
    eot_token = next((t for t in EOT_TOKENS if template and t in template), None)
    found = tokenizer.convert_tokens_to_ids(eot_token) if eot_token else None
    eot_id = found if isinstance(found, int) else None
    if eot_token and (eot_id is None or eot_id == tokenizer.unk_token_id):
        raise ExportError(f"the chat template ends a turn with {eot_token}, which is not in the vocabulary")
    stops = [t for t in dict.fromkeys([eot_token, tokenizer.eos_token]) if t]
    space_prefix = _adds_space_prefix(tokenizer_json) if kind == "llama" else None
    return TokenizerFacts(kind, pre, tokens, types, scores, space_prefix, eot_id, eot_token, template, stops)


def _adds_space_prefix(tokenizer_json: dict[str, Any]) -> bool:
    """Whether the tokenizer puts "▁" before the text: a Prepend normalizer (Llama 2, Mistral) or a Metaspace
    pre-tokenizer that prepends. llama.cpp prepends by default, which Gemma's tokenizer does not."""

    def steps(node: Any, key: str) -> list[dict[str, Any]]:
        if not isinstance(node, dict):
            return []
        return node.get(key, [node]) if node.get("type") == "Sequence" else [node]

    normalizers = steps(tokenizer_json.get("normalizer"), "normalizers")
    pre = steps(tokenizer_json.get("pre_tokenizer"), "pretokenizers")
    return any(n.get("type") == "Prepend" for n in normalizers) or any(
        p.get("type") == "Metaspace" and p.get("prepend_scheme", "always") != "never" for p in pre
    )


def write_tokenizer(writer: Any, folder: Path, facts: TokenizerFacts) -> None:
    import gguf

    writer.add_tokenizer_model(facts.model)
    if facts.pre:
        writer.add_tokenizer_pre(facts.pre)
    writer.add_token_list(facts.tokens)
    writer.add_token_types(facts.types)
    if facts.scores is not None:
        writer.add_token_scores(facts.scores)
    if facts.add_space_prefix is not None:
        writer.add_add_space_prefix(facts.add_space_prefix)
    special = gguf.SpecialVocab(folder, load_merges=facts.model == "gpt2", n_vocab=len(facts.tokens))
    if facts.model == "gpt2" and not special.merges:
        raise ExportError(f"{folder / 'tokenizer.json'}: a BPE tokenizer without merges")
    special.add_to_gguf(writer, quiet=True)
    if special.chat_template is None and facts.chat_template:
        writer.add_chat_template(facts.chat_template)
    if facts.eot_id is not None:
        writer.add_eot_token_id(facts.eot_id)
