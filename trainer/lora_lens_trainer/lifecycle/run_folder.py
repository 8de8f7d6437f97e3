"""The run folder for the trainer's life: an exclusive lock, so two trainers never interleave events or
checkpoints in one folder, and a presence check, so a folder deleted mid-run is not quietly recreated by the next
checkpoint and reported as a completed run.

`<run_dir>/run.lock` holds the pid of the trainer holding it while it runs, and is emptied when it lets go. The
flock is what counts: the kernel drops it when the process dies, so a pid left in the file after a crash is stale.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

LOCK_FILE = "run.lock"


class RunFolderLocked(Exception):
    def __init__(self, run_dir: Path, pid: int | None) -> None:
        holder = f"pid {pid}" if pid is not None else "pid unknown"
        super().__init__(
            f"the run folder {run_dir} is in use by another trainer ({holder}); stop it first or pick another --run-dir"
        )
        self.pid = pid


class RunFolderGone(Exception):
    def __init__(self, run_dir: Path) -> None:
        super().__init__(
            f"the run folder {run_dir} was deleted while training; nothing more is written (the run stops as failed)"
        )


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        return int(text) if text else None
    except (OSError, ValueError):
        return None


def _same_file(path: Path, fd: int) -> bool:
    """Whether `path` still names the file open as `fd` (not deleted, not replaced by a new one)."""
    try:
        now = os.stat(path)
    except FileNotFoundError:
        return False
    opened = os.fstat(fd)
    return opened.st_nlink > 0 and (now.st_dev, now.st_ino) == (opened.st_dev, opened.st_ino)


class RunFolder:
    """Held from `claim` to `release`; `check` raises RunFolderGone once the folder or a watched file is gone."""

    def __init__(self, path: Path, lock_fd: int) -> None:
        self.path = path
        self._lock_fd = lock_fd
        self._watched: list[tuple[Path, int]] = [(path / LOCK_FILE, lock_fd)]

    @classmethod
    def claim(cls, path: Path) -> RunFolder:
        """Creates the folder if need be and takes its lock; raises RunFolderLocked, having written nothing, when
        another process holds it."""
        path.mkdir(parents=True, exist_ok=True)
        fd = os.open(path / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = _read_pid(fd)
            os.close(fd)
            raise RunFolderLocked(path, pid) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        return cls(path, fd)

    def watch(self, path: Path, fd: int) -> None:
        self._watched.append((path, fd))

    def check(self) -> None:
        for path, fd in self._watched:
            if not _same_file(path, fd):
                raise RunFolderGone(self.path)

    def release(self) -> None:
        if self._lock_fd < 0:
            return
        try:
            os.ftruncate(self._lock_fd, 0)
        except OSError:
            pass  # a full disk or a deleted folder: the flock below is what matters
        fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
        os.close(self._lock_fd)
        self._lock_fd = -1
