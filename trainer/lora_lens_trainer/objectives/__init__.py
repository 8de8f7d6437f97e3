"""Training objectives by name: the loop runs whichever the plan selects."""

from __future__ import annotations

from ..plan import PlanError, TrainingPlan
from .base import Datasets, ModelParts, Objective, StepBatch
from .dpo import DpoObjective
from .kto import KtoObjective
from .reference_free import OrpoObjective, SimpoObjective
from .sft import SftObjective

__all__ = ["OBJECTIVES", "Datasets", "ModelParts", "Objective", "StepBatch", "objective_for"]

OBJECTIVES: dict[str, type[Objective]] = {
    "sft": SftObjective,
    "dpo": DpoObjective,
    "orpo": OrpoObjective,
    "simpo": SimpoObjective,
    "kto": KtoObjective,
}
DEFAULT = "sft"


def objective_for(plan: TrainingPlan) -> Objective:
    # A plan written before the objective field existed has none: SFT, as it meant then.
    name = getattr(plan, "objective", None) or DEFAULT
    try:
        return OBJECTIVES[name](plan)
    except KeyError:
        raise PlanError(f"objective {name!r} is not one this trainer has ({', '.join(sorted(OBJECTIVES))})") from None
