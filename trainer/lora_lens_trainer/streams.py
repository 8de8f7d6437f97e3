"""stdout and stderr are conveniences, never the record (events.jsonl and trainer.log are): when whoever reads them
goes away (a closed terminal, a killed CLI, `| head`), a write raises BrokenPipeError, and that must not end a run
that would otherwise write its checkpoint and `end` event. A failed stream's file descriptor is pointed at
/dev/null, so every later write to it (logging, a traceback, the interpreter's final flush) succeeds silently."""

from __future__ import annotations

import logging
import os
import sys
from typing import IO, Any

# ValueError: a stream already closed at the Python level.
STREAM_ERRORS = (OSError, ValueError)


def silence(stream: IO[Any]) -> None:
    try:
        fd = stream.fileno()
    except STREAM_ERRORS:
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
    finally:
        os.close(devnull)


def say(message: str) -> None:
    """One line to stderr for a person, even if nobody is reading it any more."""
    try:
        print(message, file=sys.stderr, flush=True)
    except STREAM_ERRORS:
        silence(sys.stderr)


class QuietStreamHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A StreamHandler whose failing stream is silenced instead of printing `--- Logging error ---` to that same
    broken stream on every record."""

    def handleError(self, record: logging.LogRecord) -> None:
        if isinstance(sys.exc_info()[1], STREAM_ERRORS):
            silence(self.stream)
            return
        super().handleError(record)
