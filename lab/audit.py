"""Append-only JSON-lines audit log of every cmdlet call and REST request the lab serves."""

from __future__ import annotations

import datetime
import json
import re
import threading

MASK = "********"
# Any field or parameter whose name looks secret is masked, at any nesting depth.
_SECRET = re.compile(r"password|secret|credential|token", re.IGNORECASE)


def mask(value):
    """A copy of value with secret-looking keys replaced by MASK."""
    if isinstance(value, dict):
        return {k: (MASK if _SECRET.search(str(k)) else mask(v)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [mask(v) for v in value]
    return value


def _default(value):
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    return str(value)


class AuditLog:
    """Thread-safe writer; path None keeps entries in memory only (tests, dry runs)."""

    def __init__(self, path: str | None, clock=None) -> None:
        self._path = path
        self._clock = clock
        self._lock = threading.Lock()
        self._memory: list[dict] = []
        if path:
            # Truncate: one log per lab run.
            with open(path, "w", encoding="utf-8"):
                pass

    @property
    def path(self) -> str | None:
        return self._path

    def attach_clock(self, clock) -> None:
        """The world attaches its clock so ts is simulated time."""
        self._clock = clock

    def record(self, kind: str, host: str, **fields) -> dict:
        wall = datetime.datetime.now(datetime.timezone.utc)
        sim = self._clock.now() if self._clock is not None else wall
        entry = {"ts": sim.isoformat().replace("+00:00", "Z"), "wall": wall.isoformat().replace("+00:00", "Z"),
                 "kind": kind, "host": host}
        entry.update(mask(fields))
        line = json.dumps(entry, default=_default, sort_keys=False)
        with self._lock:
            if self._path:
                with open(self._path, "a", encoding="utf-8") as fh:
                    fh.write(line + "\n")
            else:
                self._memory.append(json.loads(line))
        return entry

    def entries(self) -> list[dict]:
        with self._lock:
            if not self._path:
                return list(self._memory)
            with open(self._path, encoding="utf-8") as fh:
                return [json.loads(line) for line in fh if line.strip()]
