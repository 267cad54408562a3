"""Server-sent events: new findings, resolutions, acks and verdict changes as the daemon records them.

The daemon is another process, so the stream follows the audit trail by its primary key (a
read of the rows after the last one sent, twice a second): nothing to scan, and a browser that
reconnects with ``Last-Event-ID`` misses nothing.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable

from ..state.store import Store
from . import queries

POLL = 0.5
HEARTBEAT = 15.0


async def stream(store: Callable[[], Store | None], after: int | None, disconnected: Callable[[], object],
                 stopping: Callable[[], bool]) -> AsyncIterator[str]:
    """``text/event-stream`` lines from ``after`` (None: from now on)."""
    yield "retry: 2000\n\n"
    last = after
    idle = 0.0
    while not stopping():
        if await disconnected():  # type: ignore[misc]
            return
        s = store()
        if s is not None:
            if last is None:
                last = await asyncio.to_thread(queries.last_event_id, s)
            events = await asyncio.to_thread(queries.new_events, s, last)
            for e in events:
                last = e["seq"]
                kind = "verdict" if e["verdict"] else e["event"]
                yield f"id: {e['seq']}\nevent: {kind}\ndata: {json.dumps(e, default=str)}\n\n"
            if events:
                idle = 0.0
        idle += POLL
        if idle >= HEARTBEAT:
            idle = 0.0
            yield ": still here\n\n"
        await asyncio.sleep(POLL)
