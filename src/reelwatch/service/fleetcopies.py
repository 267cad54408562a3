"""Cards with copies on other nodes, judged again when those copies change or their nodes come and go.

A node judges a card when something changes on its own disks. A copy on another machine changes
there: its node judges the card itself and publishes what its copy holds (reelwatch.state.copies),
and this node must then look again, or the two could rest on different views (both judging in the
same instant, each before the other published). A node that stops, goes quiet or comes back
changes what its copies count for, with nothing changing on any disk here.

Every :data:`EVERY` seconds (from the control loop; one query on a fleet's PostgreSQL state, none
on SQLite) :class:`FleetCopies` looks for records of other nodes newer than the last it saw, and
for nodes whose word started or stopped counting. For each card concerned that this node holds a
copy of too (the same mirror set and card), it puts the card into the open batch, as a deleted
file does, so the mirror rule judges it again. Its own records are rewritten only when they
change, so two nodes never ping-pong.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from typing import Any

import structlog

from ..state import copies

log = structlog.get_logger("reelwatch.fleet")
EVERY = 2.0
"""Seconds between looks at the fleet's published copies."""


class FleetCopies:
    def __init__(self, store: Any, node: str, judge_again: Callable[[str, str], None]) -> None:
        """``judge_again(volume, relpath)``: put a path of a local copy into the open batch."""
        self.store = store
        self.node = node
        self.judge_again = judge_again
        self._seen = 0.0
        """The newest ``updated`` of another node's record seen so far (that node's clock)."""
        self._live: dict[str, bool] = {}
        self._last = 0.0

    def tick(self) -> int:
        """From the control loop; the number of cards put into the batch."""
        if self.store is None or self.store.backend != "postgresql" or time.monotonic() - self._last < EVERY:
            return 0
        self._last = time.monotonic()
        try:
            rows = self.store.query("SELECT node, volume, card, record, updated FROM fleet_copies")
        except Exception as exc:  # noqa: BLE001  an unreachable server is reported by the store; look again later
            log.debug("fleet_copies_unread", error=type(exc).__name__)
            return 0
        if not rows:
            return 0
        theirs = [r for r in rows if r["node"] != self.node]
        fresh = [r for r in theirs if r["updated"] > self._seen]
        self._seen = max([self._seen, *(r["updated"] for r in theirs)])
        flipped = set()
        for node in {r["node"] for r in theirs}:
            live = not copies.node_why(self.store, node)
            if self._live.get(node, live) != live:
                flipped.add(node)
            self._live[node] = live
        changed = fresh + [r for r in theirs if r["node"] in flipped and r not in fresh]
        return self._judge(changed, [r for r in rows if r["node"] == self.node])

    def _judge(self, changed: Iterable[Any], mine: list[Any]) -> int:
        cards = {_card(r) for r in changed} - {None}
        if not cards:
            return 0
        count = 0
        for row in mine:
            record = json.loads(row["record"])
            if _card(row) in cards and record.get("present") and record.get("files"):
                self.judge_again(row["volume"], f"{row['card']}/{next(iter(record['files']))}")
                count += 1
        if count:
            log.info("fleet_copies_changed", cards=len(cards), copies_here=count)
        return count


def _card(row: Any) -> tuple[str, str] | None:
    """(mirror set, card) of a published record."""
    record = json.loads(row["record"])
    if "set" not in record:
        return None
    return str(record["set"]), str(record.get("unit", ""))
