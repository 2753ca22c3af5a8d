"""Requests the broker turned away for a moment, sent again (SPEC 10.5), as
libsegq's client/resend.c does.

A PUT or GET opens a transfer, and the broker bounds those: per
connection, per user and for all clients together. One over a bound is
refused with ELIMIT, to be retried in a moment: the transfers open end as
they finish or go idle. So the transport keeps the frames of each such
request until its answer comes, and on ELIMIT sends them again after a
pause that doubles from FIRST to MOST seconds, for FOR seconds at most;
only then does the refusal reach the caller. The copy keeps its request
id: whoever waits for the answer sees only the answer. At most KEPT copies
are kept, many more than the transfers a client starts at once; past that
the oldest goes, and its request, if refused, is not sent again.

Times are the caller's (time.monotonic() seconds), so that the class can
be tested with given ones.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

FIRST = 0.05
MOST = 2.0
FOR = 120.0
KEPT = 64


@dataclass
class _Copy:
    frames: list[bytes]
    refused_since: float | None = None  # None until refused
    due: float | None = None  # None unless to be sent again
    pause: float = FIRST  # the next pause


class Resend:
    """The kept requests by request id, oldest first."""

    def __init__(self) -> None:
        self._kept: dict[int, _Copy] = {}

    def __len__(self) -> int:
        return len(self._kept)

    def __contains__(self, req: int) -> bool:
        return req in self._kept

    def keep(self, req: int, frames: list[bytes]) -> None:
        """Keeps request req's frames until its answer."""
        if len(self._kept) >= KEPT:
            del self._kept[next(iter(self._kept))]
        self._kept[req] = _Copy(frames)

    def forget(self, req: int) -> None:
        """The request has its answer (or is given up): its copy is dropped."""
        self._kept.pop(req, None)

    def refused(self, req: int, now: float) -> bool:
        """Request req was refused with ELIMIT at now: True when it will be
        sent again (see due), False when it was not kept or has been refused
        for FOR seconds (its copy then dropped)."""
        copy = self._kept.get(req)
        if copy is None:
            return False
        if copy.refused_since is None:
            copy.refused_since = now
        if now - copy.refused_since >= FOR:
            del self._kept[req]
            return False
        copy.due = now + copy.pause
        copy.pause = min(copy.pause * 2, MOST)
        return True

    def due(self) -> float:
        """When the first copy is due again; math.inf when none is."""
        return min((c.due for c in self._kept.values() if c.due is not None), default=math.inf)

    def take_due(self, now: float) -> list[list[bytes]]:
        """The frames of the copies due by now, for the caller to send. They
        stay kept until their answer."""
        due = [c for c in self._kept.values() if c.due is not None and c.due <= now]
        for copy in due:
            copy.due = None
        return [c.frames for c in due]
