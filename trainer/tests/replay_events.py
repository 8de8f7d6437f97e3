"""The Python side of test/plan/events-contract.test.ts (standard library only, no torch).

`python tests/replay_events.py check FILE`: one JSON line per event line of FILE, {"line", "errors": [...]} from
schema_check against schemas/events.schema.json.
`python tests/replay_events.py replay IN OUT`: every event of IN written again through the trainer's EventWriter
with LORA_LENS_VALIDATE_EVENTS=1 (the writer's own checks and serialisation), to OUT.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from lora_lens_trainer import schema_check
from lora_lens_trainer.events import EventWriter


def check(path: str) -> None:
    found = schema_check.find_events_schema()
    if found is None:
        raise SystemExit("schemas/events.schema.json not found")
    schema = schema_check.load_schema(found)
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip():
            print(json.dumps({"line": number, "errors": schema_check.errors(schema, json.loads(line))}))


def replay(source: str, target: str) -> None:
    os.environ["LORA_LENS_VALIDATE_EVENTS"] = "1"
    writer = EventWriter(Path(target))
    for line in Path(source).read_text(encoding="utf-8").splitlines():
        if line.strip():
            record = json.loads(line)
            record.pop("time", None)
            writer.emit(record.pop("event"), **record)
    writer.close()


if __name__ == "__main__":
    verb, *args = sys.argv[1:]
    check(*args) if verb == "check" else replay(*args)
