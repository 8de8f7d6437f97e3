"""Checkpoints: trainable weights, optimizer, scheduler, RNG states and the data position, written to a
temporary folder and renamed into place, so a checkpoint either exists whole or not at all."""
from __future__ import annotations

import json
import random
import re
import shutil
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .atomic import staged_dir, write_json

_NAME = re.compile(r"^step-(\d+)$")


def trainable_state(model: nn.Module) -> dict[str, torch.Tensor]:
    return {name: p.detach().contiguous() for name, p in model.named_parameters() if p.requires_grad}


def rng_state() -> dict[str, Any]:
    state: dict[str, Any] = {"python": random.getstate(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save(folder: Path, step: int, model: nn.Module, optimizer: Any, scheduler: Any, progress: dict[str, Any],
         keep: int | None) -> Path:
    from safetensors.torch import save_file

    final = folder / f"step-{step:07d}"
    with staged_dir(final) as tmp:
        save_file({k: v.cpu() for k, v in trainable_state(model).items()}, str(tmp / "trainable.safetensors"))
        torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
        torch.save(scheduler.state_dict(), tmp / "scheduler.pt")
        torch.save(rng_state(), tmp / "rng.pt")
        # Written last: its presence marks the checkpoint complete even for readers that ignore the rename.
        write_json(tmp / "trainer_state.json", {**progress, "step": step})
    if keep:
        for old in sorted(list_checkpoints(folder))[:-keep]:
            shutil.rmtree(old[1], ignore_errors=True)
    return final


def list_checkpoints(folder: Path) -> list[tuple[int, Path]]:
    if not folder.is_dir():
        return []
    out = []
    for child in folder.iterdir():
        m = _NAME.match(child.name)
        if m and (child / "trainer_state.json").is_file():
            out.append((int(m.group(1)), child))
    return sorted(out)


def latest(folder: Path) -> Path | None:
    found = list_checkpoints(folder)
    return found[-1][1] if found else None


def load(path: Path, model: nn.Module, optimizer: Any, scheduler: Any, device: torch.device) -> dict[str, Any]:
    from safetensors.torch import load_file

    weights = load_file(str(path / "trainable.safetensors"), device=str(device))
    params = dict(model.named_parameters())
    missing = [k for k in weights if k not in params]
    if missing:
        raise RuntimeError(f"checkpoint {path} does not match this model (unknown: {missing[:3]})")
    with torch.no_grad():
        for name, value in weights.items():
            params[name].copy_(value)
    optimizer.load_state_dict(torch.load(path / "optimizer.pt", map_location=device, weights_only=True))
    scheduler.load_state_dict(torch.load(path / "scheduler.pt", weights_only=True))
    set_rng_state(torch.load(path / "rng.pt", weights_only=False))
    return json.loads((path / "trainer_state.json").read_text(encoding="utf-8"))
