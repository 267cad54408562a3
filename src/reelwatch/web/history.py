"""An asset's life for its page: checks, findings, who was told, acks, assignments, notes, changes."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ..state.store import Store

LIMIT = 300


def describe(event: str, d: dict[str, Any]) -> str:
    """One audit event in plain words."""
    ref = f"finding #{d['id']}" if d.get("id") is not None else ""
    if event == "checked":
        n = int(d.get("findings", 0) or 0)
        by = f" by node {d['node']}" if d.get("node") else ""  # a fleet's node names itself
        return f"checked{by}: {n} problem(s) found" if n else f"checked{by}: no problems"
    if event == "finding":
        return f"{ref} raised ({d.get('severity')}, {d.get('rule')})"
    if event == "resolved":
        return f"{ref} resolved ({d.get('rule')}): the file passes that rule now"
    if event == "ack":
        return f"{ref} acknowledged by {d.get('by')}"
    if event == "unack":
        return f"{ref} opened again by {d.get('by')}"
    if event == "assign":
        return f"{ref} assigned to {d.get('role')} by {d.get('by')}"
    if event == "note":
        return f"{ref}: note by {d.get('by')}"
    if event == "escalated":
        return f"{ref} escalated to {d.get('to')} (not acknowledged in time)"
    if event == "gone":
        return "deleted or moved away"
    words = ", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in d.items() if not isinstance(v, dict | list))
    return event.replace("_", " ") + (f": {words}" if words else "")


def detail_of(raw: str | None) -> dict[str, Any]:
    """An audit row's detail as a dict, whatever was stored (an older or foreign row: kept as text)."""
    try:
        d = json.loads(raw or "{}")
    except ValueError:
        d = {"detail": raw}
    return d if isinstance(d, dict) else {"detail": d}


TOLD = {"sent": "sent", "dead": "could not be sent (dead-lettered)"}
"""An outbox state in words; any other: "waiting to be sent"."""


def told(store: Store, ids: Sequence[int], limit: int | None = None) -> list[dict[str, Any]]:
    """Who each of these findings was told to and whether the message went, in the order the
    notices were made (the resolutions left out): ``ts`` (sent, else made), ``id``, ``role``,
    ``kind``, ``state`` in words."""
    if not ids:
        return []
    rows = store.query("SELECT n.finding_id, n.role, n.kind, n.created, o.state, o.sent_at FROM notices n LEFT JOIN "
                       f"outbox o ON o.id=n.message_id WHERE n.finding_id IN ({','.join('?' * len(ids))}) "
                       "AND n.kind!='resolved' ORDER BY n.id" + (f" LIMIT {int(limit)}" if limit else ""), list(ids))
    return [{"ts": r["sent_at"] or r["created"], "id": r["finding_id"], "role": r["role"], "kind": r["kind"],
             "state": TOLD.get(r["state"], "waiting to be sent")} for r in rows]


def timeline(store: Store, volume: str, relpath: str) -> list[dict[str, Any]]:
    """The newest :data:`LIMIT` audit events of one file plus when each finding was told to whom, oldest first."""
    rows = store.query("SELECT ts, event, detail FROM audit WHERE volume=? AND relpath=? ORDER BY id DESC LIMIT ?",
                       (volume, relpath, LIMIT))
    events = []
    ids = set()
    for r in rows:
        d = detail_of(r["detail"])
        if r["event"] == "finding" and d.get("id") is not None:
            ids.add(int(d["id"]))
        events.append({"ts": r["ts"], "event": r["event"], "text": describe(r["event"], d),
                       "note": d.get("text") if r["event"] == "note" else None})
    for t in told(store, sorted(ids), limit=200):
        events.append({"ts": t["ts"], "event": "told", "note": None,
                       "text": f"finding #{t['id']} told to {t['role']}: {t['state']}"})
    events.sort(key=lambda e: e["ts"])
    return events
