"""What a checkpoint was trained on: the plan (less what may change on resume), the dataset file(s) and the base
model's files, so a resume after changing any of them is refused instead of silently continuing on something else.

The base model is fingerprinted cheaply, since its weights may be hundreds of GB: config.json and the weights index
by content, each weights file by name, size and modification time. A Hub id is pinned by the commit of its cached
snapshot, read offline from the cache's refs.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any

from ..plan import ModelRef, TrainingPlan

# Fields that do not change what is learned, or in which order, so a resume may change them: where the run is
# written and what happens after training (output.*), reporting cadence (logging/eval/save steps, checkpoint count),
# evaluation (data.eval, its batch size), the attention kernel, the editor's bookkeeping.
FREE_ON_RESUME = (
    "config_path",
    "engine",
    "hardware",
    "output",
    "data.eval",
    "model.attn_implementation",
    "training.logging_steps",
    "training.eval_steps",
    "training.per_device_eval_batch_size",
    "training.save_steps",
    "training.save_total_limit",
    "training.dataloader_num_workers",
)

# A file up to this size is hashed whole (about a second); a larger one is hashed in three samples (start, middle,
# end) and its modification time joins the comparison, so the cost stays bounded at any size.
FULL_HASH_BYTES = 256 * 1024**2
SAMPLE_BYTES = 16 * 1024**2

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".gguf")
HASHED_FILES = ("config.json", "model.safetensors.index.json", "pytorch_model.bin.index.json")
_COMMIT = re.compile(r"^[0-9a-f]{40}$")


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
    return {
        "path": str(p),
        "bytes": st.st_size,
        "mtime_ns": st.st_mtime_ns,
        "sha256": digest.hexdigest(),
        "hashed": hashed,
    }


def _sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def folder_fingerprint(folder: Path) -> dict[str, Any]:
    """The model files of one folder: small JSON files by content, weights by name, size and mtime."""
    hashed = {name: _sha256_of(folder / name) for name in HASHED_FILES if (folder / name).is_file()}
    weights = {}
    for path in sorted(folder.iterdir()):
        if path.suffix in WEIGHT_SUFFIXES and path.is_file():
            st = path.stat()  # follows the Hub cache's symlinks to the blobs
            weights[path.name] = {"bytes": st.st_size, "mtime_ns": st.st_mtime_ns}
    return {"hashed": hashed, "weights": weights}


def _cached_snapshot(repo_id: str, revision: str | None, cache_dir: Path) -> tuple[str | None, Path | None]:
    """(commit, snapshot folder) of a Hub model in the local cache, read without the network."""
    repo = cache_dir / ("models--" + repo_id.replace("/", "--"))
    ref = revision or "main"
    commit = ref if _COMMIT.match(ref) else None
    if commit is None:
        try:
            commit = (repo / "refs" / ref).read_text(encoding="utf-8").strip() or None
        except OSError:
            commit = None
    if commit is not None:
        return commit, None
    # No readable ref (a cache copied without refs/): the one snapshot there is what from_pretrained resolves.
    try:
        snapshots = [p for p in (repo / "snapshots").iterdir() if p.is_dir()]
    except OSError:
        snapshots = []
    return None, snapshots[0] if len(snapshots) == 1 else None


def model_fingerprint(ref: ModelRef, cache_dir: Path | None = None) -> dict[str, Any]:
    name = ref.name_or_path
    if os.path.isdir(name):
        return {"source": name, "kind": "local", **folder_fingerprint(Path(name))}
    if cache_dir is None:
        from huggingface_hub import constants

        cache_dir = Path(constants.HF_HUB_CACHE)
    commit, snapshot = _cached_snapshot(name, ref.revision, cache_dir)
    if commit is not None:
        return {"source": name, "kind": "hub", "commit": commit}
    if snapshot is not None:
        return {"source": name, "kind": "hub-files", **folder_fingerprint(snapshot)}
    return {"source": name, "kind": "unknown"}


def of_run(plan: TrainingPlan, cache_dir: Path | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {"train": file_fingerprint(plan.data.train)}
    if plan.data.eval and os.path.isfile(plan.data.eval):
        data["eval"] = file_fingerprint(plan.data.eval)
    return {
        "plan": locked_plan(plan),
        "data": data,
        "model": model_fingerprint(plan.model, cache_dir),
        "free_on_resume": list(FREE_ON_RESUME),
    }


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


def _weights_changed(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    out = [
        f"{name} changed"
        for name in sorted(set(old.get("hashed", {})) | set(new.get("hashed", {})))
        if old.get("hashed", {}).get(name) != new.get("hashed", {}).get(name)
    ]
    old_w, new_w = old.get("weights", {}), new.get("weights", {})
    for name in sorted(set(old_w) | set(new_w)):
        if name not in new_w:
            out.append(f"{name} is gone")
        elif name not in old_w:
            out.append(f"{name} is new")
        elif old_w[name]["bytes"] != new_w[name]["bytes"]:
            out.append(f"{name} changed (size {old_w[name]['bytes']} -> {new_w[name]['bytes']} bytes)")
        elif old_w[name]["mtime_ns"] != new_w[name]["mtime_ns"]:
            out.append(f"{name} changed (rewritten since: its modification time differs)")
    return out


def model_changes(old: dict[str, Any] | None, new: dict[str, Any] | None) -> list[str]:
    """What changed in the base model's files; [] when unchanged or not comparable (a checkpoint written before
    models were fingerprinted, another model name (a plan difference already), a Hub model not in the cache)."""
    if not old or not new or old.get("source") != new.get("source") or "unknown" in (old.get("kind"), new.get("kind")):
        return []
    where = f"base model {new['source']}"
    if old.get("kind") == "hub" and new.get("kind") == "hub":
        if old["commit"] != new["commit"]:
            return [
                f"{where}: the cached snapshot is commit {new['commit'][:12]} now, "
                f"{old['commit'][:12]} at the checkpoint"
            ]
        return []
    if old.get("kind") != new.get("kind"):
        return [f"{where}: resolved differently since the checkpoint ({old.get('kind')} -> {new.get('kind')})"]
    return [f"{where}: {change}" for change in _weights_changed(old, new)]


def mismatches(stored: dict[str, Any], current: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(refusals, notes): differences that make a resume continue on another plan, training set or base model,
    and differences worth a warning only (the eval file)."""
    refusals = [f"plan {d}" for d in _diff(stored.get("plan", {}), current["plan"], "")]
    refusals += model_changes(stored.get("model"), current.get("model"))
    old_train, new_train = stored.get("data", {}).get("train"), current["data"]["train"]
    # A different data.train path is already a plan difference; the same path is checked for its content.
    if old_train is not None and old_train["path"] == new_train["path"]:
        why = _file_changed(old_train, new_train)
        if why:
            refusals.append(f"data.train {new_train['path']} changed since the checkpoint ({why})")
    notes = []
    old_eval, new_eval = stored.get("data", {}).get("eval"), current["data"].get("eval")
    if old_eval and new_eval and old_eval["path"] == new_eval["path"] and _file_changed(old_eval, new_eval):
        notes.append(
            f"data.eval {new_eval['path']} changed since the checkpoint: eval losses before and after "
            "the resume are not comparable"
        )
    return refusals, notes
