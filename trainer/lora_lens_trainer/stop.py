"""Graceful stop: SIGINT/SIGTERM/SIGHUP ask for a checkpoint at the next step boundary. SIGHUP is what a closed
terminal sends: by default it would kill the run without a checkpoint or an `end` event.

A second signal while a checkpoint or the export is being written is noted and ignored: that write is what the
stop asked for, and only SIGKILL should cut it short (the previous checkpoint is intact either way, since a new
one appears only by a rename once complete). A second signal at any other time abandons the run at once.
"""

from __future__ import annotations

import logging
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

log = logging.getLogger("lora_lens_trainer")


class StopFlag:
    def __init__(self) -> None:
        self.requested: str | None = None
        self.saving = False
        self._previous: dict[int, Any] = {}

    def install(self) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            self._previous[sig] = signal.signal(sig, self._handle)

    def uninstall(self) -> None:
        """Puts back the handlers `install` replaced (a trainer run inside another program, e.g. a test)."""
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()

    def _handle(self, signum: int, _frame: Any) -> None:
        name = signal.Signals(signum).name
        if self.requested is None:
            self.requested = name
            log.info("%s received: stopping after the current step (a checkpoint is written first)", name)
            return
        if self.saving:
            log.warning(
                "%s received while saving: the write continues (SIGKILL abandons it; the previous "
                "checkpoint stays intact)",
                name,
            )
            return
        raise KeyboardInterrupt

    @contextmanager
    def saving_section(self) -> Iterator[None]:
        self.saving = True
        try:
            yield
        finally:
            self.saving = False
