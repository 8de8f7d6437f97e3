"""The event stream: one JSON object per line in runs/<id>/events.jsonl, flushed per line.

With LORA_LENS_VALIDATE_EVENTS=1 every event is checked against schemas/events.schema.json before it is written,
and a non-conforming one raises: the test suites run that way.
"""
from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path
from typing import Any, TextIO

from . import schema_check


class EventSchemaError(AssertionError):
    pass


class EventWriter:
    def __init__(self, path: Path, echo: TextIO | None = None) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = open(path, "a", encoding="utf-8")
        self._echo = echo
        self._schema: dict[str, Any] | None = None
        if os.environ.get("LORA_LENS_VALIDATE_EVENTS") == "1":
            found = schema_check.find_events_schema()
            if found is None:
                raise EventSchemaError("LORA_LENS_VALIDATE_EVENTS=1 but schemas/events.schema.json was not found")
            self._schema = schema_check.load_schema(found)

    def emit(self, event: str, **fields: Any) -> dict[str, Any]:
        record: dict[str, Any] = {"event": event, "time": round(time.time(), 3)}
        record.update({k: _jsonable(v) for k, v in fields.items()})
        if self._schema is not None:
            problems = schema_check.errors(self._schema, record)
            if problems:
                raise EventSchemaError(f"event {event!r} violates the schema: {problems}")
        line = json.dumps(record, allow_nan=False)
        self._fh.write(line + "\n")
        self._fh.flush()
        if self._echo is not None:
            self._echo.write(line + "\n")
            self._echo.flush()
        return record

    def close(self) -> None:
        self._fh.close()


def _jsonable(value: Any) -> Any:
    # NaN and infinity are not JSON; a diverged loss is reported as null rather than breaking the stream.
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value
