"""Nothing half-written: files and folders appear under their final name only once complete, and once they do
they survive a power loss (every file, the folder and its parent are fsynced before and after the rename)."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def fsync_path(path: Path) -> None:
    """fsync a file or a folder (a folder's fsync makes the names inside it durable, e.g. after a rename)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_tree(folder: Path) -> None:
    for root, _dirs, files in os.walk(folder):
        for name in files:
            fsync_path(Path(root) / name)
        fsync_path(Path(root))


def write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    fsync_path(path.parent)


def write_json(path: Path, value: Any) -> None:
    write_text(path, json.dumps(value, indent=2) + "\n")


def remove_stale_staging(folder: Path) -> list[Path]:
    """Temporary folders that a killed process left beside its final folders (`.NAME.tmp-PID`, `.NAME.old-PID`)
    are removed; an `.old` one whose NAME is missing (killed between the two renames of a replace) is the complete
    previous version and is put back instead."""
    if not folder.is_dir():
        return []
    stale = [
        p
        for p in folder.iterdir()
        if p.name.startswith(".")
        and (".tmp-" in p.name or ".old-" in p.name)
        and not p.name.endswith(f"-{os.getpid()}")
    ]
    for path in stale:
        if ".old-" in path.name:
            original = folder / path.name[1 : path.name.rindex(".old-")]
            if not original.exists():
                os.replace(path, original)
                continue
        shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
    return stale


@contextmanager
def staged_dir(final: Path) -> Iterator[Path]:
    """Yields a temporary sibling folder; on success it is fsynced and replaces `final` in one rename (the parent
    fsynced after), on failure or interruption it is removed and whatever `final` held is untouched."""
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f".{final.name}.tmp-{os.getpid()}")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    try:
        yield tmp
        fsync_tree(tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if final.exists():
        # A rename cannot replace a non-empty folder: move the old one aside first so the swap is short.
        old = final.with_name(f".{final.name}.old-{os.getpid()}")
        os.replace(final, old)
        os.replace(tmp, final)
        fsync_path(final.parent)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, final)
        fsync_path(final.parent)
