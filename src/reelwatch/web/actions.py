"""What a person does to a finding from the web: acknowledge, take it back, assign it, note it.

Each is one transaction with its audit row naming who did it. Acknowledging goes through
:meth:`Store.ack`, the path ``reelwatch ack`` takes, so an acknowledged finding stops escalating
the same way. Assigning a finding to a role also tells that role (a notice of kind ``assigned``,
digested like a new finding).
"""

from __future__ import annotations

import json
from typing import Any

from ..core.config import Config
from ..state.store import Store

NOTE_MAX = 2000


class ActionError(ValueError):
    """The action cannot be done; the text says why, for the person who tried."""


def _row(store: Store, fid: int) -> Any:
    rows = store.query("SELECT * FROM findings WHERE id=?", (fid,))
    if not rows:
        raise ActionError(f"finding {fid} does not exist")
    return rows[0]


def ack(store: Store, fid: int, who: str) -> str:
    row = _row(store, fid)
    if row["status"] != "open":
        raise ActionError(f"finding {fid} is {row['status']}, not open")
    if not store.ack([fid], who):
        raise ActionError(f"finding {fid} changed meanwhile; reload the page")
    return f"finding {fid} acknowledged: it will not escalate"


def unack(store: Store, fid: int, who: str) -> str:
    _row(store, fid)
    now = store.clock()
    with store.tx() as db:
        cur = db.execute("UPDATE findings SET status='open', acked_at=NULL, acked_by=NULL WHERE id=? AND "
                         "status='acked'", (fid,))
        if not cur.rowcount:
            raise ActionError(f"finding {fid} is not acknowledged")
        db.execute("INSERT INTO audit (ts, event, volume, relpath, detail) SELECT ?, 'unack', volume, relpath, ? "
                   "FROM findings WHERE id=?", (now, json.dumps({"id": fid, "by": who}), fid))
    return f"finding {fid} is open again"


def assign(store: Store, config: Config, fid: int, role: str, who: str) -> str:
    row = _row(store, fid)
    if role not in config.roles:
        raise ActionError(f"role {role!r} is not defined; roles: {', '.join(config.roles) or 'none'}")
    now = store.clock()
    data = json.loads(row["data"])
    data.update(id=fid, assigned_by=who)
    with store.tx() as db:
        db.execute("INSERT INTO notices (role, kind, finding_id, severity, data, created) VALUES (?,?,?,?,?,?)",
                   (role, "assigned", fid, row["severity"], json.dumps(data, default=str), now))
        db.execute("INSERT INTO audit (ts, event, volume, relpath, detail) VALUES (?, 'assign', ?, ?, ?)",
                   (now, row["volume"], row["relpath"], json.dumps({"id": fid, "role": role, "by": who})))
    return f"finding {fid} assigned to {role}; they will be told"


def note(store: Store, fid: int, text: str, who: str) -> str:
    row = _row(store, fid)
    text = text.strip()
    if not text:
        raise ActionError("the note is empty")
    if len(text) > NOTE_MAX:
        raise ActionError(f"a note holds at most {NOTE_MAX} characters")
    store.audit("note", row["volume"], row["relpath"], id=fid, by=who, text=text)
    return f"note added to finding {fid}"
