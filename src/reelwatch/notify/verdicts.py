"""Good news and its retraction: "safe to format" is not a problem, and taking it back is urgent.

A finding marked ``details["positive"]`` (``{"headline": ..., "retraction": ...}``, e.g. the
offload mirrors rule's ``mirror.safe_to_format``) is a verdict people act on: a DIT formats a
camera card on it. Its notices never go into a findings digest (no "1 problem ... needs your
fix"). The outbox calls :func:`verdict_messages` before digesting:

* a new verdict becomes a ``positive`` message of its own, once the digest window has passed (a
  verdict that flips within the window is never announced) and outside the role's quiet hours;
  notices that it supersedes (the resolved "do not format" of the same card) go with it;
* a verdict that stops holding becomes a ``retraction`` message at once, whatever the window or the
  quiet hours ("Card A002R2EC is NO LONGER safe to format"), with the reason (the finding now open
  on the same card) and its fix; that finding's notices for the role go with it, so the role hears
  about the problem once. A verdict that is replaced by another (more files, still safe) or that was
  never announced is not retracted.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from ..core.config import Config
from ..core.model import Message, Notice
from ..state.store import Store

POSITIVE = "json_extract(data, '$.details.positive') IS NOT NULL"
"""SQL: a notice about a positive finding."""
NOT_POSITIVE = "json_extract(data, '$.details.positive') IS NULL"
PROBLEM_KINDS = ("new", "affects", "escalated", "changed")


def _quiet(config: Config, role: str, now: float) -> bool:
    from .outbox import in_quiet_hours
    cfg = config.roles.get(role)
    return cfg is not None and in_quiet_hours(cfg.quiet_hours, now)


def _positive(f: dict[str, Any]) -> dict[str, Any]:
    value = (f.get("details") or {}).get("positive")
    return value if isinstance(value, dict) else {}


def _places(f: dict[str, Any]) -> list[tuple[str, str]]:
    """Where the verdict is about: its own place and, for a card, the card folder on every copy."""
    out = [(str(f.get("volume", "")), str(f.get("relpath", "")).rstrip("/"))]
    out += [(str(v), str(r).rstrip("/")) for v, r in (_positive(f).get("places") or ()) if isinstance(r, str)]
    return list(dict.fromkeys(out))


def _same_place(store: Store, role: str, f: dict[str, Any], kinds: tuple[str, ...]) -> list[Any]:
    """Pending notices for ``role`` about other findings on the places the verdict is about (the card folder
    on each copy, and the files in it)."""
    where, args = [], []
    for volume, rel in _places(f):
        where.append("(json_extract(data, '$.volume')=? AND (rtrim(json_extract(data, '$.relpath'), '/')=? OR "
                     "substr(json_extract(data, '$.relpath'), 1, ?)=?))")
        args += [volume, rel, len(rel) + 1, rel + "/"]
    rows = store.query(f"SELECT id, kind, finding_id, data FROM notices WHERE message_id IS NULL AND role=? AND "
                       f"{NOT_POSITIVE} AND kind IN ({','.join('?' * len(kinds))}) AND ({' OR '.join(where)}) "
                       "ORDER BY id", (role, *kinds, *args))
    return list(rows)


def _claim(store: Store, message_id: int | None, ids: list[int]) -> None:
    """Mark notices as handled: sent in ``message_id``, or (0) superseded and not sent at all."""
    with store.tx() as db:
        db.executemany("UPDATE notices SET message_id=? WHERE id=? AND message_id IS NULL",
                       [(message_id or 0, i) for i in ids])


def _announce(store: Store, config: Config, row: Any, f: dict[str, Any], enqueue: Callable[[Message], int]) -> int:
    good = _positive(f)
    superseded = _same_place(store, row["role"], f, ("resolved",))
    lines = [f"{f.get('message', '')}.", f"Checked: {f.get('expected', '')}." if f.get("expected") else "",
             f"{str(f.get('impact', ''))[:1].upper()}{str(f.get('impact', ''))[1:]}." if f.get("impact") else "",
             "reelwatch tells you at once if this stops holding before the card is formatted."]
    notices = (Notice(row["kind"], f), *(Notice(r["kind"], json.loads(r["data"])) for r in superseded))
    message = Message(role=row["role"], production=config.production.name, kind="positive", notices=notices,
                      subject=str(good.get("headline") or f.get("message", "Good news")),
                      text="\n".join(x for x in lines if x))
    _claim(store, enqueue(message), [row["id"], *(r["id"] for r in superseded)])
    return 1


def _retract(store: Store, config: Config, row: Any, f: dict[str, Any], enqueue: Callable[[Message], int]) -> int:
    role, fid = row["role"], row["finding_id"]
    told = store.query("SELECT message_id FROM notices WHERE role=? AND finding_id=? AND kind!='resolved' "
                       "ORDER BY id", (role, fid))
    still = store.query("SELECT 1 FROM findings WHERE status IN ('open','acked') AND rule=? AND volume=? AND "
                        "relpath=? LIMIT 1", (f.get("rule"), f.get("volume"), f.get("relpath")))
    if still or not told or not all(r["message_id"] for r in told):
        # replaced by a newer verdict that still holds, or never announced: nothing to take back
        _claim(store, 0, [row["id"]] + [n["id"] for n in store.query(
            "SELECT id FROM notices WHERE role=? AND finding_id=? AND message_id IS NULL", (role, fid))])
        return 0
    reasons = [{**json.loads(r["data"]), "id": r["id"]} for r in store.query(
        "SELECT id, data FROM findings WHERE status IN ('open','acked') AND volume=? AND relpath=? AND plugin=? "
        "ORDER BY severity DESC, id", (f.get("volume"), f.get("relpath"), f.get("plugin")))]
    reasons = [r for r in reasons if not _positive(r)]
    covered = _same_place(store, role, f, PROBLEM_KINDS)
    first = store.query("SELECT first_seen FROM findings WHERE id=?", (fid,))
    when = datetime.fromtimestamp(first[0]["first_seen"]).strftime("%H:%M on %d %b") if first else "earlier"
    headline = str(_positive(f).get("retraction") or f"NO LONGER: {f.get('message', '')}")
    lines = [f"reelwatch said at {when} that it was safe: {f.get('message', '')}. That no longer holds."]
    for r in reasons[:3]:
        lines.append(f"Why: {r.get('message', '')}.")
        if r.get("fix"):
            lines.append(f"What to do: {r['fix']}.")
    if not reasons:
        lines.append("Why: reelwatch can no longer confirm it. Do not format the card until reelwatch says it is "
                     "safe to format again.")
    shown = {r["id"] for r in reasons[:3]}
    for other in (json.loads(n["data"]) for n in covered):
        if other.get("id") not in shown:
            shown.add(other.get("id"))
            lines.append(f"Also found: {other.get('message', '')} ({other.get('volume')}: {other.get('relpath')}; "
                         f"finding {other.get('id')}).")
    ids = [str(i) for i in dict.fromkeys([*(r["id"] for r in reasons[:3]), *sorted(shown - {None})])]
    if ids:
        lines.append(f"Acknowledge with: reelwatch ack {' '.join(ids[:5])}")
    notices = (Notice("resolved", f), *(Notice(n["kind"], json.loads(n["data"])) for n in covered))
    message = Message(role=role, production=config.production.name, kind="retraction", notices=notices,
                      subject=headline, text="\n".join(lines))
    _claim(store, enqueue(message), [row["id"], *(n["id"] for n in covered)])
    return 1


def verdict_messages(store: Store, config: Config, now: float, enqueue: Callable[[Message], int], *,
                     window: float, force: bool = False) -> int:
    """Queue what is due about positive findings; returns the number of messages made."""
    rows = store.query(f"SELECT id, role, kind, finding_id, data, created FROM notices WHERE message_id IS NULL "
                       f"AND {POSITIVE} ORDER BY (kind='resolved') DESC, id")
    made = 0
    for row in rows:
        if store.query("SELECT 1 FROM notices WHERE id=? AND message_id IS NULL", (row["id"],)) == []:
            continue  # claimed by an earlier one in this round
        f = json.loads(row["data"])
        if row["kind"] == "resolved":
            made += _retract(store, config, row, f, enqueue)
        elif row["kind"] in PROBLEM_KINDS:
            if not force and (now - row["created"] < window or _quiet(config, row["role"], now)):
                continue
            made += _announce(store, config, row, f, enqueue)
        else:
            _claim(store, 0, [row["id"]])
    return made
