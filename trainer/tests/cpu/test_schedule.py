"""The learning rate, step by step, equals transformers' get_scheduler for every lr_scheduler_type the plan allows
and every warmup form (warmup_steps, warmup_ratio, none, longer than the run), with the warmup length as the HF
Trainer derives it (TrainingArguments.get_warmup_steps)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import get_args, get_type_hints

import pytest

torch = pytest.importorskip("torch", reason="the schedule tests need torch")
pytest.importorskip("transformers", reason="the schedule tests compare with transformers' get_scheduler")

from lora_lens_trainer.optim import build_scheduler  # noqa: E402
from lora_lens_trainer.plan import TrainingArgs, plan_from_dict  # noqa: E402
from tests.plans import make_plan  # noqa: E402

KINDS = list(get_args(get_type_hints(TrainingArgs)["lr_scheduler_type"]))
# (warmup_steps, warmup_ratio): explicit steps win over the ratio, as in the Trainer.
WARMUPS = [(0, 0.0), (0, 0.03), (0, 0.1), (0, 0.5), (1, 0.0), (7, 0.0), (7, 0.5), (50, 0.0)]
TOTALS = [1, 10, 37]


def test_every_kind_the_plan_schema_allows_is_covered():
    schema = json.loads((Path(__file__).resolve().parents[3] / "schemas/plan.schema.json").read_text())
    allowed = schema["properties"]["training"]["properties"]["lr_scheduler_type"]["enum"]
    assert sorted(allowed) == sorted(KINDS) and len(KINDS) >= 4


@cache
def _hf_warmup(total: int, steps: int, ratio: float) -> int:
    from transformers import TrainingArguments

    # transformers 5: warmup_steps >= 1 is a count, a float below 1 a ratio (warmup_ratio folded into it).
    args = TrainingArguments(output_dir="/nonexistent/unused", warmup_steps=steps if steps > 0 else ratio, report_to=[])
    return args.get_warmup_steps(total)


def _lrs(scheduler, optimizer, total: int) -> list[float]:
    out = []
    for _ in range(total + 1):
        out.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return out


@pytest.mark.parametrize("kind", KINDS)
def test_schedule_equals_transformers_step_by_step(kind):
    from transformers import get_scheduler

    for total in TOTALS:
        for steps, ratio in WARMUPS:
            plan = plan_from_dict(
                make_plan(
                    "/m",
                    "/data/train.jsonl",
                    training__lr_scheduler_type=kind,
                    training__warmup_steps=steps,
                    training__warmup_ratio=ratio,
                    training__learning_rate=3e-4,
                )
            )
            p_ours, p_theirs = torch.nn.Parameter(torch.zeros(1)), torch.nn.Parameter(torch.zeros(1))
            opt_ours = torch.optim.SGD([p_ours], lr=3e-4)
            opt_theirs = torch.optim.SGD([p_theirs], lr=3e-4)
            ours = _lrs(build_scheduler(plan, opt_ours, total), opt_ours, total)
            warm = _hf_warmup(total, steps, ratio)
            theirs = _lrs(
                get_scheduler(kind, opt_theirs, num_warmup_steps=warm, num_training_steps=total), opt_theirs, total
            )
            assert ours == pytest.approx(theirs, rel=1e-12, abs=1e-15), (kind, total, steps, ratio)
