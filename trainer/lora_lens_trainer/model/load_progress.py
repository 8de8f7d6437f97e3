"""`loading` events while the streaming loader reads the checkpoint: start (totals known, nothing read), progress (at
most once a second), done. The CLI draws them as a bar and the run panel shows "loading N%" until the start event.

The reporter also logs about every 5% of the bytes, so that trainer.log shows a slow load where no one reads events.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable

log = logging.getLogger("lora_lens_trainer")

GIB = 1024**3
PROGRESS_EVERY_S = 1.0
# Seconds between progress events instead of PROGRESS_EVERY_S (0: after every tensor, which the tests use to see
# progress events from a tiny model that loads in milliseconds).
EVERY_ENV = "LORA_LENS_LOADING_EVENT_EVERY_S"
LOG_EVERY = 0.05  # of the bytes

# Receives one event's fields: model, phase, tensors_done, tensors_total, loaded_bytes, total_bytes.
LoadListener = Callable[..., object]


class LoadReport:
    """Turns the loader's per-tensor callback into `loading` events and log lines."""

    def __init__(self, model: str, listener: LoadListener | None, clock: Callable[[], float] = time.monotonic) -> None:
        self.model, self.listener, self.clock = model, listener, clock
        self.every_s = _every_s()
        self._last_event = 0.0
        self._next_log = 0

    def start(self, tensors_total: int, total_bytes: int) -> None:
        self._next_log = max(int(total_bytes * LOG_EVERY), 1)
        log.info("loading weights: %d tensors, %.2f GiB", tensors_total, total_bytes / GIB)
        self._emit("start", 0, tensors_total, 0, total_bytes)

    def __call__(self, tensors_done: int, tensors_total: int, loaded_bytes: int, total_bytes: int) -> None:
        """After each tensor (the loader's progress callback)."""
        if loaded_bytes >= self._next_log or tensors_done == tensors_total:
            log.info("loading weights: %.2f of %.2f GiB", loaded_bytes / GIB, total_bytes / GIB)
            self._next_log = loaded_bytes + max(int(total_bytes * LOG_EVERY), 1)
        if tensors_done == tensors_total:
            self._emit("done", tensors_done, tensors_total, loaded_bytes, total_bytes)
        elif self.clock() - self._last_event >= self.every_s:
            self._emit("progress", tensors_done, tensors_total, loaded_bytes, total_bytes)

    def _emit(self, phase: str, tensors_done: int, tensors_total: int, loaded_bytes: int, total_bytes: int) -> None:
        self._last_event = self.clock()
        if self.listener is not None:
            self.listener(
                model=self.model,
                phase=phase,
                tensors_done=tensors_done,
                tensors_total=tensors_total,
                loaded_bytes=loaded_bytes,
                total_bytes=total_bytes,
            )


def _every_s() -> float:
    raw = os.environ.get(EVERY_ENV, "").strip()
    try:
        return max(float(raw), 0.0) if raw else PROGRESS_EVERY_S
    except ValueError:
        log.warning(
            "%s=%r is not a number of seconds: progress events come every %.0f s", EVERY_ENV, raw, PROGRESS_EVERY_S
        )
        return PROGRESS_EVERY_S
