"""schemas/trainer-capabilities.json says what the trainer does: its named templates, and exactly the LoRA and
quantization settings it refuses at start, are checked against the code that renders and refuses them."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from lora_lens_trainer import preflight, schema_check
from lora_lens_trainer.data.templates import NAMED
from lora_lens_trainer.plan import plan_from_dict, plan_schema
from tests.plans import make_plan

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
CAPS = json.loads((SCHEMAS / "trainer-capabilities.json").read_text(encoding="utf-8"))


def test_the_file_matches_its_schema():
    schema = json.loads((SCHEMAS / "trainer-capabilities.schema.json").read_text(encoding="utf-8"))
    assert schema_check.errors(schema, CAPS) == []
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.Draft7Validator.check_schema(schema)
    jsonschema.validate(CAPS, schema)
    assert preflight.capabilities() == CAPS


def test_the_named_templates_are_the_trainers_both_ways():
    assert set(CAPS["chat_templates"]) == set(NAMED)
    for name, t in NAMED.items():
        listed = CAPS["chat_templates"][name]
        assert (listed["source"], listed["system_role"], listed["alternating"]) == (
            t.source,
            t.system_role,
            t.alternating,
        ), name


def test_the_listed_options_are_the_plan_schemas_values_less_the_refused_ones():
    props = plan_schema()["properties"]
    assert set(CAPS["methods"]) <= set(props["method"]["enum"])
    assert set(CAPS["precision"]) == set(props["precision"]["enum"])
    assert set(CAPS["data_formats"]) == set(props["data"]["properties"]["format"]["enum"])
    lora = props["lora"]["anyOf"][0]["properties"] if "anyOf" in props["lora"] else props["lora"]["properties"]
    for key, values in (("bias", lora["bias"]["enum"]), ("use_dora", [False, True]), ("use_rslora", [False, True])):
        for value in values:
            raw = make_plan("/m", "/t.jsonl", "lora", **{f"lora__{key}": value})
            assert (value in CAPS["lora"][key]) == (preflight.refusals(raw) == []), (key, value)


torch = pytest.importorskip("torch")


def test_the_objectives_are_the_trainers_both_ways():
    from lora_lens_trainer.objectives import OBJECTIVES

    assert set(CAPS["objectives"]) == set(OBJECTIVES)
    assert set(CAPS["objectives"]) == set(plan_schema()["properties"]["objective"]["enum"])


@pytest.mark.parametrize("method", ["full", "lora", "qlora"])
def test_the_dpo_refusal_is_what_the_objective_refuses(method):
    from lora_lens_trainer.objectives import objective_for
    from lora_lens_trainer.plan import PlanError

    raw = make_plan(
        "/m", "/t.jsonl", method, objective="dpo", dpo={"beta": 0.1, "loss": "sigmoid", "label_smoothing": 0.0}
    )
    listed = preflight.refusals(raw, installed=lambda name: True)
    try:
        objective_for(plan_from_dict(raw))
        refused = False
    except PlanError:
        refused = True
    assert refused == bool(listed), (method, listed)


@pytest.fixture()
def tiny():
    from tests.tiny_model import tiny_causal_lm

    return tiny_causal_lm("llama")


def _refused_by_trainer(raw: dict) -> str | None:
    from lora_lens_trainer.modeling import ModelError, apply_method
    from tests.tiny_model import tiny_causal_lm

    plan = plan_from_dict(raw)
    try:
        apply_method(tiny_causal_lm("llama"), plan, torch.device("cpu"), torch.float32, None, None)
    except ModelError as error:
        return str(error)
    return None


@pytest.mark.parametrize(
    "method,bias,dora", list(itertools.product(["lora", "qlora"], ["none", "all", "lora_only"], [False, True]))
)
def test_the_refusals_are_exactly_what_the_trainer_refuses(method, bias, dora):
    raw = make_plan("/m", "/t.jsonl", method, lora__bias=bias, lora__use_dora=dora)
    listed = preflight.refusals(raw, installed=lambda name: False)
    refused = _refused_by_trainer(raw)
    assert (refused is not None) == bool(listed), (refused, listed)


@pytest.mark.parametrize("quant_type", ["nf4", "fp4"])
def test_the_builtin_4bit_refusal_is_listed(quant_type):
    raw = make_plan("/m", "/t.jsonl", "qlora", quantization__bnb_4bit_quant_type=quant_type)
    listed = preflight.refusals(raw, installed=lambda name: False)
    assert (_refused_by_trainer(raw) is not None) == bool(listed)
    # With bitsandbytes installed the refusal is lifted (bitsandbytes implements fp4).
    assert preflight.refusals(raw, installed=lambda name: name == "bitsandbytes") == []


def test_every_precision_mode_listed_has_dtypes():
    from lora_lens_trainer.modeling import precision_dtypes

    for precision in CAPS["precision"]:
        param, _ = precision_dtypes(plan_from_dict(make_plan("/m", "/t.jsonl", "lora", precision=precision)))
        assert isinstance(param, torch.dtype)


def test_head_and_embedding_names_are_refused_as_targets(tiny):
    from lora_lens_trainer.lora import find_targets

    head = tiny.get_output_embeddings()
    names = dict(tiny.named_modules())
    head_name = next(n for n, m in names.items() if m is head)
    embed_name = next(n for n, m in names.items() if isinstance(m, torch.nn.Embedding))
    caps = CAPS["lora"]["target_modules"]
    assert head_name.rsplit(".", 1)[-1] in caps["output_head_names"]
    assert embed_name.rsplit(".", 1)[-1] in caps["embedding_names"]
    assert {"output_head", "embedding", "non_linear"} == set(caps["untargetable"])
    for target in ([head_name], [embed_name.rsplit(".", 1)[-1]], ["self_attn"]):
        with pytest.raises(ValueError, match="selects"):
            find_targets(tiny, target, head)
    # The dry run refuses the same head and embedding names without the model.
    for target in ([head_name], [embed_name.rsplit(".", 1)[-1]], "model\\.embed_tokens|.*q_proj", "lm_head"):
        plan = plan_from_dict(make_plan("/m", "/t.jsonl", "lora", lora__target_modules=target))
        assert preflight.target_problems(plan), target
    for target in (["q_proj", "v_proj"], "all-linear", ".*\\.(q|v)_proj"):
        plan = plan_from_dict(make_plan("/m", "/t.jsonl", "lora", lora__target_modules=target))
        assert preflight.target_problems(plan) == [], target
