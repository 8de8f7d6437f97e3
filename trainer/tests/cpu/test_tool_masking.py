"""The users' tools' chat masking, reproduced token by token (issue 25) on a real byte-level BPE tokenizer with the
ChatML template (eos <|im_end|>): axolotl's roles_to_train x train_on_eos (turn | last | all | none, with and without
train_on_inputs) and LLaMA-Factory's mask_history (with and without train_on_prompt). The expected labels are derived
here another way than data/masking.py finds them: from the character ranges of each turn's content in the rendered
text and the tokens' offsets (axolotl's content tokens, and the eos right after each content), or from the assistant
turns' spans (LLaMA-Factory's responses). The preview verb shows the same labels for a plan that carries the settings."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("transformers")

from lora_lens_trainer.data.masking import Masking  # noqa: E402
from lora_lens_trainer.data.tokenize import IGNORE, tokenize_rows  # noqa: E402
from tests.plans import make_plan  # noqa: E402
from tests.tiny_model import build_tokenizer, write_jsonl  # noqa: E402

TRAINER = Path(__file__).resolve().parents[2]
CONVERSATION = [
    {"role": "system", "content": "You answer in one short sentence."},
    {"role": "user", "content": "What is the capital of France?"},
    {"role": "assistant", "content": "The capital of France is Paris."},
    {"role": "user", "content": "And of Italy?"},
    {"role": "assistant", "content": "The capital of Italy is Rome."},
]


@pytest.fixture(scope="module")
def tok(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from transformers import AutoTokenizer

    folder = tmp_path_factory.mktemp("masking-tok")
    build_tokenizer(folder, [m["content"] for m in CONVERSATION] * 4)
    return AutoTokenizer.from_pretrained(folder)


def _labels(tok: Any, masking: Masking, train_on_prompt: bool = False) -> tuple[list[int], list[int]]:
    (ex,), dropped = tokenize_rows([{"messages": CONVERSATION}], tok, "chat", "auto", 4096, train_on_prompt, masking)
    assert dropped == 0
    return ex.input_ids, ex.labels


def _offsets(tok: Any) -> tuple[str, list[int], list[tuple[int, int]]]:
    text = tok.apply_chat_template(CONVERSATION, tokenize=False)
    enc = tok(text, add_special_tokens=False, return_offsets_mapping=True)
    return text, list(enc["input_ids"]), [tuple(o) for o in enc["offset_mapping"]]


def _axolotl_expected(
    tok: Any, roles: set[str], eos_mode: str, train_all: bool, skip_system: bool = False
) -> list[int]:
    """Content tokens of trained turns, and the <|im_end|> that closes each content as the mode says."""
    text, ids, offsets = _offsets(tok)
    labels = [IGNORE] * len(ids)
    cursor = 0
    closing: list[int] = []
    for message in CONVERSATION:
        start = text.index(message["content"], cursor)
        end = start + len(message["content"])
        cursor = end
        if skip_system and message["role"] == "system":
            continue
        trained = train_all or message["role"] in roles
        for k, (s, e) in enumerate(offsets):
            if trained and start <= s and e <= end and e > s:
                labels[k] = ids[k]
        eos = next(k for k, (s, _) in enumerate(offsets) if s >= end)
        assert ids[eos] == tok.eos_token_id  # ChatML: <|im_end|> right after the content
        closing.append(eos)
        if eos_mode == "all" or (eos_mode == "turn" and trained):
            labels[eos] = ids[eos]
    if eos_mode == "last":
        labels[closing[-1]] = ids[closing[-1]]
    return labels


@pytest.mark.parametrize("roles", [("assistant",), ("user", "assistant"), ("system",)])
@pytest.mark.parametrize("eos_mode", ["turn", "last", "all", "none"])
@pytest.mark.parametrize("train_all", [False, True])
def test_axolotl_roles_to_train_and_train_on_eos(tok: Any, roles: tuple[str, ...], eos_mode: str, train_all: bool):
    ids, labels = _labels(tok, Masking(roles_to_train=roles, train_on_eos=eos_mode), train_on_prompt=train_all)
    assert ids == _offsets(tok)[1]
    assert labels == _axolotl_expected(tok, set(roles), eos_mode, train_all)


def test_axolotl_defaults_fill_the_setting_not_given(tok: Any) -> None:
    """Either key alone takes axolotl's default for the other ([assistant], turn)."""
    _, only_eos = _labels(tok, Masking(train_on_eos="turn"))
    _, only_roles = _labels(tok, Masking(roles_to_train=("assistant",)))
    assert only_eos == only_roles == _axolotl_expected(tok, {"assistant"}, "turn", False)
    trained = tok.decode([t for t in only_eos if t != IGNORE])
    assert trained == "The capital of France is Paris.<|im_end|>The capital of Italy is Rome.<|im_end|>"


def test_axolotl_finds_no_leading_system_turn_under_mistral_and_gemma_tokenizers(tmp_path: Path, tok: Any) -> None:
    """axolotl's find_turn skips a first system turn when the tokenizer's path names Mistral or Gemma."""
    from transformers import AutoTokenizer

    tok.save_pretrained(tmp_path / "tiny-gemma-tokenizer")
    gemma = AutoTokenizer.from_pretrained(tmp_path / "tiny-gemma-tokenizer")
    masking = Masking(roles_to_train=("system", "assistant"), train_on_eos="all")
    assert _labels(gemma, masking)[1] == _axolotl_expected(tok, {"system", "assistant"}, "all", False, skip_system=True)
    assert _labels(tok, masking)[1] == _axolotl_expected(tok, {"system", "assistant"}, "all", False)


def _assistant_spans(tok: Any) -> list[tuple[int, int]]:
    """Each assistant response as LLaMA-Factory's target is for ChatML: its content and the turn's closing text."""
    text = tok.apply_chat_template(CONVERSATION, tokenize=False)
    spans, cursor = [], 0
    for message in CONVERSATION:
        start = text.index(message["content"], cursor)
        cursor = start + len(message["content"])
        if message["role"] == "assistant":
            spans.append((start, cursor + len("<|im_end|>\n")))
    return spans


@pytest.mark.parametrize("train_on_prompt", [False, True])
def test_llama_factory_mask_history_trains_the_last_response_only(tok: Any, train_on_prompt: bool) -> None:
    _, ids, offsets = _offsets(tok)
    first, last = _assistant_spans(tok)

    def inside(span: tuple[int, int], s: int, e: int) -> bool:
        return span[0] <= s and e <= span[1] and e > s

    expected = [
        i if inside(last, s, e) or (train_on_prompt and not inside(first, s, e)) else IGNORE
        for i, (s, e) in zip(ids, offsets)
    ]
    _, labels = _labels(tok, Masking(mask_history=True), train_on_prompt)
    assert labels == expected
    _, ours = _labels(tok, Masking(), train_on_prompt)
    assert ours != labels  # without mask_history the first response trains too
    if not train_on_prompt:
        assert tok.decode([t for t in labels if t != IGNORE]) == "The capital of Italy is Rome.<|im_end|>\n"


def test_the_preview_shows_the_masking_the_plan_carries(tmp_path: Path, tok: Any) -> None:
    folder = tmp_path / "tok"
    tok.save_pretrained(folder)
    data = write_jsonl(tmp_path / "train.jsonl", [{"messages": CONVERSATION}])
    for extra, masking in (
        ({"roles_to_train": ["user"], "train_on_eos": "last"}, Masking(roles_to_train=("user",), train_on_eos="last")),
        ({"mask_history": True}, Masking(mask_history=True)),
    ):
        plan = make_plan(str(folder), str(data), data__chat_template="auto", data__max_length=4096)
        plan["data"].update(extra)
        (tmp_path / "plan.json").write_text(json.dumps(plan), encoding="utf-8")
        done = subprocess.run(
            [sys.executable, "-m", "lora_lens_trainer", "preview", "--plan", str(tmp_path / "plan.json")],
            cwd=TRAINER,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        rendering = json.loads(done.stdout)["rows"][0]["rendering"]
        _, labels = _labels(tok, masking)
        assert rendering["trained"] == [label != IGNORE for label in labels]
