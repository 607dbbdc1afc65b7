"""A one-line progress report on a terminal, for steps that take more than a second: a query over a large
lake lists and opens files for a while, and silence then looks like a hang. Never on a pipe or a file."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TextIO

# Quiet for quick steps: most queries answer before a line would be worth printing.
AFTER_SECONDS = 1.0


class Progress:
    """`show(text)` rewrites the line once `AFTER_SECONDS` have passed since it was made (and at most ten
    times a second); `clear()` removes it before the answer is printed. Thread-safe: scans report from
    Arrow's threads."""

    def __init__(self, stream: TextIO, clock: Callable[[], float] = time.monotonic) -> None:
        self._stream = stream
        self._on = stream.isatty()
        self._clock = clock
        self._start = clock()
        self._last = 0.0
        self._width = 0
        self._lock = threading.Lock()

    def show(self, text: str) -> None:
        if not self._on:
            return
        with self._lock:
            now = self._clock()
            if now - self._start < AFTER_SECONDS or now - self._last < 0.1:
                return
            self._last = now
            line = f"{text} ({now - self._start:.0f} s)"
            self._stream.write("\r" + line.ljust(self._width))
            self._stream.flush()
            self._width = len(line)

    def clear(self) -> None:
        with self._lock:
            if self._width:
                self._stream.write("\r" + " " * self._width + "\r")
                self._stream.flush()
                self._width = 0
