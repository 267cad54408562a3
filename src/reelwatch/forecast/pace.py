"""How fast a drive fills: bytes added per time bucket, measured two ways, read over two windows.

What lands on a drive is measured from

- **free space** (``statvfs`` samples, :func:`read_space`): the change between two samples,
  spread evenly over the time between them. This is the measure used wherever samples exist:
  it counts files still being copied, files in folders reelwatch ignores and writes by other
  machines to a share, and it does not count what takes no space (a folder moved in from the
  same drive, a reflink copy), all of which decide when the drive is really full. Small rises
  are netted against the drops, so that jitter in the reading (delayed allocation, a copy
  tool's temp files) cancels instead of adding up to a phantom rate; a rise of more than
  ``DELETION`` of the drive is a deletion and is set aside, so that making room while an
  offload runs does not hide the offload.
- **settled files** (:meth:`FillRate.landed`: size and ctime of each new file version): used
  for the time before the first free-space sample, i.e. for what landed while nothing was
  sampling (the first start, a drive found with files already copied to it). ctime, not
  mtime: offload tools keep the camera's modification times, and a rescan finds files long
  after they landed.

Rates are read over a short window (``current``: the offload going on now) and a long one
(``pace``: the day's pace, idle gaps included). Each window starts no earlier than the first
observation, so a drive plugged in five minutes ago is measured over those five minutes,
not diluted by the hours before it existed; a floor of ``min_span`` seconds keeps one early
chunk from reading as an absurd rate. Memory is bounded: ``BUCKET``-second buckets over the
long window (2,160 per series for 3 hours).
"""

from __future__ import annotations

import bisect
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

SNAPSHOT_STEP = 60.0
"""Seconds per total in a snapshot."""
DELETION = 0.005
"""A rise in free space above this share of the drive is a deletion, not jitter (20 GB of 4 TB)."""
BUCKET = 5.0
"""Seconds per bucket: small in memory (2,160 buckets for 3 hours); the bucket a window starts in
counts pro rata, so even a 2-minute window is not off by a bucket."""


@dataclass(frozen=True, slots=True)
class Space:
    """One reading of a filesystem: bytes free to an ordinary user, and its size."""

    free: int
    total: int


def read_space(path: str) -> Space:
    """``statvfs`` of ``path``. ``f_bavail``: the space a copy tool running as a user can fill
    (ext4 keeps 5 % for root, which a DIT's copy never gets). Raises :class:`OSError`."""
    st = os.statvfs(path)
    return Space(free=st.f_bavail * st.f_frsize, total=st.f_blocks * st.f_frsize)


@dataclass(frozen=True, slots=True)
class Rates:
    """Fill rates in bytes per second."""

    current: float
    """Over the short window: the offload going on now."""
    pace: float
    """Over the long window, idle gaps included: the day's pace."""
    pace_span: float
    """Seconds the long window really covers (less while the drive is new to reelwatch)."""


class _Series:
    """Bytes per bucket, in time order. Out-of-order adds (a rescan's old ctimes) are fine."""

    def __init__(self) -> None:
        self.starts: list[float] = []
        self.sizes: list[float] = []
        self.minutes: dict[float, float] = {}
        """Totals per ``SNAPSHOT_STEP``, kept as bytes are added, so that a snapshot costs no walk."""
        self.first = math.inf
        """The earliest moment anything was added: nothing of the series lies before it."""

    def add(self, at: float, size: float) -> None:
        self.first = min(self.first, at)
        minute = math.floor(at / SNAPSHOT_STEP) * SNAPSHOT_STEP
        self.minutes[minute] = self.minutes.get(minute, 0.0) + size
        start = math.floor(at / BUCKET) * BUCKET
        i = bisect.bisect_left(self.starts, start)
        if i < len(self.starts) and self.starts[i] == start:
            self.sizes[i] += size
        else:
            self.starts.insert(i, start)
            self.sizes.insert(i, size)

    def spread(self, begin: float, end: float, size: float) -> None:
        """Add ``size`` bytes evenly over ``(begin, end]``."""
        if end - begin <= BUCKET:
            self.add(end, size)
            return
        per_second = size / (end - begin)
        t = begin
        while t < end:
            edge = min(end, (math.floor(t / BUCKET) + 1) * BUCKET)
            self.add(t, per_second * (edge - t))
            t = edge

    def total(self, begin: float, end: float) -> float:
        """Bytes from ``begin`` to ``end``: whole buckets, and the share of the bucket ``begin`` falls in
        (bytes spread evenly over the part of it after the series began), so that a short window is
        not off by a bucket, and a window that starts where the series does loses nothing."""
        first = math.floor(begin / BUCKET) * BUCKET
        lo = bisect.bisect_left(self.starts, first)
        hi = bisect.bisect_left(self.starts, end)
        total = sum(self.sizes[lo:hi])
        edge = max(first, self.first)
        if lo < hi and self.starts[lo] == first and begin > edge:
            total -= self.sizes[lo] * min(1.0, (begin - edge) / (first + BUCKET - edge))
        return total

    def prune(self, before: float) -> None:
        cut = bisect.bisect_left(self.starts, math.floor(before / BUCKET) * BUCKET)
        del self.starts[:cut], self.sizes[:cut]
        if self.minutes and min(self.minutes) < before - SNAPSHOT_STEP:
            self.minutes = {m: b for m, b in self.minutes.items() if m >= before - SNAPSHOT_STEP}

    def dump(self) -> dict[str, Any]:
        """Per-minute totals from the first bucket on: a few hundred integers for 3 hours, cheap to write
        every tick. A restart spreads each minute evenly again: within a minute of right."""
        if not self.minutes:
            return {}
        first = min(self.minutes)
        out = [0] * (int((max(self.minutes) - first) // SNAPSHOT_STEP) + 1)
        for minute, size in self.minutes.items():
            out[int((minute - first) // SNAPSHOT_STEP)] = round(size)
        return {"from": first, "step": SNAPSHOT_STEP, "bytes": out}

    def load(self, data: Any) -> None:
        if not data:
            return
        first, step = float(data["from"]), float(data["step"])
        for i, size in enumerate(data["bytes"]):
            if size:
                self.spread(first + i * step, first + (i + 1) * step, float(size))


class FillRate:
    """The fill rate of one drive. Times are wall-clock seconds, always passed in (never read)."""

    def __init__(self, since: float, *, short: float = 600.0, long: float = 10800.0,
                 min_span: float = 60.0) -> None:
        self.short, self.long, self.min_span = short, long, min_span
        self.since = since
        """Start of observation: the drive was picked up, or the earliest landing seen."""
        self._landed = _Series()
        self._space = _Series()
        self._space_since: float | None = None
        self._last: tuple[float, int] | None = None
        """The previous free-space sample (at, free)."""

    def landed(self, at: float, size: int) -> None:
        """A new file version of ``size`` bytes (the growth, for a changed file) whose ctime is ``at``."""
        if size <= 0 or not math.isfinite(at):
            return
        self.since = min(self.since, at)
        if self._space_since is not None and at >= self._space_since:
            return  # the free-space readings count it (counting it here too would count it twice)
        self._landed.add(at, size)

    def sample(self, at: float, free: int, total: int = 0) -> None:
        """A free-space reading taken at ``at`` (``total``: the drive's size, to tell a deletion from jitter)."""
        if self._last is not None:
            before, was = self._last
            if at <= before:
                return  # the clock went back, or the same reading twice
            change = was - free
            if change > 0 or -change <= DELETION * total:
                keep_from = max(before, at - self.long - BUCKET)
                share = (at - keep_from) / (at - before)
                self._space.spread(keep_from, at, change * share)
        else:
            self._space_since = at
        self._last = (at, free)

    def bytes_between(self, begin: float, end: float) -> float:
        """Bytes that landed in ``[begin, end]``: free-space drops where sampled, settled files before."""
        if self._space_since is None:
            return self._landed.total(begin, end + BUCKET)
        cut = max(begin, self._space_since)
        early = self._landed.total(begin, cut) if begin < cut else 0.0
        return early + self._space.total(cut, end + BUCKET)

    def rate(self, now: float, window: float) -> tuple[float, float]:
        """(bytes per second, seconds covered) over the last ``window`` seconds."""
        begin = max(now - window, self.since)
        covered = max(now - begin, 0.0)
        return max(0.0, self.bytes_between(begin, now)) / max(covered, self.min_span), covered

    def rates(self, now: float) -> Rates:
        current, _ = self.rate(now, self.short)
        pace, covered = self.rate(now, self.long)
        return Rates(current=current, pace=pace, pace_span=covered)

    def prune(self, now: float) -> None:
        """Forget what is older than the long window."""
        self._landed.prune(now - self.long - BUCKET)
        self._space.prune(now - self.long - BUCKET)

    def snapshot(self) -> dict[str, Any]:
        return {"since": self.since, "landed": self._landed.dump(), "space": self._space.dump(),
                "space_since": self._space_since, "last": list(self._last) if self._last else None}

    @classmethod
    def restore(cls, data: Mapping[str, Any], *, short: float, long: float, min_span: float) -> FillRate:
        out = cls(float(data.get("since", 0.0)), short=short, long=long, min_span=min_span)
        out._landed.load(data.get("landed"))
        out._space.load(data.get("space"))
        since = data.get("space_since")
        out._space_since = float(since) if since is not None else None
        last = data.get("last")
        out._last = (float(last[0]), int(last[1])) if last else None
        return out
