"""The event stream: one JSON object per line in runs/<id>/events.jsonl, flushed per line.

The file is the record; the echo (the trainer's stdout, read by the CLI or the editor) is a copy that may go away:
a failed echo write turns the echo off and training goes on (see streams.py).

With LORA_LENS_VALIDATE_EVENTS=1 every event is checked against schemas/events.schema.json before it is written,
and a non-conforming one raises: the test suites run that way.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from pathlib import Path
from typing import Any, TextIO

from . import schema_check
from .streams import STREAM_ERRORS, silence

log = logging.getLogger("lora_lens_trainer")


class EventSchemaError(AssertionError):
    pass


class EventWriter:
    def __init__(self, path: Path, echo: TextIO | None = None) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fh: TextIO | None = open(path, "a", encoding="utf-8")
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
        if self._fh is not None:
            self._fh.write(line + "\n")
            self._fh.flush()
        if self._echo is not None:
            self._echo_line(line)
        return record

    def _echo_line(self, line: str) -> None:
        assert self._echo is not None
        try:
            self._echo.write(line + "\n")
            self._echo.flush()
        except STREAM_ERRORS as error:
            silence(self._echo)
            self._echo = None
            log.warning(
                "the event echo on stdout failed (%s: the reader went away): events go on to %s only",
                type(error).__name__,
                self.path,
            )

    def fileno(self) -> int:
        assert self._fh is not None
        return self._fh.fileno()

    def detach(self) -> None:
        """No more writes to the file (its folder is gone); events still reach the echo, if anyone reads it."""
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def close(self) -> None:
        self.detach()


class SilentEvents(EventWriter):
    """A rank other than 0 under torchrun: the same calls, nothing written (rank 0 reports for every rank)."""

    def __init__(self) -> None:  # noqa: D107 - no file, no echo
        self.path = Path(os.devnull)
        self._fh = None
        self._echo = None
        self._schema = None

    def emit(self, event: str, **fields: Any) -> dict[str, Any]:
        return {"event": event, **fields}


def _jsonable(value: Any) -> Any:
    # NaN and infinity are not JSON; a diverged loss is reported as null rather than breaking the stream.
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value
