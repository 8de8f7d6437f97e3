"""The trainer's seams: where a process trains (torchrun's environment, or one process), and objectives chosen
by name (SFT when the plan names none)."""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch", reason="the seams are torch code (CPU is enough)")

from lora_lens_trainer.distributed import placement  # noqa: E402
from lora_lens_trainer.objectives import OBJECTIVES, objective_for  # noqa: E402
from lora_lens_trainer.objectives.sft import SftObjective  # noqa: E402
from lora_lens_trainer.plan import PlanError, plan_from_dict  # noqa: E402
from tests.plans import make_plan  # noqa: E402


def test_placement_reads_torchrun_and_defaults_to_one_process():
    alone = placement({}, cuda=False)
    assert (alone.rank, alone.world_size, alone.local_rank, alone.device.type) == (0, 1, 0, "cpu")
    assert alone.is_main
    second = placement({"RANK": "3", "WORLD_SIZE": "4", "LOCAL_RANK": "1"}, cuda=True)
    assert (second.rank, second.world_size, second.device) == (3, 4, torch.device("cuda", 1))
    assert not second.is_main
    with pytest.raises(ValueError, match="RANK=4 is outside WORLD_SIZE=4"):
        placement({"RANK": "4", "WORLD_SIZE": "4"}, cuda=False)
    with pytest.raises(ValueError, match="LOCAL_RANK='x' is not an integer"):
        placement({"LOCAL_RANK": "x"}, cuda=False)


def test_objectives_are_chosen_by_name_sft_by_default(tmp_path: Path):
    plan = plan_from_dict(make_plan("/models/tiny", str(tmp_path / "train.jsonl")))
    assert isinstance(objective_for(plan), SftObjective) and OBJECTIVES["sft"] is SftObjective

    class WithObjective:  # a later plan format's field
        def __init__(self, name: str) -> None:
            self.objective = name

    with pytest.raises(PlanError, match="objective 'ppo' is not one this trainer has \\(dpo, kto, orpo, sft, simpo\\)"):
        objective_for(WithObjective("ppo"))  # type: ignore[arg-type]
