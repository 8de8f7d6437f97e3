"""The doctor's report against schemas/doctor.schema.json: the TypeScript side validates what it reads with the same
schema (test/run/doctor.test.ts). Runs with or without torch (the report is shaped the same either way)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lora_lens_trainer.doctor import REQUIRED_PACKAGES, report

SCHEMA = Path(__file__).resolve().parents[2] / "schemas" / "doctor.schema.json"


def test_report_matches_the_schema() -> None:
    jsonschema = pytest.importorskip("jsonschema", reason="jsonschema is not installed in this interpreter")
    out = report()
    jsonschema.validate(json.loads(json.dumps(out)), json.loads(SCHEMA.read_text()))


def test_required_packages_are_listed_and_probed() -> None:
    out = report()
    assert out["required_packages"] == list(REQUIRED_PACKAGES)
    for name in REQUIRED_PACKAGES:
        assert set(out["packages"][name]) == {"installed", "version", "error"}
    if not out["packages"]["torch"]["installed"]:
        # Nothing is claimed about CUDA without torch.
        assert out["cuda"] == {"available": False, "version": None, "gpus": []}


def test_tools_are_found_by_their_metadata_without_being_imported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os
    import sys

    jsonschema = pytest.importorskip("jsonschema", reason="jsonschema is not installed in this interpreter")
    # A distribution's metadata as pip leaves it, and its console script on PATH; no `axolotl` module exists at all,
    # so a doctor that imported the package would report it absent.
    dist = tmp_path / "site" / "axolotl-0.9.2.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: axolotl\nVersion: 0.9.2\n")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "axolotl"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    out = report()
    assert out["tools"]["axolotl"] == {"installed": True, "version": "0.9.2", "executable": str(script)}
    assert out["tools"]["llama-factory"]["installed"] is False
    assert "axolotl" not in sys.modules
    assert out["gpu_count"] == len(out["cuda"]["gpus"])
    jsonschema.validate(json.loads(json.dumps(out)), json.loads(SCHEMA.read_text()))


def test_gguf_is_reported_with_its_distribution_version() -> None:
    """gguf (what `lora-lens export --format gguf` writes with) has no __version__: the version comes from its
    distribution's metadata, so the doctor can say which one is installed."""
    import importlib.metadata

    gguf = report()["packages"]["gguf"]
    try:
        installed = importlib.metadata.version("gguf")
    except importlib.metadata.PackageNotFoundError:
        assert gguf["installed"] is False and gguf["version"] is None
        return
    assert gguf == {"installed": True, "version": installed, "error": None}
