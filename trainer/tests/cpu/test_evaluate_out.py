"""`evaluate --out FOLDER --replace` replaces FOLDER whole once the evaluation is complete (atomic.staged_dir):
only an earlier evaluation may be replaced, never a folder holding other files, the run folder itself or a folder
holding it. Before, any existing --out was called 'an earlier evaluation' and --replace deleted it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("torch", reason="the evaluation tests train with the real trainer: they need torch")

from tests.cpu.test_evaluate import evaluate  # noqa: E402
from tests.cpu.trainer_process import train, write_plan  # noqa: E402
from tests.plans import make_plan  # noqa: E402
from tests.tiny_model import build_model_dir, chat_rows, write_jsonl  # noqa: E402


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("evaluate-out")
    model = build_model_dir(root / "tiny-llama", hidden=64, layers=2)
    rows = write_jsonl(root / "train.jsonl", chat_rows(8))
    run = root / "run"
    plan = make_plan(str(model), str(rows), eval_path=str(rows), out=str(root), precision="fp32")
    plan["training"].update(max_steps=2, save_steps=1000)
    write_plan(run, plan)
    rc, events, stderr = train(run)
    assert rc == 0 and events[-1]["status"] == "completed", stderr[-3000:]
    return run


def test_replace_never_deletes_a_folder_of_other_files(run_dir: Path, tmp_path: Path) -> None:
    mine = tmp_path / "results"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine", encoding="utf-8")
    proc = evaluate(run_dir, "--out", str(mine), "--replace", "--max-new-tokens", "2")
    assert proc.returncode == 1
    assert f"{mine} holds files an evaluation did not write (notes.txt)" in proc.stderr, proc.stderr[-2000:]
    assert "name a new folder" in proc.stderr
    assert (mine / "notes.txt").read_text(encoding="utf-8") == "mine"


@pytest.mark.parametrize("which", ["run", "parent"])
def test_the_run_folder_is_never_the_out_folder(run_dir: Path, which: str) -> None:
    out = run_dir if which == "run" else run_dir.parent
    before = sorted(p.name for p in out.iterdir())
    proc = evaluate(run_dir, "--out", str(out), "--replace", "--max-new-tokens", "2")
    assert proc.returncode == 1 and "name a new folder" in proc.stderr, proc.stderr[-2000:]
    assert sorted(p.name for p in out.iterdir()) == before


def test_an_earlier_evaluation_is_still_replaced(run_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "eval"
    for _ in range(2):
        proc = evaluate(run_dir, "--out", str(out), "--replace", "--max-new-tokens", "2", "--rows", "2")
        assert proc.returncode == 0, proc.stderr[-2000:]
    assert sorted(p.name for p in out.iterdir()) == ["predictions.jsonl", "report.json"]


def _strict_json(text: str) -> dict:
    def refuse(constant: str) -> None:
        raise ValueError(f"{constant} is not JSON")

    return json.loads(text, parse_constant=refuse)


def test_a_diverged_run_is_reported_in_json_with_null_figures(run_dir: Path, tmp_path: Path) -> None:
    """A run whose weights went NaN (an fp16 overflow) has a NaN loss and an infinite perplexity: the report (stdout's
    last line, report.json) is still JSON that lora-lens eval and the run panel parse (JSON has no NaN or Infinity;
    Python's json writes them bare), with null where a figure is not a number."""
    import shutil

    from safetensors.torch import load_file, save_file

    diverged = tmp_path / "diverged"
    shutil.copytree(run_dir, diverged)
    plan = json.loads((diverged / "plan.json").read_text())
    plan["output"]["dir"] = str(tmp_path)
    (diverged / "plan.json").write_text(json.dumps(plan))
    weights = diverged / "adapter" / "adapter_model.safetensors"
    state = load_file(weights)
    save_file({k: v.fill_(float("nan")) for k, v in state.items()}, weights)
    proc = evaluate(diverged, "--max-new-tokens", "2", "--rows", "2")
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = _strict_json(proc.stdout.strip().splitlines()[-1])
    assert report["loss"]["tuned"]["loss"] is None and report["loss"]["tuned"]["perplexity"] is None
    assert isinstance(report["loss"]["base"]["loss"], float)
    assert _strict_json((diverged / "eval" / "report.json").read_text()) == report
