"""What a checkpoint was trained on: the plan (less what may change on resume) and the dataset file(s), so a
resume after editing either is refused instead of silently continuing on something else."""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from .plan import TrainingPlan

# Fields that do not change what is learned, or in which order, so a resume may change them: where the run is
# written and what happens after training (output.*), reporting cadence (logging/eval/save steps, checkpoint count),
# evaluation (data.eval, its batch size), the attention kernel, the editor's bookkeeping.
FREE_ON_RESUME = ("config_path", "engine", "hardware", "output", "data.eval", "model.attn_implementation",
                  "training.logging_steps", "training.eval_steps", "training.per_device_eval_batch_size",
                  "training.save_steps", "training.save_total_limit", "training.dataloader_num_workers")

# A file up to this size is hashed whole (about a second); a larger one is hashed in three samples (start, middle,
# end) and its modification time joins the comparison, so the cost stays bounded at any size.
FULL_HASH_BYTES = 256 * 1024 ** 2
SAMPLE_BYTES = 16 * 1024 ** 2


def locked_plan(plan: TrainingPlan) -> dict[str, Any]:
    """The plan as a dict without the FREE_ON_RESUME fields."""
    raw = dataclasses.asdict(plan)
    for dotted in FREE_ON_RESUME:
        section, _, key = dotted.partition(".")
        if key:
            if isinstance(raw.get(section), dict):
                raw[section].pop(key, None)
        else:
            raw.pop(section, None)
    return raw


def file_fingerprint(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    st = p.stat()
    digest = hashlib.sha256()
    with open(p, "rb") as fh:
        if st.st_size <= FULL_HASH_BYTES:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
            hashed = "full"
        else:
            for offset in (0, st.st_size // 2 - SAMPLE_BYTES // 2, st.st_size - SAMPLE_BYTES):
                fh.seek(offset)
                digest.update(fh.read(SAMPLE_BYTES))
            hashed = "sampled"
    return {"path": str(p), "bytes": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": digest.hexdigest(),
            "hashed": hashed}


def of_run(plan: TrainingPlan) -> dict[str, Any]:
    data: dict[str, Any] = {"train": file_fingerprint(plan.data.train)}
    if plan.data.eval and os.path.isfile(plan.data.eval):
        data["eval"] = file_fingerprint(plan.data.eval)
    return {"plan": locked_plan(plan), "data": data, "free_on_resume": list(FREE_ON_RESUME)}


def _diff(old: Any, new: Any, where: str) -> list[str]:
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        # A key only the new plan has is a field added to the plan format since the checkpoint was written (its
        # default applies): not a change the user made, so it does not block a resume across trainer versions.
        for key in sorted(old):
            out.extend(_diff(old[key], new.get(key), f"{where}.{key}" if where else key))
        return out
    return [] if old == new else [f"{where}: {json.dumps(old)} -> {json.dumps(new)}"]


def _file_changed(old: dict[str, Any], new: dict[str, Any]) -> str | None:
    if old["bytes"] != new["bytes"]:
        return f"size {old['bytes']} -> {new['bytes']} bytes"
    if old["sha256"] != new["sha256"]:
        return "same size, different content"
    if old.get("hashed") == "sampled" and old.get("mtime_ns") != new["mtime_ns"]:
        # Only samples were hashed: a rewrite in between would go unseen, so a newer file counts as changed.
        return "modified since (too large to hash whole; the modification time changed)"
    return None


def mismatches(stored: dict[str, Any], current: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(refusals, notes): differences that make a resume continue on another plan or training set, and
    differences worth a warning only (the eval file)."""
    refusals = [f"plan {d}" for d in _diff(stored.get("plan", {}), current["plan"], "")]
    old_train, new_train = stored.get("data", {}).get("train"), current["data"]["train"]
    # A different data.train path is already a plan difference; the same path is checked for its content.
    if old_train is not None and old_train["path"] == new_train["path"]:
        why = _file_changed(old_train, new_train)
        if why:
            refusals.append(f"data.train {new_train['path']} changed since the checkpoint ({why})")
    notes = []
    old_eval, new_eval = stored.get("data", {}).get("eval"), current["data"].get("eval")
    if old_eval and new_eval and old_eval["path"] == new_eval["path"] and _file_changed(old_eval, new_eval):
        notes.append(f"data.eval {new_eval['path']} changed since the checkpoint: eval losses before and after "
                     "the resume are not comparable")
    return refusals, notes
