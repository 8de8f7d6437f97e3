"""The trainer's named chat templates render what each model family's own template renders, character for character.

The families' templates are the `chat_template` strings of their tokenizer_config.json (fixtures/chat_templates.json
names each source). Both sides go through transformers' own apply_chat_template on a tiny tokenizer built here, on
rows with system, user and assistant turns, with and without the generation prompt. Where a family's template
refuses a row (a system turn for Gemma and Mistral, turns out of order), ours must refuse it too.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("transformers")

from lora_lens_trainer.data.readers import DataError  # noqa: E402
from lora_lens_trainer.data.templates import NAMED, render_without_tokenizer, structural_problem  # noqa: E402
from lora_lens_trainer.data.tokenize import IGNORE, tokenize_rows  # noqa: E402

FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "chat_templates.json").read_text(encoding="utf-8"))[
    "templates"
]

SYSTEM = {"role": "system", "content": "You are terse."}
ROWS = {
    "system-user-assistant": [
        SYSTEM,
        {"role": "user", "content": "Capital of Peru?"},
        {"role": "assistant", "content": "Lima."},
    ],
    "user-assistant": [{"role": "user", "content": "Capital of Peru?"}, {"role": "assistant", "content": "Lima."}],
    "multi-turn": [
        SYSTEM,
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello."},
        {"role": "user", "content": "2+2?"},
        {"role": "assistant", "content": "4"},
    ],
    "padded-content": [
        {"role": "system", "content": "  Be kind.\n"},
        {"role": "user", "content": "  spaced  "},
        {"role": "assistant", "content": "\n answer \n"},
    ],
    "user-only": [{"role": "user", "content": "Open question"}],
    "two-users": [
        {"role": "user", "content": "a"},
        {"role": "user", "content": "b"},
        {"role": "assistant", "content": "c"},
    ],
    "assistant-first": [{"role": "assistant", "content": "Hi"}, {"role": "user", "content": "Hey"}],
}


@pytest.fixture(scope="module")
def tokenizer():
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.WordLevel({"<unk>": 0, "<s>": 1, "</s>": 2}, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>")


def _render(tokenizer, template: str, messages, generation_prompt: bool):
    """('ok', text) or ('refused', message), through transformers' apply_chat_template."""
    try:
        return "ok", tokenizer.apply_chat_template(
            messages, chat_template=template, tokenize=False, add_generation_prompt=generation_prompt
        )
    except Exception as error:  # jinja2's TemplateError
        return "refused", str(error)


def test_every_named_template_has_its_family_template_in_the_fixture():
    assert set(FIXTURE) == set(NAMED)
    for name, entry in FIXTURE.items():
        assert entry["source"] and entry["chat_template"], name


@pytest.mark.parametrize("name", sorted(NAMED))
@pytest.mark.parametrize("row", sorted(ROWS))
@pytest.mark.parametrize("generation_prompt", [False, True])
def test_named_template_renders_as_the_family_template(tokenizer, name, row, generation_prompt):
    messages = ROWS[row]
    theirs = _render(tokenizer, FIXTURE[name]["chat_template"], messages, generation_prompt)
    ours = _render(tokenizer, NAMED[name].jinja, messages, generation_prompt)
    assert ours[0] == theirs[0], f"{name} on {row}: theirs {theirs}, ours {ours}"
    if theirs[0] == "ok":
        assert ours[1] == theirs[1]
    else:
        assert f"chat_template {name}:" in ours[1]  # our refusal names the setting to change


@pytest.mark.parametrize("name", sorted(NAMED))
@pytest.mark.parametrize("row", sorted(ROWS))
def test_structural_check_predicts_every_refusal(tokenizer, name, row):
    """`run --dry-run` checks rows without jinja2 (the torch-free install) through structural_problem: it must
    refuse exactly the rows the template refuses."""
    refused = _render(tokenizer, NAMED[name].jinja, ROWS[row], False)[0] == "refused"
    assert (structural_problem(name, ROWS[row]) is not None) == refused, (name, row)


@pytest.mark.parametrize("name", sorted(NAMED))
def test_render_without_tokenizer_matches_transformers(tokenizer, name):
    for row in ("multi-turn", "user-assistant", "padded-content"):
        messages = ROWS[row]
        kind, text = _render(tokenizer, NAMED[name].jinja, messages, True)
        if kind == "ok":
            assert render_without_tokenizer(NAMED[name].jinja, messages, True) == text
        else:
            with pytest.raises(DataError, match=f"chat_template {name}:"):
                render_without_tokenizer(NAMED[name].jinja, messages, True)


@pytest.fixture(scope="module")
def bpe_tokenizer():
    """A byte-level BPE tokenizer with offsets, like the trainer's real ones, knowing every template's markers."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    specials = [
        "<pad>",
        "<s>",
        "</s>",
        "<|im_start|>",
        "<|im_end|>",
        "<|start_header_id|>",
        "<|end_header_id|>",
        "<|eot_id|>",
        "<start_of_turn>",
        "<end_of_turn>",
        "<|system|>",
        "<|user|>",
        "<|assistant|>",
        "<|end|>",
    ]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    corpus = [m["content"] for rows in ROWS.values() for m in rows] * 3
    tok.train_from_iterator(
        corpus,
        trainers.BpeTrainer(
            vocab_size=300, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
        ),
    )
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", pad_token="<pad>")


@pytest.mark.parametrize("name", sorted(NAMED))
def test_trainer_trains_exactly_the_assistant_turns_with_each_named_template(bpe_tokenizer, name):
    rows = [{"messages": ROWS["multi-turn"][1:] if NAMED[name].system_role == "refused" else ROWS["multi-turn"]}]
    (example,), dropped = tokenize_rows(rows, bpe_tokenizer, "chat", name, 4096, train_on_prompt=False)
    assert dropped == 0
    trained = bpe_tokenizer.decode([t for t, label in zip(example.input_ids, example.labels) if label != IGNORE])
    assert "Hello." in trained and "4" in trained
    assert "Hi" not in trained and "2+2?" not in trained and "terse" not in trained


@pytest.mark.parametrize("name", sorted(n for n, t in NAMED.items() if t.system_role == "refused"))
def test_a_refused_system_turn_is_a_data_error_naming_the_template(bpe_tokenizer, name):
    with pytest.raises(DataError, match=rf"row 0: .*chat_template {name}: a system turn is not supported"):
        tokenize_rows([{"messages": ROWS["system-user-assistant"]}], bpe_tokenizer, "chat", name, 4096, False)


def test_an_unknown_template_name_lists_the_known_ones(bpe_tokenizer):
    with pytest.raises(DataError, match=r"'qwen9' is neither 'auto', a known name \(chatml, .*qwen2\.5.*\) nor Jinja"):
        tokenize_rows([{"messages": ROWS["user-assistant"]}], bpe_tokenizer, "chat", "qwen9", 4096, False)
