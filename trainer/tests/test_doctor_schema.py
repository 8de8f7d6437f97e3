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
