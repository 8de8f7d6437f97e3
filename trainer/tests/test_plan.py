import json
import shutil
import subprocess
import sys
import types
from dataclasses import MISSING, fields, is_dataclass
from pathlib import Path
from typing import Literal, Union, get_args, get_origin, get_type_hints

import pytest

from lora_lens_trainer import plan as plan_module
from lora_lens_trainer.plan import PlanError, TrainingPlan, plan_from_dict, plan_schema, read_plan
from tests.plans import make_plan

REPO = Path(__file__).resolve().parents[2]


def test_a_complete_plan_reads_into_typed_fields(tmp_path):
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(make_plan("/m", "/data/train.jsonl", training__max_steps=7)))
    plan = read_plan(path)
    assert plan.training.max_steps == 7
    assert plan.lora is not None and plan.lora.target_modules == "all-linear"
    assert plan.data.eval is None
    assert plan.quantization is None
    assert plan.output.merge_base == "dequantized"
    assert isinstance(plan.lora.lora_alpha, float) and plan.lora.lora_alpha == 16.0


@pytest.mark.parametrize("method", ["full", "lora", "qlora"])
def test_each_method_fixture_reads(method):
    plan = plan_from_dict(make_plan("/m", "/t.jsonl", method=method))
    assert plan.method == method
    assert (plan.lora is None) == (method == "full")
    assert (plan.quantization is None) == (method != "qlora")


def test_target_modules_as_list():
    lora = {
        "r": 4,
        "lora_alpha": 8,
        "lora_dropout": 0,
        "target_modules": ["q_proj", "v_proj"],
        "bias": "none",
        "use_rslora": False,
        "use_dora": False,
    }
    plan = plan_from_dict(make_plan("/m", "/t.jsonl", lora=lora))
    assert plan.lora.target_modules == ["q_proj", "v_proj"]
    assert isinstance(plan.lora.lora_dropout, float)


def test_an_optional_key_absent_takes_the_dataclass_default():
    raw = make_plan("/m", "/t.jsonl")
    raw["model"].pop("load_in_8bit", None)
    assert plan_from_dict(raw).model.load_in_8bit is False
    raw["model"]["load_in_8bit"] = True
    assert plan_from_dict(raw).model.load_in_8bit is True


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda p: p.pop("training"), "training: missing"),
        (lambda p: p.pop("engine"), "engine: missing"),
        (lambda p: p["training"].update(learning_rate="big"), "training.learning_rate: expected number"),
        (lambda p: p["training"].update(learning_rate=0), "training.learning_rate: 0 must be greater than 0"),
        (lambda p: p.update(method="prefix"), 'method: "prefix" is not one of'),
        (lambda p: p["data"].update(max_length=1.5), "data.max_length: expected integer"),
        (lambda p: p["data"].update(max_length=1), "data.max_length: 1 is below the minimum 2"),
        (lambda p: p["data"].update(packing=1), "data.packing: expected boolean"),
        (lambda p: p["data"].update(train="relative/train.jsonl"), 'data.train: "relative/train.jsonl" does not match'),
        (lambda p: p.update(lora=None), 'lora: expected object, got null (when method is "lora")'),
        (
            lambda p: p["training"].update(per_device_train_batch_size=0),
            "per_device_train_batch_size: 0 is below the minimum 1",
        ),
        (
            lambda p: p["lora"].update(target_modules=3),
            'lora.target_modules: 3 is none of: "all-linear"; string; a list of strings',
        ),
        (lambda p: p["output"].update(merge_into="base"), "output.merge_into: not a plan key"),
        (
            lambda p: p["output"].update(merge_base="nf4"),
            'output.merge_base: "nf4" is not one of "dequantized", "original"',
        ),
    ],
)
def test_a_bad_plan_names_the_key(mutate, message):
    plan = make_plan("/m", "/t.jsonl")
    mutate(plan)
    with pytest.raises(PlanError) as caught:
        plan_from_dict(plan)
    assert message in str(caught.value)
    assert message.split(":")[0].split(" ")[-1] in " ".join(caught.value.keys)


def test_every_problem_is_reported_at_once():
    plan = make_plan("/m", "/t.jsonl")
    plan["training"]["learning_rate"] = -1
    plan["data"]["packing"] = "yes"
    with pytest.raises(PlanError) as caught:
        plan_from_dict(plan)
    assert caught.value.keys == ("data.packing", "training.learning_rate")


def test_a_plan_written_before_merge_base_existed_still_reads():
    # Recorded by `lora-lens run` on an H100 before output.merge_base was added: its run folder must still resume.
    plan = read_plan(REPO / "trainer" / "bench" / "e2e_cli_h100" / "plan.json")
    assert plan.output.merge_base == "dequantized"
    raw = make_plan("/m", "/t.jsonl", method="qlora")
    raw["output"]["merge_base"] = "original"
    assert plan_from_dict(raw).output.merge_base == "original"
    del raw["output"]["merge_base"]
    raw["version"] = 2
    with pytest.raises(PlanError, match="version"):
        plan_from_dict(raw)


def test_unreadable_and_non_json_files(tmp_path):
    with pytest.raises(PlanError, match="cannot read plan"):
        read_plan(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(PlanError, match="not JSON"):
        read_plan(bad)


# --- the dataclasses against the schema: a field added on one side only fails here ---


def _schema_types(schema: dict) -> set:
    kinds = schema.get("type", [])
    return set(kinds if isinstance(kinds, list) else [kinds])


def _assert_type_matches(tp, schema: dict, where: str) -> None:
    origin = get_origin(tp)
    if origin is Union or origin is types.UnionType:
        options = [a for a in get_args(tp) if a is not type(None)]
        nullable = len(options) < len(get_args(tp))
        if nullable:
            assert "null" in _schema_types(schema) or {"type": "null"} in schema.get("anyOf", []), (
                f"{where}: Optional here, not nullable in the schema"
            )
            if len(options) == 1:
                # The schema of X | null less its null, against X.
                inner = dict(schema, type=sorted(_schema_types(schema) - {"null"}))
                if "enum" in inner:
                    inner["enum"] = [e for e in inner["enum"] if e is not None]
                _assert_type_matches(options[0], inner, where)
                return
        branches = schema.get("anyOf")
        assert branches and len(branches) == len(options), f"{where}: a Union of {len(options)} here, schema {schema}"
        for option, branch in zip(options, branches):
            _assert_type_matches(option, branch, where)
        return
    assert "null" not in _schema_types(schema), f"{where}: nullable in the schema, not Optional here"
    if origin is Literal:
        allowed = schema["enum"] if "enum" in schema else [schema["const"]]
        assert sorted(map(str, get_args(tp))) == sorted(str(a) for a in allowed if a is not None), (
            f"{where}: {get_args(tp)} vs {allowed}"
        )
    elif origin is list:
        assert _schema_types(schema) == {"array"}, where
        _assert_type_matches(get_args(tp)[0], schema["items"], f"{where}[]")
    elif is_dataclass(tp):
        _assert_dataclass_matches(tp, schema, where)
    else:
        expected = {bool: "boolean", int: "integer", float: "number", str: "string"}[tp]
        assert _schema_types(schema) - {"null"} == {expected}, (
            f"{where}: {tp.__name__} here, {schema.get('type')} in the schema"
        )


def _assert_dataclass_matches(cls, schema: dict, where: str) -> None:
    assert schema.get("additionalProperties") is False, f"{where}: the schema must refuse unknown keys"
    hints = get_type_hints(cls)
    ours = [f.name for f in fields(cls)]
    theirs = list(schema["properties"])
    assert sorted(ours) == sorted(theirs), (
        f"{where or 'plan'}: dataclass {cls.__name__} {sorted(set(ours) ^ set(theirs))} differ from the schema"
    )
    for f in fields(cls):
        required = f.name in schema.get("required", [])
        has_default = f.default is not MISSING or f.default_factory is not MISSING
        assert required != has_default, (
            f"{where}.{f.name}: {'required' if required else 'optional'} in the schema; a default here iff optional"
        )
        _assert_type_matches(hints[f.name], schema["properties"][f.name], f"{where}.{f.name}" if where else f.name)


def test_the_dataclasses_match_the_plan_schema_field_for_field():
    _assert_dataclass_matches(TrainingPlan, plan_schema(), "")


def test_the_drift_check_catches_a_field_the_dataclass_lacks():
    schema = json.loads(json.dumps(plan_schema()))
    schema["properties"]["output"]["properties"]["push_to_hub"] = {"type": "boolean"}
    schema["properties"]["output"]["required"].append("push_to_hub")
    with pytest.raises(AssertionError, match="push_to_hub"):
        _assert_dataclass_matches(TrainingPlan, schema, "")
    schema = json.loads(json.dumps(plan_schema()))
    schema["properties"]["method"]["enum"].append("prefix")
    with pytest.raises(AssertionError, match="method"):
        _assert_dataclass_matches(TrainingPlan, schema, "")


# --- where the schema comes from ---


def _copy_packaged_layout(root: Path, with_schemas: bool) -> Path:
    """What the .vsix holds (.vscodeignore): trainer/lora_lens_trainer/**/*.py and schemas/*.json, nothing else."""
    package = root / "trainer" / "lora_lens_trainer"
    shutil.copytree(
        REPO / "trainer" / "lora_lens_trainer",
        package,
        ignore=lambda d, names: [
            n for n in names if not n.endswith(".py") and not (Path(d) / n).is_dir() or n == "__pycache__"
        ],
    )
    if with_schemas:
        (root / "schemas").mkdir()
        for schema in (REPO / "schemas").glob("*.json"):
            shutil.copy(schema, root / "schemas" / schema.name)
    return root / "trainer"


def _read_in(trainer_root: Path, plan_path: Path, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    code = (
        "import sys; from lora_lens_trainer.plan import read_plan, PlanError\n"
        "try: print(read_plan(sys.argv[1]).method)\n"
        "except PlanError as e: print('PlanError:', e); sys.exit(3)"
    )
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(trainer_root), **(env_extra or {})}
    return subprocess.run(
        [sys.executable, "-c", code, str(plan_path)],
        capture_output=True,
        text=True,
        env=env,
        cwd=trainer_root.parent,
        timeout=60,
    )


def test_the_packaged_extension_layout_finds_the_schema(tmp_path):
    ignore = (REPO / ".vscodeignore").read_text().splitlines()
    assert "!schemas/*.json" in ignore and "!trainer/lora_lens_trainer/**/*.py" in ignore, "the layout this relies on"
    plan_path = tmp_path / "plan.json"
    plan_path.write_text(json.dumps(make_plan("/m", "/t.jsonl", method="qlora")))
    done = _read_in(_copy_packaged_layout(tmp_path / "ext", with_schemas=True), plan_path)
    assert (done.returncode, done.stdout.strip()) == (0, "qlora"), done.stderr


def test_a_missing_schema_is_a_clear_error_and_LORA_LENS_SCHEMA_DIR_points_elsewhere(tmp_path):
    plan_path = tmp_path / "plan.json"
    plan_path.write_text(json.dumps(make_plan("/m", "/t.jsonl")))
    trainer_root = _copy_packaged_layout(tmp_path / "bare", with_schemas=False)
    done = _read_in(trainer_root, plan_path)
    assert done.returncode == 3, done.stderr
    assert "plan.schema.json is missing" in done.stdout and "LORA_LENS_SCHEMA_DIR" in done.stdout
    done = _read_in(trainer_root, plan_path, {"LORA_LENS_SCHEMA_DIR": str(REPO / "schemas")})
    assert (done.returncode, done.stdout.strip()) == (0, "lora"), done.stdout + done.stderr


def test_the_reader_uses_the_schema_file_not_a_copy(tmp_path, monkeypatch):
    schema = json.loads(json.dumps(plan_schema()))
    schema["properties"]["training"]["properties"]["seed"]["maximum"] = 7
    (tmp_path / "plan.schema.json").write_text(json.dumps(schema))
    monkeypatch.setenv("LORA_LENS_SCHEMA_DIR", str(tmp_path))
    plan_module.plan_schema.cache_clear()
    try:
        with pytest.raises(PlanError, match="training.seed: 42 is above the maximum 7"):
            plan_from_dict(make_plan("/m", "/t.jsonl"))
    finally:
        plan_module.plan_schema.cache_clear()
