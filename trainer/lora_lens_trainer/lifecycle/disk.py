"""A full disk while writing a checkpoint or the adapter, reported as what it is: torch's zip writer says
`[enforce fail at inline_container.cc:...]`, safetensors and plain writes say ENOSPC; both become DiskFull with the
free space and what the write needed. The writes are staged (atomic.staged_dir), so the previous checkpoint is
intact and the run resumes from it once there is room."""

from __future__ import annotations

import errno
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)
# What torch's PyTorchStreamWriter raises when a write comes up short (its own message names no errno).
TORCH_SHORT_WRITE = ("inline_container", "file write failed", "No space left")


class DiskFull(Exception):
    def __init__(self, message: str, advice: list[str]) -> None:
        super().__init__(message)
        self.advice = advice


def is_disk_full(error: BaseException | None) -> bool:
    seen = 0
    while error is not None and seen < 8:  # the cause chain: a wrapper may carry the OSError underneath
        if isinstance(error, OSError) and error.errno in FULL_ERRNOS:
            return True
        if isinstance(error, RuntimeError) and any(s in str(error) for s in TORCH_SHORT_WRITE):
            return True
        error = error.__cause__ or error.__context__
        seen += 1
    return False


def human_bytes(n: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def free_bytes(folder: Path) -> int | None:
    # The folder itself may be a half-created staging path: ask the nearest existing parent.
    for candidate in (folder, *folder.parents):
        try:
            return shutil.disk_usage(candidate).free
        except OSError:
            continue
    return None


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


@contextmanager
def reported(what: str, folder: Path, needed: Callable[[], int | None]) -> Iterator[None]:
    """Turns a disk-full failure of the writes inside into DiskFull; any other error passes unchanged."""
    try:
        yield
    except Exception as error:
        if not is_disk_full(error):
            raise
        raise disk_full(what, folder, needed()) from error


def disk_full(what: str, folder: Path, needed: int | None) -> DiskFull:
    free = free_bytes(folder)
    room = "unknown free space" if free is None else f"{human_bytes(free)} free"
    need = "" if needed is None else f"; it needs about {human_bytes(needed)}"
    message = f"the disk is full: {what} could not be written to {folder} ({room} on that filesystem{need})"
    advice = [
        f"free space on the filesystem that holds {folder}",
        "or keep fewer checkpoints: set training.save_total_limit (e.g. 2); the oldest are removed once a new "
        "one is complete, so there must be room for one more than the limit",
        "the previous checkpoint is intact: continue from it with --resume once there is room",
    ]
    return DiskFull(message, advice)
