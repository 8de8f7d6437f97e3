"""The trainer's exit codes, in one place: the CLI and the editor read them (server/src/runs) to tell a failure the
events describe from one they cannot (a run folder another trainer holds writes no event at all)."""

from __future__ import annotations

from typing import Final

OK: Final = 0
FAILED: Final = 1  # the events say why (an `error` event, then `end` with status failed)
OOM: Final = 3  # CUDA out of memory: the `error` event of kind oom carries the figures and advice
LOCKED: Final = 4  # the run folder is in use by another trainer: nothing was written into it
