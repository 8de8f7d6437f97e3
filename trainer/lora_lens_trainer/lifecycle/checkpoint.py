"""Checkpoints: trainable weights, optimizer, scheduler, loss scaler, RNG states, the data position and the
fingerprint of the plan and data, written to a temporary folder, fsynced and renamed into place, so a checkpoint
either exists whole or not at all. `trainer_state.json` is written last and lists every file with its size (and
SHA-256 up to HASH_LIMIT bytes), so a checkpoint damaged afterwards is recognised on resume and skipped."""

from __future__ import annotations

import hashlib
import json
import random
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..atomic import remove_stale_staging, staged_dir, write_json

_NAME = re.compile(r"^step-(\d+)$")
FORMAT = 2
STATE_FILE = "trainer_state.json"
# Hashing reads each file back once (from the page cache, just written); past this size only the size is kept, so
# a full fine-tuning checkpoint of tens of GB does not pay minutes of hashing.
HASH_LIMIT = 256 * 1024**2
# torch.distributed.checkpoint's index: an FSDP checkpoint's weights and optimizer states are its shard files,
# read back by the strategy (parallel/fsdp.py), not here.
SHARDED_MARKER = ".metadata"


class CheckpointDamaged(Exception):
    """A checkpoint folder whose files are missing, truncated, altered or unreadable."""


@dataclass
class Loaded:
    path: Path
    step: int
    progress: dict[str, Any]  # trainer_state.json: data position, tokens seen, elapsed, fingerprint
    weights: dict[str, torch.Tensor]  # empty in a sharded (torch.distributed.checkpoint) checkpoint
    optimizer: dict[str, Any]
    scheduler: dict[str, Any]
    rng: dict[str, Any]
    scaler: dict[str, Any] | None


def trainable_state(model: nn.Module) -> dict[str, torch.Tensor]:
    return {name: p.detach().contiguous() for name, p in model.named_parameters() if p.requires_grad}


def rng_state() -> dict[str, Any]:
    """RNG states as tensors and plain numbers only, so `torch.load(weights_only=True)` reads them back."""
    version, mt, gauss = random.getstate()
    state: dict[str, Any] = {
        "python_version": version,
        "python_mt": torch.tensor(mt, dtype=torch.int64),
        "python_gauss": gauss,
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = list(torch.cuda.get_rng_state_all())
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    if "python" in state:  # an older trainer's checkpoint: the tuple itself (still loadable with weights_only)
        random.setstate(tuple(state["python"]))
    else:
        random.setstate(
            (state["python_version"], tuple(int(v) for v in state["python_mt"].tolist()), state["python_gauss"])
        )
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _manifest(folder: Path) -> dict[str, dict[str, Any]]:
    out = {}
    for path in sorted(folder.iterdir()):
        size = path.stat().st_size
        out[path.name] = {"bytes": size, "sha256": _sha256(path) if size <= HASH_LIMIT else None}
    return out


def step_folder(folder: Path, step: int) -> Path:
    return folder / f"step-{step:07d}"


def save(
    folder: Path,
    step: int,
    model: nn.Module,
    optimizer: Any,
    scheduler: Any,
    progress: dict[str, Any],
    keep: int | None,
    fingerprint: dict[str, Any],
    scaler_state: dict[str, Any] | None = None,
    extra: Callable[[Path], None] | None = None,
) -> Path:
    """Writes checkpoints/step-N; the older ones beyond `keep` are removed only once it is complete. `extra`
    writes more files into the staging folder (each rank's RNG state when several processes train)."""
    from safetensors.torch import save_file

    remove_stale_staging(folder)
    final = step_folder(folder, step)
    with staged_dir(final) as tmp:
        save_file({k: v.cpu() for k, v in trainable_state(model).items()}, str(tmp / "trainable.safetensors"))
        torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
        torch.save(scheduler.state_dict(), tmp / "scheduler.pt")
        torch.save(rng_state(), tmp / "rng.pt")
        if scaler_state is not None:
            torch.save(scaler_state, tmp / "scaler.pt")
        if extra is not None:
            extra(tmp)
        finish(tmp, progress, step, fingerprint)
    prune(folder, keep)
    return final


def finish(tmp: Path, progress: dict[str, Any], step: int, fingerprint: dict[str, Any]) -> None:
    """Written last: its presence marks the checkpoint complete, and it lists what "complete" means."""
    write_json(
        tmp / STATE_FILE,
        {**progress, "step": step, "format": FORMAT, "files": _manifest(tmp), "fingerprint": fingerprint},
    )


def prune(folder: Path, keep: int | None) -> None:
    if keep:
        for _, old in list_checkpoints(folder)[:-keep]:
            shutil.rmtree(old, ignore_errors=True)


def list_checkpoints(folder: Path) -> list[tuple[int, Path]]:
    """Complete checkpoints (those with trainer_state.json), oldest first."""
    if not folder.is_dir():
        return []
    out = []
    for child in folder.iterdir():
        m = _NAME.match(child.name)
        if m and (child / STATE_FILE).is_file():
            out.append((int(m.group(1)), child))
    return sorted(out)


def latest(folder: Path) -> Path | None:
    found = list_checkpoints(folder)
    return found[-1][1] if found else None


def _verify(path: Path) -> dict[str, Any]:
    try:
        state = json.loads((path / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise CheckpointDamaged(f"{STATE_FILE} unreadable ({error})") from error
    for name, meta in state.get("files", {}).items():
        file = path / name
        if not file.is_file():
            raise CheckpointDamaged(f"{name} is missing")
        if file.stat().st_size != meta["bytes"]:
            raise CheckpointDamaged(f"{name} is {file.stat().st_size} bytes, {meta['bytes']} were written")
        if meta.get("sha256") and _sha256(file) != meta["sha256"]:
            raise CheckpointDamaged(f"{name} does not have the content that was written (SHA-256 differs)")
    return state


def read(path: Path, device: torch.device) -> Loaded:
    """Everything in the checkpoint, read and checked before anything is applied, so a damaged one changes nothing."""
    from safetensors.torch import load_file

    state = _verify(path)
    sharded = (path / SHARDED_MARKER).is_file()
    try:
        weights = {} if sharded else load_file(str(path / "trainable.safetensors"), device=str(device))
        optimizer = {} if sharded else torch.load(path / "optimizer.pt", map_location=device, weights_only=True)
        scheduler = torch.load(path / "scheduler.pt", weights_only=True)
        rng = torch.load(path / "rng.pt", weights_only=True)
        scaler_file = path / "scaler.pt"
        scaler = torch.load(scaler_file, weights_only=True) if scaler_file.is_file() else None
    except Exception as error:  # safetensors, zip and unpickler errors all mean the same here
        raise CheckpointDamaged(f"unreadable: {type(error).__name__}: {str(error)[:200]}") from error
    return Loaded(path, int(state["step"]), state, weights, optimizer, scheduler, rng, scaler)


def apply(loaded: Loaded, model: nn.Module, optimizer: Any, scheduler: Any) -> None:
    params = {name: p for name, p in model.named_parameters() if p.requires_grad}
    unknown = sorted(set(loaded.weights) - set(params))
    missing = sorted(set(params) - set(loaded.weights))
    if unknown or missing:
        raise RuntimeError(
            f"checkpoint {loaded.path} does not match this model (unknown: {unknown[:3]}, missing: {missing[:3]})"
        )
    with torch.no_grad():
        for name, value in loaded.weights.items():
            params[name].copy_(value)
    optimizer.load_state_dict(loaded.optimizer)
    scheduler.load_state_dict(loaded.scheduler)
    set_rng_state(loaded.rng)


def set_aside(path: Path) -> Path:
    """Renames a damaged checkpoint so no later resume picks it again; it stays on disk for inspection."""
    target = path.with_name(path.name + ".damaged")
    n = 1
    while target.exists():
        n += 1
        target = path.with_name(f"{path.name}.damaged-{n}")
    path.rename(target)
    return target


def newest_usable(folder: Path, device: torch.device, on_damaged: Callable[[Path, str, Path], None]) -> Loaded | None:
    """The newest checkpoint that reads back whole; each damaged newer one is set aside and reported."""
    remove_stale_staging(folder)
    for _, path in reversed(list_checkpoints(folder)):
        try:
            return read(path, device)
        except CheckpointDamaged as error:
            on_damaged(path, str(error), set_aside(path))
    return None
