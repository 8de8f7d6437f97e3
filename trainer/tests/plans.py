"""Plan dictionaries for tests and the benchmark, started from plans the TypeScript normaliser built.

tests/fixtures/plans/<method>.plan.json are written by scripts/gen-plan-contract.ts from a small config (rank 8,
256-token samples, one epoch, a log line per step) and checked up to date by test/plan/contract.test.ts, so a test
plan has exactly the keys and defaults a real plan.json has: no hand-copied TrainingPlan here.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "plans"


@cache
def _fixture(method: str) -> str:
    path = FIXTURES / f"{method}.plan.json"
    if not path.is_file():
        raise ValueError(f"no plan fixture for method {method!r} ({path}); methods: full, lora, qlora")
    return path.read_text(encoding="utf-8")


def make_plan(
    model: str, train: str, method: str = "lora", eval_path: str | None = None, out: str = "/tmp/out", **overrides: Any
) -> dict[str, Any]:
    """The normaliser's plan for `method` with these paths; `section__key=value` sets one key, `section=value` a section."""
    plan: dict[str, Any] = json.loads(_fixture(method))
    plan["model"]["name_or_path"] = model
    plan["data"]["train"] = train
    plan["data"]["eval"] = eval_path
    plan["output"]["dir"] = out
    for dotted, value in overrides.items():
        section, _, key = dotted.partition("__")
        if key:
            if section not in plan or not isinstance(plan[section], dict):
                raise KeyError(f"make_plan: {dotted}: the plan has no section {section!r}")
            plan[section][key] = value
        else:
            plan[section] = copy.deepcopy(value)
    return plan
