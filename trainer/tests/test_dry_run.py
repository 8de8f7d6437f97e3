"""`python -m lora_lens_trainer run --dry-run`: one JSON line, exit 0 or 1, nothing written, and no torch needed.

Each run here blocks torch, transformers and (unless a test wants it) jinja2 from being imported, as on the
torch-free install, so a dry run that reached for them fails these tests.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.plans import make_plan

TRAINER = Path(__file__).resolve().parents[1]

_BLOCK = """
import sys
class _Block:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in BLOCKED:
            raise ImportError(f'{name} is blocked in this test (the torch-free install)')
sys.meta_path.insert(0, _Block())
from lora_lens_trainer.__main__ import main
sys.exit(main(sys.argv[1:]))
"""


def dry_run(plan: dict, tmp_path: Path, *, jinja: bool = False) -> tuple[int, dict]:
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps(plan), encoding="utf-8")
    blocked = {"torch", "transformers", "tokenizers", "safetensors", "peft"} | (set() if jinja else {"jinja2"})
    run_dir = tmp_path / "runs" / "r1"
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            f"BLOCKED = {sorted(blocked)!r}\n{_BLOCK}",
            "run",
            "--plan",
            str(plan_file),
            "--run-dir",
            str(run_dir),
            "--dry-run",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(TRAINER)},
        timeout=120,
    )
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1, result.stdout + result.stderr
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before, "the dry run wrote to disk"
    return result.returncode, json.loads(lines[0])


def write_jsonl(path: Path, rows: list[dict]) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return str(path)


CHAT = [
    {
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Capital of Peru?"},
            {"role": "assistant", "content": "Lima."},
        ]
    }
]
NO_SYSTEM = [{"messages": row["messages"][1:]} for row in CHAT]


def chat_plan(tmp_path: Path, rows: list[dict] = CHAT, template: str = "chatml", **overrides) -> dict:
    train = write_jsonl(tmp_path / "train.jsonl", rows)
    plan = make_plan(str(tmp_path / "model"), train, "lora", out=str(tmp_path / "out"), **overrides)
    plan["data"]["format"] = "chat"
    plan["data"]["chat_template"] = template
    return plan


@pytest.mark.parametrize("jinja", [False, True])
def test_a_plan_the_trainer_starts_is_ok(tmp_path, jinja):
    assert dry_run(chat_plan(tmp_path), tmp_path, jinja=jinja) == (0, {"ok": True})


@pytest.mark.parametrize("template", ["qwen2", "qwen2.5", "llama2", "llama3", "mistral", "gemma", "phi3", "zephyr"])
def test_every_named_template_is_known(tmp_path, template):
    assert dry_run(chat_plan(tmp_path, NO_SYSTEM, template), tmp_path) == (0, {"ok": True})


def test_an_unknown_template_name_is_a_problem(tmp_path):
    code, out = dry_run(chat_plan(tmp_path, template="vicuna"), tmp_path)
    assert code == 1 and out["ok"] is False
    assert any("'vicuna' is neither 'auto', a known name" in p for p in out["problems"])


@pytest.mark.parametrize("jinja", [False, True])
@pytest.mark.parametrize("template", ["gemma", "mistral"])
def test_a_system_turn_under_a_template_without_one_is_a_problem(tmp_path, template, jinja):
    code, out = dry_run(chat_plan(tmp_path, CHAT * 7, template), tmp_path, jinja=jinja)
    assert code == 1
    assert f"row 0: chat_template {template}: a system turn is not supported" in out["problems"][0]
    assert "and 2 more rows like these" in out["problems"][-1]


def test_inline_jinja_that_raises_is_a_problem_where_jinja2_is_installed(tmp_path):
    pytest.importorskip("jinja2")
    template = "{% if messages|length > 2 %}{{ raise_exception('too long') }}{% endif %}{{ messages[0]['content'] }}"
    code, out = dry_run(chat_plan(tmp_path, CHAT, template), tmp_path, jinja=True)
    assert code == 1 and out["problems"] == [f"data.train: {tmp_path / 'train.jsonl'}: row 0: too long"]
    assert dry_run(chat_plan(tmp_path, CHAT, template), tmp_path, jinja=False) == (0, {"ok": True})


@pytest.mark.parametrize(
    "key,value,expected",
    [
        ("use_dora", True, "lora.use_dora is not supported by the bundled trainer"),
        ("bias", "all", "lora.bias other than none is not supported"),
        ("bias", "lora_only", 'set lora.bias: "none"'),
        ("target_modules", ["q_proj", "lm_head"], "'lm_head' is the output head"),
        ("target_modules", "model\\.embed_tokens", "selects 'model.embed_tokens'"),
        ("target_modules", "(", "not a valid regular expression"),
    ],
)
def test_lora_settings_the_trainer_refuses_are_problems(tmp_path, key, value, expected):
    code, out = dry_run(chat_plan(tmp_path, **{f"lora__{key}": value}), tmp_path)
    assert code == 1 and any(expected in p for p in out["problems"]), out


def test_data_problems_name_the_file_and_row(tmp_path):
    rows = [{"messages": [{"role": "user", "content": "hi"}]}, {"messages": "hello"}, {"text": "x"}]
    code, out = dry_run(chat_plan(tmp_path, rows), tmp_path)
    train = tmp_path / "train.jsonl"
    assert code == 1 and out["problems"] == [
        f"data.train: {train}: row 0: no assistant message to train on",
        f"data.train: {train}: row 1: 'messages' must be a non-empty list of {{role, content}}",
        f"data.train: {train}: row 2: 'messages' must be a non-empty list of {{role, content}}",
    ]
    plan = chat_plan(tmp_path)
    plan["data"]["train"] = str(tmp_path / "missing.jsonl")
    plan["data"]["format"] = "instruction"
    assert dry_run(plan, tmp_path)[1]["problems"] == [f"data.train: {tmp_path / 'missing.jsonl'}: no such file"]
    plan["data"]["train"] = write_jsonl(tmp_path / "instr.jsonl", [{"prompt": "a", "completion": 3}])
    assert dry_run(plan, tmp_path)[1]["problems"] == [
        f"data.train: {tmp_path / 'instr.jsonl'}: row 0: field 'completion' must be a string (data.format instruction needs it)"
    ]


def test_a_dataset_that_is_not_a_local_file_is_left_to_the_trainer(tmp_path):
    plan = chat_plan(tmp_path)
    plan["data"]["train"] = "hf://datasets/someone/something"
    assert dry_run(plan, tmp_path) == (0, {"ok": True})


def test_auto_template_on_a_local_model_without_one_is_a_problem(tmp_path):
    model = tmp_path / "model"
    model.mkdir()
    (model / "tokenizer_config.json").write_text(json.dumps({"eos_token": "</s>"}), encoding="utf-8")
    code, out = dry_run(chat_plan(tmp_path, template="auto"), tmp_path)
    assert code == 1 and "has no chat template" in out["problems"][0]
    (model / "tokenizer_config.json").write_text(json.dumps({"chat_template": "{{ x }}"}), encoding="utf-8")
    assert dry_run(chat_plan(tmp_path, template="auto"), tmp_path) == (0, {"ok": True})


def test_a_plan_that_breaks_the_schema_names_the_key(tmp_path):
    plan = chat_plan(tmp_path)
    plan["lora"]["r"] = "sixteen"
    code, out = dry_run(plan, tmp_path)
    assert code == 1 and len(out["problems"]) == 1 and "lora.r:" in out["problems"][0]
