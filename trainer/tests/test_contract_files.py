"""The trainer's side of schemas/exit-codes.json, schemas/run-folder.json and schemas/merge-report.schema.json:
the exit codes are the ones the code returns, a real CPU run's folder holds only listed entries (and every entry the
trainer always writes), and the merge report, saved and printed, matches its schema."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from lora_lens_trainer import exit_codes, schema_check
from lora_lens_trainer.__main__ import main

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"


def _load(name: str) -> dict:
    return json.loads((SCHEMAS / name).read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    "data,schema",
    [
        ("exit-codes.json", "exit-codes.schema.json"),
        ("run-folder.json", "run-folder.schema.json"),
        ("trainer-capabilities.json", "trainer-capabilities.schema.json"),
    ],
)
def test_each_listing_matches_its_schema(data, schema):
    assert schema_check.errors(_load(schema), _load(data)) == []
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.Draft7Validator.check_schema(_load(schema))
    jsonschema.validate(_load(data), _load(schema))


def test_the_merge_report_schema_is_a_valid_schema():
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.Draft7Validator.check_schema(_load("merge-report.schema.json"))


def test_exit_codes_are_the_trainers():
    listed = {c["name"]: c["code"] for c in _load("exit-codes.json")["codes"]}
    assert len(set(listed.values())) == len(listed)
    ours = {
        name.lower(): value for name, value in vars(exit_codes).items() if name.isupper() and isinstance(value, int)
    }
    assert {k: v for k, v in listed.items() if k != "usage"} == ours
    with pytest.raises(SystemExit) as usage:
        main(["run", "--plan"])
    assert usage.value.code == listed["usage"]


def test_a_report_off_the_schema_is_refused_before_it_is_printed():
    from lora_lens_trainer.merge import MergeReportError, checked_report

    with pytest.raises(MergeReportError, match="merged_path"):
        checked_report({"merge_base": "original"})


def _listed_pattern(path: str) -> re.Pattern[str]:
    return re.compile("^" + re.escape(path).replace("step\\-N", r"step-\d+") + "$")


def _unlisted(run_dir: Path, listing: dict) -> list[str]:
    """Paths in the run folder no entry names. Below an open folder (adapter/, merged/, model/) anything goes: those
    are the formats of PEFT and transformers."""
    entries = listing["entries"]
    patterns = [_listed_pattern(e["path"]) for e in entries]
    transient = [re.compile(p) for p in listing["transient"]["patterns"]]
    opaque = [_listed_pattern(e["path"]) for e in entries if e.get("open")]
    out = []
    for p in sorted(run_dir.rglob("*")):
        rel = p.relative_to(run_dir).as_posix()
        parents = [rel.rsplit("/", k)[0] for k in range(1, rel.count("/") + 1)]
        if any(t.match(part) for t in transient for part in rel.split("/")):
            continue
        if any(o.match(parent) for o in opaque for parent in parents):
            continue
        if not any(pat.match(rel) for pat in patterns):
            out.append(rel)
    return out


def test_a_cpu_run_and_its_merge_write_only_listed_entries_and_a_report_on_the_schema(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("peft")
    from tests.cpu.trainer_process import TRAINER_DIR, env, train, write_plan
    from tests.plans import make_plan
    from tests.tiny_model import build_model_dir, chat_rows, write_jsonl

    model = build_model_dir(tmp_path / "tiny", hidden=64, layers=2)
    train_file = write_jsonl(tmp_path / "train.jsonl", chat_rows(16))
    plan = make_plan(
        str(model), str(train_file), "lora", training__max_steps=4, training__save_steps=2, training__learning_rate=1e-2
    )
    plan["output"] = {**plan["output"], "dir": str(tmp_path), "merge": True, "merge_dtype": "float32"}
    run_dir = tmp_path / "runs" / "r1"
    write_plan(run_dir, plan)
    code, events, stderr = train(run_dir)
    assert code == exit_codes.OK, stderr
    listing = _load("run-folder.json")
    assert _unlisted(run_dir, listing) == []
    for entry in listing["entries"]:
        if entry["writer"] == "trainer" and entry["when"] == "always":
            assert (run_dir / entry["path"]).exists(), entry["path"]
    assert (run_dir / "checkpoints" / "step-0000002" / "trainer_state.json").is_file()
    schema = _load("merge-report.schema.json")
    saved = json.loads((run_dir / "merged" / "merge_report.json").read_text(encoding="utf-8"))
    assert schema_check.errors(schema, saved) == []
    # The merge verb's last stdout line is the report the CLI and the editor parse.
    proc = subprocess.run(
        [sys.executable, "-m", "lora_lens_trainer", "merge", "--run-dir", str(run_dir)],
        cwd=TRAINER_DIR,
        env=env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == exit_codes.OK, proc.stderr
    printed = json.loads(proc.stdout.strip().splitlines()[-1])
    assert schema_check.errors(schema, printed) == []
    assert printed["merged_path"] == str(run_dir / "merged")
    assert _unlisted(run_dir, listing) == []
