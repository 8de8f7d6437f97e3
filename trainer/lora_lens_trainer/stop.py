"""Graceful stop: SIGINT/SIGTERM ask for a checkpoint at the next step boundary.

A second signal while a checkpoint or the export is being written is noted and ignored: that write is what the
stop asked for, and only SIGKILL should cut it short (the previous checkpoint is intact either way, since a new
one appears only by a rename once complete). A second signal at any other time abandons the run at once.
"""
from __future__ import annotations

import logging
import signal
from contextlib import contextmanager
from typing import Any, Iterator

log = logging.getLogger("lora_lens_trainer")


class StopFlag:
    def __init__(self) -> None:
        self.requested: str | None = None
        self.saving = False

    def install(self) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._handle)

    def _handle(self, signum: int, _frame: Any) -> None:
        name = signal.Signals(signum).name
        if self.requested is None:
            self.requested = name
            log.info("%s received: stopping after the current step (a checkpoint is written first)", name)
            return
        if self.saving:
            log.warning("%s received while saving: the write continues (SIGKILL abandons it; the previous "
                        "checkpoint stays intact)", name)
            return
        raise KeyboardInterrupt

    @contextmanager
    def saving_section(self) -> Iterator[None]:
        self.saving = True
        try:
            yield
        finally:
            self.saving = False
