"""--resume: the newest checkpoint that reads back whole is applied to a freshly built session, after its
fingerprint is checked against the plan, dataset and base model of this start; damaged newer ones are set aside."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from ..plan import PlanError
from ..problems import ConfigProblem
from . import checkpoint, fingerprint

if TYPE_CHECKING:
    from ..events import EventWriter
    from ..session import Session

log = logging.getLogger("lora_lens_trainer")


def resume(s: Session, folder: Path, events: EventWriter, resume_anyway: bool) -> int:
    """Applies the checkpoint to `s` (weights, optimizer, schedule, scaler, RNG, progress); returns its step."""
    from ..session import Progress

    damaged: list[tuple[Path, str, Path]] = []
    loaded = checkpoint.newest_usable(folder, s.device, lambda p, why, moved: damaged.append((p, why, moved)))
    if loaded is None:
        detail = "; ".join(f"{p.name}: {why}" for p, why, _ in damaged)
        raise PlanError(f"--resume: no usable checkpoint under {folder}" + (f" ({detail})" if detail else ""))
    for path, why, moved in damaged:
        events.emit(
            "warning",
            kind="checkpoint",
            message=f"checkpoint {path.name} is damaged ({why}): set aside as {moved.name}; "
            f"resuming from {loaded.path.name} instead",
        )
    stored = loaded.progress.get("fingerprint")
    if not stored:
        events.emit(
            "warning",
            kind="checkpoint",
            message=f"{loaded.path.name} has no fingerprint (written "
            "by an older trainer): the plan and dataset are not checked against it",
        )
    else:
        check_fingerprint(fingerprint.mismatches(stored, s.fingerprint), loaded.path.name, events, resume_anyway)
    # The strategy applies it: the plain files, or the shards of several processes (and refuses another layout).
    s.parallel.apply(loaded, s)
    if s.scaler is not None and loaded.scaler is not None:
        s.scaler.load_state_dict(loaded.scaler)
    s.progress = Progress.from_state(loaded.progress)
    log.info("resumed from %s", loaded.path)
    return loaded.step


def check_fingerprint(found: tuple[list[str], list[str]], name: str, events: EventWriter, resume_anyway: bool) -> None:
    refusals, notes = found
    for note in notes:
        events.emit("warning", kind="checkpoint", message=note)
    if not refusals:
        return
    listed = "; ".join(refusals[:6]) + (f"; and {len(refusals) - 6} more" if len(refusals) > 6 else "")
    if resume_anyway:
        events.emit("warning", kind="checkpoint", message=f"--resume-anyway: resuming from {name} although {listed}")
        return
    raise ConfigProblem(
        f"--resume refused: {name} was trained on another plan, dataset or base model: {listed}",
        [
            "restore the plan, dataset and base model the run started with, then resume again",
            "or start a new run with the changed config (nothing is lost: this run folder stays as it is)",
            "or resume regardless with `--resume-anyway` (the data position and schedule continue from the checkpoint)",
        ],
    )
