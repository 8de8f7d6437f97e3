"""Training objectives by name: the loop runs whichever the plan selects."""
from __future__ import annotations

from ..plan import PlanError, TrainingPlan
from .base import Datasets, ModelParts, Objective, StepBatch
from .sft import SftObjective

__all__ = ["OBJECTIVES", "Datasets", "ModelParts", "Objective", "StepBatch", "objective_for"]

OBJECTIVES: dict[str, type[Objective]] = {"sft": SftObjective}
DEFAULT = "sft"


def objective_for(plan: TrainingPlan) -> Objective:
    # The plan has no objective field yet (SFT is the only one): read it if a later plan format carries one.
    name = getattr(plan, "objective", None) or DEFAULT
    try:
        return OBJECTIVES[name](plan)
    except KeyError:
        raise PlanError(f"objective {name!r} is not one this trainer has ({', '.join(sorted(OBJECTIVES))})") from None
