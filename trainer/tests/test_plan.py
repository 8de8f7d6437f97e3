import json

import pytest

from lora_lens_trainer.plan import PlanError, plan_from_dict, read_plan
from tests.plans import make_plan


def test_a_complete_plan_reads_into_typed_fields(tmp_path):
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(make_plan("/m", "/data/train.jsonl", training__max_steps=7)))
    plan = read_plan(path)
    assert plan.training.max_steps == 7
    assert plan.lora is not None and plan.lora.target_modules == "all-linear"
    assert plan.data.eval is None
    assert plan.quantization is None


def test_target_modules_as_list():
    lora = {"r": 4, "lora_alpha": 8, "lora_dropout": 0, "target_modules": ["q_proj", "v_proj"], "bias": "none",
            "use_rslora": False, "use_dora": False}
    plan = plan_from_dict(make_plan("/m", "/t.jsonl", lora=lora))
    assert plan.lora.target_modules == ["q_proj", "v_proj"]
    assert isinstance(plan.lora.lora_dropout, float)


@pytest.mark.parametrize("mutate, message", [
    (lambda p: p.pop("training"), "training: missing"),
    (lambda p: p["training"].update(learning_rate="big"), "training.learning_rate: must be a number"),
    (lambda p: p.update(method="prefix"), "method: must be one of"),
    (lambda p: p["data"].update(max_length=1.5), "data.max_length: must be an integer"),
    (lambda p: p["data"].update(packing=1), "data.packing: must be true or false"),
    (lambda p: p["data"].update(train="relative/train.jsonl"), "data.train: must be an absolute path"),
    (lambda p: p.update(lora=None), "lora: missing for method 'lora'"),
    (lambda p: p["training"].update(per_device_train_batch_size=0), "per_device_train_batch_size: must be at least 1"),
    (lambda p: p["lora"].update(target_modules=3), "lora.target_modules"),
])
def test_a_bad_plan_names_the_key(mutate, message):
    plan = make_plan("/m", "/t.jsonl")
    mutate(plan)
    with pytest.raises(PlanError) as caught:
        plan_from_dict(plan)
    assert message in str(caught.value)


def test_hardware_and_engine_are_optional():
    plan = make_plan("/m", "/t.jsonl")
    del plan["hardware"], plan["engine"]
    assert plan_from_dict(plan).hardware is None


def test_unreadable_and_non_json_files(tmp_path):
    with pytest.raises(PlanError, match="cannot read plan"):
        read_plan(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(PlanError, match="not JSON"):
        read_plan(bad)
