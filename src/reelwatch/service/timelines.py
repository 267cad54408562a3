"""The daemon's side of cut lists (docs/timelines.md): a :class:`~reelwatch.checking.conformer.Conformer`
on the state database, attached to the ``timeline`` plugin at start and after every reload.

A cut list is checked again (forced, off the control thread, by a checker) when a clip it waits
for arrives, a clip it uses changes or goes, or a newer version replaces it; what it says then
is committed with that check, like any finding.
"""

from __future__ import annotations

import threading
from typing import Any

import structlog

from ..checking.conformer import Conformer
from ..checking.timelines import CutLists, totals
from ..watch.settle import file_asset

log = structlog.get_logger("reelwatch.timelines")


def wire(daemon: Any, conformer: Conformer | None = None) -> Conformer | None:
    """Attach (or re-attach, after a reload) the daemon's conformer to its ``timeline`` plugin.
    ``daemon``: the :class:`~.daemon.Daemon` (its parts, ``messages``, ``stopping``)."""
    assert daemon.runtime is not None and daemon.store is not None
    plugin = daemon.runtime.pm.pluggy.get_plugin("timeline")
    if not isinstance(plugin, CutLists):
        return conformer  # disabled in [plugins] disable: cut lists are then plain files

    def recheck(volume: str, relpath: str) -> None:
        vol = daemon.volumes.get(volume)
        asset = file_asset(volume, vol.root, relpath) if vol is not None else None
        if asset is not None:
            log.info("cut_list_reconform", volume=volume, path=relpath)
            daemon.enqueue(asset, force=True)

    def publish(counts: dict[str, int]) -> None:
        daemon.metrics.timeline_events(counts)
        detail = (f"{counts['timelines']} current timeline(s), {counts['events']} events, {counts['offline']} "
                  f"offline, {counts['failing']} failing")
        daemon.recorded(lambda: daemon.store.set_tool_status("timelines", "ok", detail))

    def busy() -> bool:
        with daemon.work.lock:
            others = daemon.work.in_flight > 1  # besides the cut list being checked
        return others or daemon.work.qsize() > 0 or any(len(v.settler) for v in list(daemon.volumes.values()))

    fresh = conformer is None
    if conformer is None:
        conformer = Conformer(daemon.store, recheck=recheck, tell=daemon.messages.tell)
        conformer.on_totals = publish
        conformer.busy = busy
        publish(totals(daemon.store))
    plugin.attach(conformer)
    if fresh:
        threading.Thread(target=_backfill, args=(daemon, conformer), name="reelwatch-timeline-backfill",
                         daemon=True).start()
    return conformer


def _backfill(daemon: Any, conformer: Conformer) -> None:
    """Clips of the assets checked before the catalog existed, a chunk at a time, beside the
    checkers; then every current cut list is conformed again against them."""
    done = 0
    try:
        while not daemon.stopping.is_set():
            put = conformer.backfill()
            if not put:
                break
            done += put
            daemon.stopping.wait(0.05)  # the checkers' transactions go first
    except Exception as exc:  # a state database that cannot take it has said so itself
        log.error("timeline_backfill_failed", error=f"{type(exc).__name__}: {exc}", clips=done)
        return
    if done and not daemon.stopping.is_set():
        log.info("timeline_backfill", clips=done)
        for row in daemon.store.query("SELECT DISTINCT volume, relpath FROM timelines WHERE current = 1"):
            conformer.schedule(row["volume"], row["relpath"])
        conformer.flush()
