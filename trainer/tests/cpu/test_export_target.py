"""Where an export writes: `--out` never replaces what the export did not write. A merged folder replaced an
existing --out folder whole (staged_dir moves the old one aside and deletes it), so `--out ~/models` or the base
model's own folder lost every file in it; a GGUF replaced any file. Refused with what to do; an earlier export of
the same kind is still replaced (re-exporting to the same place)."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("torch", reason="the export tests train with the real trainer: they need torch")
pytest.importorskip("transformers", reason="the export tests need transformers")
pytest.importorskip("gguf", reason="the GGUF export needs the gguf package (scripts/setup-trainer-venv.sh)")

from tests.cpu.test_export import _report, export, train_run  # noqa: E402


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return train_run(tmp_path_factory.mktemp("target"), "llama", "lora", steps=2)


def test_a_folder_holding_other_files_is_not_replaced(run_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "models"
    out.mkdir()
    (out / "notes.txt").write_text("mine", encoding="utf-8")
    proc = export(run_dir, "--format", "merged", "--out", str(out))
    assert proc.returncode == 1
    assert f"{out} already holds files this export did not write (notes.txt)" in proc.stderr, proc.stderr[-2000:]
    assert "name a new folder" in proc.stderr
    assert (out / "notes.txt").read_text(encoding="utf-8") == "mine"


@pytest.mark.parametrize("which", ["run", "model"])
def test_the_run_folder_and_the_base_model_are_never_the_target(run_dir: Path, which: str) -> None:
    import json

    model_dir = Path(json.loads((run_dir / "plan.json").read_text())["model"]["name_or_path"])
    out = run_dir if which == "run" else model_dir
    before = sorted(p.name for p in out.iterdir())
    proc = export(run_dir, "--format", "merged", "--out", str(out))
    assert proc.returncode == 1 and "name a new folder" in proc.stderr, proc.stderr[-2000:]
    assert sorted(p.name for p in out.iterdir()) == before


def test_a_gguf_never_replaces_another_kind_of_file(run_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "train.jsonl"
    out.write_text('{"text": "my data"}\n', encoding="utf-8")
    proc = export(run_dir, "--out", str(out))
    assert proc.returncode == 1
    assert f"{out} exists and is not a GGUF file" in proc.stderr, proc.stderr[-2000:]
    assert out.read_text(encoding="utf-8") == '{"text": "my data"}\n'


def test_an_earlier_export_is_replaced(run_dir: Path, tmp_path: Path) -> None:
    for fmt, out in (("merged", tmp_path / "merged"), ("gguf", tmp_path / "model.gguf")):
        first = _report(export(run_dir, "--format", fmt, "--out", str(out)))
        again = _report(export(run_dir, "--format", fmt, "--out", str(out)))
        assert first["path"] == again["path"] == str(out) and out.exists()


def test_the_printed_reports_match_the_schema_and_a_wrong_one_is_never_printed(run_dir: Path, tmp_path: Path) -> None:
    """schemas/export-report.schema.json is the report's contract with lora-lens export and the editor: the trainer
    checks it before printing (as the TypeScript side checks it after reading)."""
    from lora_lens_trainer import schema_check
    from lora_lens_trainer.export import ExportReportError
    from lora_lens_trainer.export.run import checked_report

    found = schema_check.find_schema("export-report.schema.json")
    assert found is not None
    schema = schema_check.load_schema(found)
    for fmt, out in (("merged", tmp_path / "m"), ("gguf", tmp_path / "m.q8_0.gguf")):
        report = _report(export(run_dir, "--format", fmt, "--quant", "q8_0", "--out", str(out), "--reference"))
        assert schema_check.errors(schema, report) == [], (fmt, report)
        assert checked_report(report) == report
    with pytest.raises(ExportReportError, match="shards"):
        checked_report({"format": "merged", "method": "lora", "architecture": "x", "path": "/m", "bytes": 1})


def test_a_killed_merged_exports_staging_folder_is_removed_and_nothing_else(run_dir: Path, tmp_path: Path) -> None:
    """A merged export killed by SIGKILL (the OOM killer) leaves `.NAME.tmp-PID/` holding the shards written so far:
    the next export of NAME removes it. Another program's hidden `.x.tmp-N` file in the same folder is not the
    export's to delete. (PIDs past /proc/sys/kernel/pid_max's 4194304 ceiling are never alive.)"""
    dead = 4194305
    folder = tmp_path / "exports"
    staging = folder / f".m-merged.tmp-{dead}"
    staging.mkdir(parents=True)
    (staging / "model.safetensors").write_bytes(b"\0" * 1024)
    foreign = folder / f".notes.txt.tmp-{dead}"
    foreign.write_text("another program's", encoding="utf-8")
    _report(export(run_dir, "--format", "merged", "--out", str(folder / "m-merged")))
    assert not staging.exists()
    assert foreign.read_text(encoding="utf-8") == "another program's"
