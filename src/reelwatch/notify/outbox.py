"""The durable outbox: notices -> digests -> messages -> delivery, with retries.

Notices are written by the pipeline in the same transaction as the check. This worker
gathers each role's pending notices into one digest once the oldest has waited
``digest_window`` seconds (quiet hours hold all but blockers), writes the message to the
outbox *before* sending it, and sends the head of each role's queue in order. A failed
target is retried with exponential backoff; targets that already received a message are
not sent it again (the outbox records them by target id, never by URL). After
``max_attempts`` a message is dead-lettered and the admin role is told through any channel
that works. Verdicts such as "safe to format" get messages of their own, and their retraction
is sent at once (:mod:`reelwatch.notify.verdicts`).

Each message carries an idempotency key (:func:`message_key`) that the receiver sees. The
target a message is being sent to is written down before the send: a send whose outcome
cannot be recorded is never made (a full disk would otherwise repeat it every second), and
after a kill in the middle of a send the repeat says that it may be one, with the same key.

With several nodes on one state (:mod:`reelwatch.state.fleet`) one node digests at a time, and
each message is claimed with a lease before it is sent: sent once however many nodes run.

Frame grabs never hold a message up: they are made in the background as soon as the
notices exist (:meth:`Outbox.digest`), and a message takes the ones that are ready.
"""

from __future__ import annotations

import hashlib
import json
import socket
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import asdict, replace
from datetime import datetime
from typing import Any

import structlog

from ..core.config import Config
from ..core.model import Message, Notice, Severity
from ..state.dbfile import is_corrupt, is_disk_full
from ..state import fleet
from ..state.store import Store
from .verdicts import NOT_POSITIVE, verdict_messages

log = structlog.get_logger("reelwatch.outbox")
MAX_BACKOFF = 600.0
Sender = Callable[[Message, Sequence[str]], bool]


def in_quiet_hours(window: str | None, now: float) -> bool:
    if not window:
        return False
    start, end = window.split("-")
    t = datetime.fromtimestamp(now).strftime("%H:%M")
    return (start <= t < end) if start <= end else (t >= start or t < end)


def message_to_json(message: Message) -> str:
    data = asdict(message)
    data["notices"] = [{"kind": n.kind, "finding": dict(n.finding)} for n in message.notices]
    return json.dumps(data, default=str)


def message_from_json(text: str, msg_id: int, key: str = "") -> Message:
    data = json.loads(text)
    notices = tuple(Notice(kind=n["kind"], finding=n["finding"]) for n in data.pop("notices", ()))
    data["attachments"] = tuple(data.get("attachments") or ())
    data["id"] = msg_id
    data["key"] = key
    data["repeat"] = False
    return Message(notices=notices, **data)


def _recorded(cur: Any) -> None:
    """A delivery record must land on the message's row. None updated: the store was switched to
    another database mid-round (a fleet node going offline to its journal), so the send is kept in
    memory (``Outbox._sent``) and recorded when the row is back, never sent again (the same key
    arrived twice before this check; tests/test_outbox_switch.py)."""
    if cur.rowcount == 0:
        raise sqlite3.OperationalError("the message is not in the state database this round (switched away)")


def message_key(msg_id: int, created: float) -> str:
    """``rw-`` and 12 hex digits, stable for one outbox row (its id and creation time), so that
    every attempt to deliver it, before and after a restart, carries the same key."""
    return "rw-" + hashlib.blake2b(f"{msg_id}:{created!r}".encode(), digest_size=6).hexdigest()


class Outbox:
    """Digesting and delivery; call :meth:`tick` from a worker thread (or a test)."""

    def __init__(self, store: Store, config: Config, send: Sender, *,
                 clock: Callable[[], float] = time.time,
                 attach: Callable[[Sequence[Notice]], tuple[str, ...]] | None = None,
                 node: str | None = None) -> None:
        self.store = store
        self.node = node or config.state.node or socket.gethostname()
        """This node's name: the holder of the leases it takes (:mod:`reelwatch.state.fleet`)."""
        self.config = config
        self.send = send
        self.clock = clock
        self.attach = attach
        self.wake = threading.Event()
        self._urgent: deque[Message] = deque()
        self._urgent_at = 0.0
        self._prepared = 0
        self.ticking = threading.Lock()
        """Held for a round of digests and deliveries (:mod:`reelwatch.service.journal` waits for it)."""
        self._sent: dict[int, set[str]] = {}
        """Targets that got a message whose record could not be written yet (a full disk):
        never sent it again by this process."""

    # -- stage 1: notices -> messages ---------------------------------------------------
    def enqueue(self, message: Message) -> int:
        """Write a ready-made message (test, admin, positive) to the outbox."""
        now = self.clock()
        with self.store.tx() as db:
            cur = db.execute("INSERT INTO outbox (role, payload, created, next_at) VALUES (?,?,?,?)",
                             (message.role, message_to_json(message), now, now))
        self.wake.set()
        return int(cur.lastrowid or 0)

    def _prepare(self) -> None:
        """Hand new notices to the attachment maker at once, so that frame grabs are made in
        the background while the digest window runs, not while a message waits."""
        prepare = getattr(self.attach, "prepare", None)
        if prepare is None:
            return
        rows = self.store.query("SELECT id, kind, data FROM notices WHERE id>? AND message_id IS NULL "
                                "ORDER BY id LIMIT 1000", (self._prepared,))
        if rows:
            self._prepared = rows[-1]["id"]
            prepare(tuple(Notice(kind=n["kind"], finding=json.loads(n["data"])) for n in rows))

    def digest(self, *, force: bool = False) -> int:
        """Turn due notices into one message per role. Returns the number of messages made."""
        self._prepare()
        now = self.clock()
        window = self.config.notify.digest_window
        # verdicts first: "safe to format" is a message of its own, and its retraction goes at once
        made = verdict_messages(self.store, self.config, now, self.enqueue, window=window, force=force)
        rows = self.store.query("SELECT role, MIN(created) AS oldest, MAX(severity) AS worst FROM notices "
                                f"WHERE message_id IS NULL AND {NOT_POSITIVE} GROUP BY role")
        for row in rows:
            role = self.config.roles.get(row["role"])
            quiet = role is not None and in_quiet_hours(role.quiet_hours, now)
            if quiet and row["worst"] < Severity.BLOCKER and not force:
                continue
            if not force and now - row["oldest"] < window:
                continue
            made += self._digest_role(row["role"], now)
        return made

    def _digest_role(self, role: str, now: float) -> int:
        production = self.config.production.name
        notices = self.store.query("SELECT id, kind, data FROM notices WHERE message_id IS NULL AND role=? "
                                   f"AND {NOT_POSITIVE} ORDER BY id", (role,))
        if not notices:
            return 0
        items = tuple(Notice(kind=n["kind"], finding=json.loads(n["data"])) for n in notices)
        attachments = self.attach(items) if self.attach else ()  # the grabs that are ready; never waits
        message = Message(role=role, production=production, notices=items, attachments=attachments)
        with self.store.tx() as db:
            cur = db.execute("INSERT INTO outbox (role, payload, created, next_at) VALUES (?,?,?,?)",
                             (role, message_to_json(message), now, now))
            msg_id = cur.lastrowid
            db.executemany("UPDATE notices SET message_id=? WHERE id=? AND message_id IS NULL",
                           [(msg_id, n["id"]) for n in notices])
        return 1

    # -- escalation ---------------------------------------------------------------------
    def escalate(self) -> int:
        """Error and blocker findings still unacknowledged past the owner's delay go up a level."""
        now = self.clock()
        count = 0
        for name, role in self.config.roles.items():
            if not role.escalate_to:
                continue
            rows = self.store.query(
                "SELECT id, data, severity FROM findings WHERE status='open' AND owner=? AND severity>=? "
                "AND escalated_at IS NULL AND first_seen<=? AND json_extract(data, '$.details.explained') IS NULL",
                (name, int(Severity.ERROR), now - role.escalate_after))  # explained: its root cause escalates
            if not rows:
                continue
            with self.store.tx() as db:
                for r in rows:
                    data = json.loads(r["data"])
                    data["id"] = r["id"]
                    data["escalated_from"] = name
                    if not db.execute("UPDATE findings SET escalated_at=? WHERE id=? AND escalated_at IS NULL",
                                      (now, r["id"])).rowcount:
                        continue  # escalated by another node meanwhile
                    db.execute("INSERT INTO notices (role, kind, finding_id, severity, data, created) "
                               "VALUES (?,?,?,?,?,?)", (role.escalate_to, "escalated", r["id"], r["severity"],
                                                        json.dumps(data), now))
                    db.execute("INSERT INTO audit (ts, event, volume, relpath, detail) SELECT ?, 'escalated', "
                               "volume, relpath, ? FROM findings WHERE id=?",
                               (now, json.dumps({"id": r["id"], "to": role.escalate_to}), r["id"]))
                    count += 1
        return count

    # -- stage 2: delivery --------------------------------------------------------------
    def targets(self, role: str) -> tuple[str, ...]:
        cfg = self.config.roles.get(role)
        return cfg.notify if cfg else ()

    def deliver(self) -> int:
        """Send the head message of each role whose retry time has come. Returns messages sent."""
        now = self.clock()
        sent = 0
        heads = self.store.query(
            "SELECT o.* FROM outbox o WHERE o.state='pending' AND o.id = "
            "(SELECT MIN(id) FROM outbox p WHERE p.role=o.role AND p.state='pending')")
        for row in heads:
            if row["next_at"] > now:
                continue
            try:
                claimed = fleet.claim_message(self.store, row["id"], self.node, self.config.state.lease, now)
                if claimed is None:
                    continue  # another node of the fleet is sending it
                sent += self._deliver_one(claimed, now)
            except sqlite3.Error:  # the state database cannot record deliveries now: send nothing more
                return sent        # (the store reported why; the message is retried, not dropped)
            except Exception as exc:  # one role's trouble never holds up the others
                log.error("delivery_crashed", message_id=row["id"], error=type(exc).__name__)
                with self.store.tx() as db:
                    attempts = row["attempts"] + 1
                    state = "dead" if attempts >= self.config.notify.max_attempts else "pending"
                    delay = min(MAX_BACKOFF, self.config.notify.retry_base * 2 ** (attempts - 1))
                    db.execute("UPDATE outbox SET attempts=?, state=?, next_at=?, last_error=?, claimed_by=NULL, "
                               "lease_until=NULL WHERE id=?", (attempts, state, now + delay, type(exc).__name__,
                                                               row["id"]))
        return sent

    def _deliver_one(self, row: Any, now: float) -> int:
        message = message_from_json(row["payload"], row["id"], message_key(row["id"], row["created"]))
        done = set(json.loads(row["delivered"])) | self._sent.get(row["id"], set())
        interrupted = json.loads(row["sending"] or "null") if "sending" in row.keys() else None
        failed = []
        for target in self.targets(message.role):
            tid = self.store.target_id(target)
            if tid in done:
                continue
            # written down before the send: if it cannot be recorded, it is not sent
            with self.store.tx() as db:
                if not fleet.renew_message(db, row["id"], self.node, self.clock() + self.config.state.lease):
                    log.warning("lease_lost", message_id=row["id"], node=self.node)
                    return 0  # this node was too slow: another one holds the message now and sends the rest
                db.execute("UPDATE outbox SET sending=? WHERE id=?",
                           (json.dumps({"target": tid, "at": now}), row["id"]))
            repeat = isinstance(interrupted, dict) and interrupted.get("target") == tid
            if self.send(replace(message, repeat=repeat), [target]):
                done.add(tid)
                self._sent.setdefault(row["id"], set()).add(tid)
                # recorded at once, so that a crash right after cannot send it to this target again
                with self.store.tx() as db:
                    _recorded(db.execute("UPDATE outbox SET delivered=?, sending=NULL WHERE id=?",
                                         (json.dumps(sorted(done)), row["id"])))
            else:
                failed.append(tid)
                with self.store.tx() as db:
                    db.execute("UPDATE outbox SET sending=NULL WHERE id=?", (row["id"],))
        attempts = row["attempts"] + 1
        delivered = json.dumps(sorted(done))
        error = f"{len(failed)} of {len(failed) + len(done)} target(s) failed" if failed else None
        with self.store.tx() as db:
            if not failed:
                _recorded(db.execute("UPDATE outbox SET state='sent', sent_at=?, attempts=?, delivered=?, "
                                     "last_error=NULL, claimed_by=NULL, lease_until=NULL WHERE id=?",
                                     (now, attempts, delivered, row["id"])))
                db.execute("INSERT INTO audit (ts, event, detail) VALUES (?, 'notified', ?)",
                           (now, json.dumps({"message": row["id"], "role": message.role, "targets": len(done),
                                             "key": message.key})))
                self._sent.pop(row["id"], None)
                return 1
            if attempts >= self.config.notify.max_attempts:
                db.execute("UPDATE outbox SET state='dead', attempts=?, delivered=?, last_error=?, claimed_by=NULL, "
                           "lease_until=NULL WHERE id=?", (attempts, delivered, error, row["id"]))
                db.execute("INSERT INTO audit (ts, event, detail) VALUES (?, 'dead_letter', ?)",
                           (now, json.dumps({"message": row["id"], "role": message.role})))
            else:
                delay = min(MAX_BACKOFF, self.config.notify.retry_base * 2 ** (attempts - 1))
                db.execute("UPDATE outbox SET attempts=?, next_at=?, delivered=?, last_error=?, claimed_by=NULL, "
                           "lease_until=NULL WHERE id=?", (attempts, now + delay, delivered, error, row["id"]))
        self._sent.pop(row["id"], None)
        if attempts >= self.config.notify.max_attempts:
            log.error("dead_letter", message_id=row["id"], role=message.role, attempts=attempts)
            self._tell_admin(message, attempts)
        else:
            log.warning("delivery_failed", message_id=row["id"], role=message.role, attempts=attempts,
                        failed_targets=len(failed))
        return 0

    def _admin_role(self) -> str | None:
        return self.config.notify.admin_role or next(
            (r for r in ("admin", "supervisor") if r in self.config.roles), None)

    def _through_any_channel(self, alert: Message, skip: str | None = None) -> str | None:
        """Send to the role the message is for, then the admin's own targets, then every other
        role's, until one works; the role that got it, or None."""
        admin = self._admin_role()
        candidates = [r for r in dict.fromkeys((alert.role, admin)) if r and r in self.config.roles and r != skip]
        candidates += [r for r in self.config.roles if r not in candidates and r != skip]
        for role in candidates:
            for target in self.targets(role):
                if self.send(alert, [target]):
                    return role
        return None

    def _tell_admin(self, message: Message, attempts: int) -> None:
        admin = self._admin_role()
        text = (f"A message for the {message.role} role could not be delivered after {attempts} tries and "
                f"was set aside (outbox id {message.id}). Check that role's notification targets with "
                f"'reelwatch notify test {message.role}'.")
        alert = Message(role=admin or message.role, production=self.config.production.name, kind="admin",
                        subject=f"Undeliverable message for {message.role}", text=text)
        role = self._through_any_channel(alert, skip=message.role)
        if role is not None:
            self.store.audit("admin_told", role=role, message=message.id)
            return
        log.error("admin_unreachable", message_id=message.id)

    # -- alerts that cannot wait for the database ----------------------------------------
    def alert(self, subject: str, text: str, role: str | None = None) -> None:
        """Tell ``role`` (the admin by default) at once through any channel that works, without
        the database (it may be full or damaged): sent by the worker, retried every 30 s until
        one channel takes it."""
        role = role or self._admin_role() or "admin"
        key = "rw-" + hashlib.blake2b(f"{subject}:{time.time()!r}".encode(), digest_size=6).hexdigest()
        self._urgent.append(Message(role=role, production=self.config.production.name, kind="admin",
                                    subject=subject, text=text, key=key))
        self._urgent_at = 0.0
        self.wake.set()

    def flush_alerts(self) -> None:
        """Send the alerts waiting now, from the calling thread (the worker is stopped)."""
        self._urgent_at = 0.0
        self._send_urgent()

    def _send_urgent(self) -> None:
        if not self._urgent or time.monotonic() < self._urgent_at:
            return
        while self._urgent:
            alert = self._urgent[0]
            role = self._through_any_channel(alert)
            if role is None:
                log.error("admin_unreachable", subject=alert.subject)
                self._urgent_at = time.monotonic() + 30.0
                return
            log.warning("admin_alerted", role=role, subject=alert.subject)
            self._urgent.popleft()

    def due(self) -> bool:
        """True when some queued message may be sent now (not waiting out a retry delay)."""
        rows = self.store.query("SELECT 1 FROM outbox WHERE state='pending' AND next_at<=? LIMIT 1", (self.clock(),))
        return bool(rows)

    def pending(self) -> tuple[int, float | None]:
        """(messages waiting, age in seconds of the oldest), for status and metrics."""
        rows = self.store.query("SELECT COUNT(*) AS n, MIN(created) AS oldest FROM outbox WHERE state='pending'")
        n, oldest = rows[0]["n"], rows[0]["oldest"]
        return n, (self.clock() - oldest) if oldest else None

    def tick(self) -> int:
        """One round: urgent alerts, escalate, digest, deliver. Returns messages delivered."""
        self._send_urgent()
        with self.ticking:  # a node switching its store to or from its journal does it between rounds
            # one node of a fleet digests at a time: each role gets one digest, escalations happen once
            if self.store.backend == "sqlite" or fleet.hold(self.store, "digest", self.node,
                                                            self.config.state.lease, self.clock()):
                self.escalate()  # (SQLite: one daemon per file, locked)
                self.digest()
            return self.deliver()


class OutboxWorker(threading.Thread):
    """Runs :meth:`Outbox.tick` in the background until stopped."""

    def __init__(self, outbox: Outbox, interval: float = 1.0) -> None:
        super().__init__(name="reelwatch-outbox", daemon=True)
        self.outbox = outbox
        self.interval = interval
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                self.outbox.tick()
            except Exception as exc:
                if not (is_disk_full(exc) or is_corrupt(exc) or getattr(exc, "unreachable", False)):
                    # those are reported once, by the store's owner
                    log.error("outbox_tick_failed", error=f"{type(exc).__name__}: {exc}")
            self.outbox.wake.wait(self.interval)
            self.outbox.wake.clear()

    def stop(self, drain: float = 0.0) -> None:
        """Stop; with ``drain``, first keep delivering for up to that many seconds."""
        deadline = time.monotonic() + drain
        while drain and time.monotonic() < deadline and self.outbox.pending()[0] and self.outbox.due():
            time.sleep(0.1)
        self.stopping.set()
        self.outbox.wake.set()
        self.join(10)
        if not self.is_alive():
            self.outbox.flush_alerts()  # an alert queued just now still goes out
