"""A timeline's VFX pulls as deliveries due (``[[rules.deliveries.timelines]]``, docs/forecast.md).

A VFX coordinator's pull list (an EDL, XML or AAF whose events are the shots sent to vendors) says
which shots must come back; the entry says by when (``due``, unless the pull list carries it) and
which task (``comp``). Like a schedule file, the newest file under the entry's path or glob is in
force, read again when its path, size or mtime changes; a pull list that cannot be read, or a shot
with no due time, keeps the previous version in force and says why, once.

Reading a cut list runs the timeline reader in a child process (:func:`read_isolated`: 0.3-2 s,
up to its timeout on a file that hangs a reader), so each read runs on a thread of its own and
hands the schedule to the forecaster when done: the control loop, which pings systemd's
watchdog, never waits for it.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable
from typing import Any

import structlog

from ..checking.timelines import base_rate, settings, source_for
from ..core.config import Config
from ..core.config_paths import volume_of
from ..core.model import Asset
from ..forecast import ScheduleError, VfxPull, schedule_from_pulls
from ..forecast.settings import TimelineSource
from ..timeline import Timeline, display_name, read_isolated, shot_of

log = structlog.get_logger("reelwatch.pulls")


def pulls_of(timelines: Iterable[Timeline], src: TimelineSource, shot_pattern: str | None) -> list[VfxPull]:
    """One pull per event that names a shot (an event with no marker and no clip name names none)."""
    out: list[VfxPull] = []
    for tl in timelines:
        for event in tl.events:
            shot = shot_of(event, shot_pattern)
            if shot:
                out.append(VfxPull(shot, task=src.task, role=src.role,
                                   where=f"{display_name(tl)} event {event.number} ({tl.tc(event.record_in)})"))
    return out


class PullLists:
    """Reads the pull lists of ``[[rules.deliveries.timelines]]`` and hands each new version to
    ``deliver(name, schedule)`` or ``failed(name, error, asset, role)`` (the forecaster's
    ``schedule`` and ``schedule_failed``)."""

    def __init__(self, deliver: Callable[[str, Any], None], failed: Callable[..., None], *,
                 read: Callable[..., Any] = read_isolated) -> None:
        self.deliver, self.failed, self.read = deliver, failed, read
        self._seen: dict[str, tuple[str, int, int]] = {}
        self._reading: dict[str, threading.Thread] = {}
        self._lock = threading.Lock()

    def names(self) -> set[str]:
        with self._lock:
            return set(self._seen)

    def forget(self, name: str) -> None:
        with self._lock:
            self._seen.pop(name, None)

    def clear(self) -> None:
        with self._lock:
            self._seen.clear()

    def poll(self, config: Config, sources: Iterable[TimelineSource], newest: Callable[[str], str | None]) -> None:
        """Start a read for each source whose newest file is new or changed (one read per source at a time)."""
        for src in sources:
            path = newest(str(config.resolve(src.path)))
            if path is None:
                continue  # none yet (or the share is away): the pull list in force stays
            try:
                st = os.stat(path)
            except OSError:
                continue
            seen = (path, st.st_size, st.st_mtime_ns)
            with self._lock:
                busy = src.name in self._reading and self._reading[src.name].is_alive()
                if busy or self._seen.get(src.name) == seen:
                    continue
                self._seen[src.name] = seen
                t = threading.Thread(target=self._read_one, args=(config, src, path, st), daemon=True,
                                     name=f"reelwatch-pulls-{src.name}")
                self._reading[src.name] = t
            t.start()

    def wait(self, timeout: float = 30.0) -> None:
        """Until the reads started so far are done (for tests and a clean stop)."""
        with self._lock:
            threads = list(self._reading.values())
        for t in threads:
            t.join(timeout)

    def _read_one(self, config: Config, src: TimelineSource, path: str, st: os.stat_result) -> None:
        where = volume_of(config, path)
        asset = Asset(volume=where[0], root=str(where[1]), relpath=where[2], size=st.st_size,
                      mtime_ns=st.st_mtime_ns) if where else None
        name = os.path.basename(path)
        try:
            try:
                schedule = self._schedule(config, src, path, asset, name)
            except ScheduleError:
                raise
            except Exception as exc:  # the reader runs in a child; anything here is ours, and said
                raise ScheduleError(name, [f"{name}: cannot be read as a pull list: {type(exc).__name__}: {exc}"]) \
                    from None
        except ScheduleError as err:
            log.warning("pull_list_invalid", source=src.name, problems=len(err.problems))
            self.failed(src.name, err, asset=asset, role=src.role)
            return
        log.info("pull_list_read", source=src.name, deliveries=len(schedule.items))
        self.deliver(src.name, schedule)

    def _schedule(self, config: Config, src: TimelineSource, path: str, asset: Asset | None, name: str) -> Any:
        cut = self.read(path, base_rate(config), "vfx_pull", settings(config).read_timeout)
        bad = [f"{name}: {issue.message}" for issue in cut.issues if issue.rule == "conform.unreadable"]
        if bad or not cut.timelines:
            raise ScheduleError(name, bad or [f"{name}: holds no sequence"])
        entry = source_for(asset.volume, asset.relpath, config) if asset is not None else None
        pattern = src.shot_pattern or (entry.shot_pattern if entry is not None else None)
        pulls = pulls_of(cut.timelines, src, pattern)
        if not pulls:
            raise ScheduleError(name, [f"{name}: no event names a shot (no locator or clip name"
                                       + (f" matches {pattern!r})" if pattern else ")")])
        return schedule_from_pulls(pulls, source=name, due=src.due, role=src.role, asset=asset, what=src.what)
