"""Simulated UTC time: the lab runs faster than real time so DR timings fit in a rehearsal."""

from __future__ import annotations

import datetime
import threading
import time


class Clock:
    """now() = start + real elapsed seconds x scale + manual advances (tests jump time)."""

    def __init__(self, scale: float = 60.0, start: datetime.datetime | None = None) -> None:
        if scale <= 0:
            raise ValueError("clock scale must be positive")
        if start is None:
            start = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
        elif start.tzinfo is None:
            raise ValueError("clock start must be timezone-aware")
        self._scale = float(scale)
        self._start = start.astimezone(datetime.timezone.utc)
        self._t0 = time.monotonic()
        self._offset = 0.0
        self._lock = threading.Lock()

    @property
    def scale(self) -> float:
        return self._scale

    @property
    def start(self) -> datetime.datetime:
        return self._start

    def now(self) -> datetime.datetime:
        with self._lock:
            elapsed = (time.monotonic() - self._t0) * self._scale + self._offset
        return self._start + datetime.timedelta(seconds=elapsed)

    def advance(self, seconds: float) -> datetime.datetime:
        """Jump simulated time forward (never backwards: the replication model assumes monotonic time)."""
        if seconds < 0:
            raise ValueError("the lab clock cannot go backwards")
        with self._lock:
            self._offset += seconds
        return self.now()
