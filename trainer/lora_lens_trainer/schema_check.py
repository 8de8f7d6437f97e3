"""A minimal JSON-schema checker for the draft-07 subset that schemas/events.schema.json uses.

jsonschema is not installed where the trainer runs (nor on the GPU machines), and the event schema needs only:
type (with unions), enum, const, required, properties, items, minimum, allOf and if/then.
Anything else in the schema is a bug in this checker, so it raises instead of silently passing.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

_KNOWN = {"$schema", "$id", "title", "description", "type", "enum", "const", "required", "properties", "items",
          "minimum", "allOf", "if", "then"}

_TYPES = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
}


def errors(schema: dict[str, Any], value: Any, where: str = "") -> list[str]:
    """Every violation of `schema` by `value`, as 'path: message'; empty when it conforms."""
    unknown = set(schema) - _KNOWN
    if unknown:
        raise ValueError(f"schema_check does not implement {sorted(unknown)}")
    out: list[str] = []
    at = where or "/"
    if "type" in schema:
        allowed = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_TYPES[t](value) for t in allowed):
            return [f"{at}: expected {' or '.join(allowed)}, got {json.dumps(value)[:40]}"]
    if "enum" in schema and not any(_same(value, e) for e in schema["enum"]):
        out.append(f"{at}: {json.dumps(value)[:40]} is not one of {schema['enum']}")
    if "const" in schema and not _same(value, schema["const"]):
        out.append(f"{at}: must be {json.dumps(schema['const'])}")
    if "minimum" in schema and _TYPES["number"](value) and value < schema["minimum"]:
        out.append(f"{at}: {value} is below the minimum {schema['minimum']}")
    if isinstance(value, dict):
        for key in schema.get("required", []):
            if key not in value:
                out.append(f"{at}: missing required {key!r}")
        for key, sub in schema.get("properties", {}).items():
            if key in value:
                out.extend(errors(sub, value[key], f"{where}/{key}"))
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            out.extend(errors(schema["items"], item, f"{where}/{i}"))
    for sub in schema.get("allOf", []):
        out.extend(errors(sub, value, where))
    if "if" in schema and not errors(schema["if"], value, where):
        out.extend(errors(schema.get("then", {}), value, where))
    return out


def _same(a: Any, b: Any) -> bool:
    # JSON equality: 1 == true in Python, not in JSON.
    return type(a) is type(b) and a == b if isinstance(a, bool) or isinstance(b, bool) else a == b


def find_events_schema() -> Path | None:
    """The repository's schemas/events.schema.json when the trainer runs from a checkout."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        candidate = parent / "schemas" / "events.schema.json"
        if candidate.is_file():
            return candidate
    return None


def load_schema(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))
