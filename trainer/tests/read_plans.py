"""Reads plan files with the trainer's own reader and prints one JSON line per file, for test/plan/contract.test.ts.

`python tests/read_plans.py FILE...` (PYTHONPATH=trainer): {"file", "ok": true, "plan": <the dataclasses as JSON>} or
{"file", "ok": false, "keys": [the keys PlanError named], "message"}. Needs no torch: plan.py is standard library only.
"""

from __future__ import annotations

import dataclasses
import json
import sys

from lora_lens_trainer.plan import PlanError, read_plan


def main(paths: list[str]) -> int:
    for path in paths:
        try:
            plan = read_plan(path)
            print(json.dumps({"file": path, "ok": True, "plan": dataclasses.asdict(plan)}))
        except PlanError as error:
            print(json.dumps({"file": path, "ok": False, "keys": list(error.keys), "message": str(error)}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
