"""A minimal JSON-schema checker for the draft-07 subset that schemas/events.schema.json and plan.schema.json use.

jsonschema is not installed where the trainer runs (nor on the GPU machines), and the two schemas need only the
keywords in _KNOWN. Anything else in a schema is a bug in this checker, so it raises instead of silently passing.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

_ANNOTATIONS = {"$schema", "$id", "title", "description"}
_KNOWN = _ANNOTATIONS | {
    "type",
    "enum",
    "const",
    "required",
    "properties",
    "additionalProperties",
    "items",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minLength",
    "pattern",
    "minItems",
    "uniqueItems",
    "allOf",
    "anyOf",
    "oneOf",
    "if",
    "then",
}

_TYPES: dict[str, Callable[[Any], bool]] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    # draft-07: an integer is any number without a fractional part (1.0 included), as ajv reads it.
    "integer": lambda v: not isinstance(v, bool) and (isinstance(v, int) or (isinstance(v, float) and v.is_integer())),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
}

Location = tuple[str | int, ...]


@dataclass(frozen=True)
class Violation:
    """One way a value breaks a schema. `at`: where in the value; `key`: the key to name (a missing or extra key's own);
    `keyword`: the schema keyword that failed."""

    at: Location
    key: Location
    keyword: str
    message: str


def violations(schema: dict[str, Any], value: Any, at: Location = ()) -> list[Violation]:
    """Every violation of `schema` by `value`; empty when it conforms."""
    unknown = set(schema) - _KNOWN
    if unknown:
        raise ValueError(f"schema_check does not implement {sorted(unknown)}")
    if "type" in schema:
        allowed = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_TYPES[t](value) for t in allowed):
            return [Violation(at, at, "type", f"expected {' or '.join(allowed)}, got {_show(value)}")]
    out = _scalar_violations(schema, value, at)
    if isinstance(value, dict):
        out.extend(_object_violations(schema, value, at))
    if isinstance(value, list):
        out.extend(_array_violations(schema, value, at))
    out.extend(_combinator_violations(schema, value, at))
    return out


def _scalar_violations(schema: dict[str, Any], value: Any, at: Location) -> list[Violation]:
    out: list[tuple[str, str]] = []
    if "enum" in schema and not any(_same(value, e) for e in schema["enum"]):
        out.append(("enum", f"{_show(value)} is not one of {', '.join(json.dumps(e) for e in schema['enum'])}"))
    if "const" in schema and not _same(value, schema["const"]):
        out.append(("const", f"must be {json.dumps(schema['const'])}, not {_show(value)}"))
    if _TYPES["number"](value):
        if "minimum" in schema and value < schema["minimum"]:
            out.append(("minimum", f"{value} is below the minimum {schema['minimum']}"))
        if "exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]:
            out.append(("exclusiveMinimum", f"{value} must be greater than {schema['exclusiveMinimum']}"))
        if "maximum" in schema and value > schema["maximum"]:
            out.append(("maximum", f"{value} is above the maximum {schema['maximum']}"))
        if "exclusiveMaximum" in schema and value >= schema["exclusiveMaximum"]:
            out.append(("exclusiveMaximum", f"{value} must be less than {schema['exclusiveMaximum']}"))
    if isinstance(value, str):
        if "minLength" in schema and len(value) < schema["minLength"]:
            out.append(("minLength", f"must be at least {schema['minLength']} character(s) long"))
        if "pattern" in schema and re.search(schema["pattern"], value) is None:
            out.append(("pattern", f"{_show(value)} does not match the pattern {schema['pattern']}"))
    return [Violation(at, at, keyword, message) for keyword, message in out]


def _object_violations(schema: dict[str, Any], value: dict[str, Any], at: Location) -> list[Violation]:
    out = [
        Violation(at, at + (k,), "required", f"missing required {k!r}")
        for k in schema.get("required", [])
        if k not in value
    ]
    properties = schema.get("properties", {})
    for key, sub in properties.items():
        if key in value:
            out.extend(violations(sub, value[key], at + (key,)))
    extra = schema.get("additionalProperties", True)
    for key in value:
        if key in properties or extra is True:
            continue
        if extra is False:
            out.append(Violation(at, at + (key,), "additionalProperties", f"{key!r} is not allowed here"))
        else:
            out.extend(violations(extra, value[key], at + (key,)))
    return out


def _array_violations(schema: dict[str, Any], value: list[Any], at: Location) -> list[Violation]:
    out: list[Violation] = []
    if "minItems" in schema and len(value) < schema["minItems"]:
        out.append(Violation(at, at, "minItems", f"needs at least {schema['minItems']} item(s)"))
    if schema.get("uniqueItems") and len({json.dumps(v, sort_keys=True) for v in value}) < len(value):
        out.append(Violation(at, at, "uniqueItems", "has duplicate items"))
    if "items" in schema:
        for i, item in enumerate(value):
            out.extend(violations(schema["items"], item, at + (i,)))
    return out


def _combinator_violations(schema: dict[str, Any], value: Any, at: Location) -> list[Violation]:
    out: list[Violation] = []
    for sub in schema.get("allOf", []):
        out.extend(violations(sub, value, at))
    if "anyOf" in schema and all(violations(sub, value, at) for sub in schema["anyOf"]):
        out.append(Violation(at, at, "anyOf", f"{_show(value)} is none of: {_forms(schema['anyOf'])}"))
    if "oneOf" in schema:
        matching = sum(1 for sub in schema["oneOf"] if not violations(sub, value, at))
        if matching != 1:
            out.append(
                Violation(
                    at,
                    at,
                    "oneOf",
                    f"{_show(value)} must be exactly one of: {_forms(schema['oneOf'])} ({matching} match)",
                )
            )
    if "if" in schema and not violations(schema["if"], value, at):
        because = _condition(schema["if"])
        out.extend(
            replace(v, message=f"{v.message} (when {because})") for v in violations(schema.get("then", {}), value, at)
        )
    return out


def _condition(schema: dict[str, Any]) -> str:
    """An `if` of const properties in words: 'method is "full"'."""
    consts = [f"{k} is {json.dumps(sub['const'])}" for k, sub in schema.get("properties", {}).items() if "const" in sub]
    return " and ".join(consts) or "its condition holds"


def _forms(options: list[dict[str, Any]]) -> str:
    """The alternatives of anyOf/oneOf in words: their enum values, else their types."""

    def form(option: dict[str, Any]) -> str:
        if "enum" in option:
            return " or ".join(json.dumps(e) for e in option["enum"])
        kind = option.get("type", "a value")
        if kind == "array" and isinstance(option.get("items"), dict) and "type" in option["items"]:
            return f"a list of {option['items']['type']}s"
        return " or ".join(kind) if isinstance(kind, list) else str(kind)

    return "; ".join(form(o) for o in options)


def pointer(path: Location) -> str:
    """'/training/learning_rate', '/' for the whole value."""
    return "/" + "/".join(str(p) for p in path)


def errors(schema: dict[str, Any], value: Any, where: str = "") -> list[str]:
    """Every violation of `schema` by `value`, as '/json/pointer: message'; empty when it conforms."""
    base: Location = tuple(p for p in where.split("/") if p)
    return [f"{pointer(v.at)}: {v.message}" for v in violations(schema, value, base)]


def _same(a: Any, b: Any) -> bool:
    # JSON equality: 1 == true in Python, not in JSON.
    return type(a) is type(b) and a == b if isinstance(a, bool) or isinstance(b, bool) else a == b


def _show(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."


def schema_dir() -> Path:
    """The folder holding our schemas: LORA_LENS_SCHEMA_DIR, else `schemas/` beside the folder holding this package.

    The repository and the packaged extension share that layout (.vscodeignore ships schemas/*.json and
    trainer/lora_lens_trainer/**/*.py), and the trainer is always run from there (PYTHONPATH=<root>/trainer).
    """
    override = os.environ.get("LORA_LENS_SCHEMA_DIR")
    return Path(override) if override else Path(__file__).resolve().parents[2] / "schemas"


def find_schema(name: str) -> Path | None:
    candidate = schema_dir() / name
    return candidate if candidate.is_file() else None


def find_events_schema() -> Path | None:
    """schemas/events.schema.json, or None when this installation has no schemas folder."""
    return find_schema("events.schema.json")


def load_schema(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))
