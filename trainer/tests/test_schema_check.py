"""Each keyword schema_check implements, accepting what conforms and naming what does not (jsonschema, where the
venv has it, must agree on every case)."""

import pytest

from lora_lens_trainer import schema_check

CASES = [
    # (schema, value, expected fragment or None when it conforms)
    (
        {"type": "object", "properties": {"a": {"type": "integer"}}, "additionalProperties": False},
        {"a": 1, "b": 2},
        "'b' is not allowed here",
    ),
    ({"type": "object", "additionalProperties": {"type": "string"}}, {"x": 3}, "/x: expected string"),
    ({"type": "object", "additionalProperties": {"type": "string"}}, {"x": "ok"}, None),
    (
        {"anyOf": [{"type": "string", "enum": ["all-linear"]}, {"type": "array", "items": {"type": "string"}}]},
        3,
        'none of: "all-linear"; a list of strings',
    ),
    (
        {"anyOf": [{"type": "string", "enum": ["all-linear"]}, {"type": "array", "items": {"type": "string"}}]},
        ["q"],
        None,
    ),
    ({"oneOf": [{"type": "integer"}, {"type": "number"}]}, 2, "exactly one of"),
    ({"oneOf": [{"type": "integer"}, {"type": "string"}]}, 2, None),
    ({"type": "string", "pattern": "^/"}, "rel/path", "does not match the pattern ^/"),
    ({"type": "string", "pattern": "^(/|[A-Za-z]:[\\\\/])"}, "C:\\data", None),
    ({"type": "number", "exclusiveMinimum": 0}, 0, "must be greater than 0"),
    ({"type": "number", "exclusiveMinimum": 0}, 1e-9, None),
    ({"type": "number", "maximum": 1}, 1.5, "above the maximum 1"),
    ({"type": "number", "maximum": 1}, 1, None),
    ({"type": "number", "exclusiveMaximum": 1}, 1, "must be less than 1"),
    ({"type": "string", "minLength": 1}, "", "at least 1 character"),
    ({"type": "array", "minItems": 1}, [], "at least 1 item"),
    ({"type": "array", "uniqueItems": True}, ["a", "a"], "duplicate items"),
    ({"type": "array", "uniqueItems": True}, [1, True], None),
    ({"type": "integer"}, 2.0, None),
    ({"type": "integer"}, 2.5, "expected integer"),
    ({"type": "integer"}, True, "expected integer"),
    ({"enum": [1]}, True, "is not one of"),
    (
        {"allOf": [{"if": {"properties": {"m": {"const": "full"}}}, "then": {"properties": {"l": {"type": "null"}}}}]},
        {"m": "full", "l": {}},
        'expected null, got {} (when m is "full")',
    ),
    (
        {"allOf": [{"if": {"properties": {"m": {"const": "full"}}}, "then": {"properties": {"l": {"type": "null"}}}}]},
        {"m": "lora", "l": {}},
        None,
    ),
]


@pytest.mark.parametrize("schema, value, expected", CASES)
def test_each_keyword(schema, value, expected):
    found = schema_check.errors(schema, value)
    if expected is None:
        assert found == []
    else:
        assert any(expected in e for e in found), found


@pytest.mark.parametrize("schema, value, expected", CASES)
def test_jsonschema_agrees(schema, value, expected):
    jsonschema = pytest.importorskip(
        "jsonschema", reason="jsonschema is not installed in this python (the venv has it)"
    )
    assert (not list(jsonschema.Draft7Validator(schema).iter_errors(value))) == (expected is None)


def test_a_missing_or_extra_key_is_named_as_its_own_path():
    schema = {"type": "object", "required": ["a"], "properties": {"a": {}}, "additionalProperties": False}
    found = schema_check.violations(schema, {"b": 1})
    assert sorted((v.keyword, v.key) for v in found) == [("additionalProperties", ("b",)), ("required", ("a",))]


def test_unknown_keywords_still_raise():
    with pytest.raises(ValueError, match="patternProperties"):
        schema_check.errors({"type": "object", "patternProperties": {}}, {})
