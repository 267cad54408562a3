"""Messages about the watching itself: a volume gone or back, a folder it cannot read, the
daemon's own trouble. They go to the volume's owner or the admin role through the outbox, or
at once while the state database cannot record (see :mod:`.statefaults`).
"""

from __future__ import annotations

import sqlite3

from ..core.config import Volume
from ..core.model import Message
from .health import admin_role
from .parts import Parts


class Messages:
    """The daemon's own messages to people."""

    def __init__(self, parts: Parts) -> None:
        self.d = parts

    def tell(self, role: str, subject: str, text: str) -> None:
        """Queue a message for a role; while the state database cannot record, send it at once."""
        d = self.d
        if d.outbox is None or d.runtime is None:
            return
        try:
            d.outbox.enqueue(Message(role=role, production=d.runtime.config.production.name, kind="admin",
                                     subject=subject, text=text))
        except sqlite3.Error:
            if d.disk is None or not d.disk.problem:
                raise
            d.outbox.alert(subject, text, role=role)

    def tell_admin(self, subject: str, text: str) -> None:
        admin = admin_role(self.d.runtime.config) if self.d.runtime is not None else None
        if admin:
            self.tell(admin, subject, text)  # straight away while the state database cannot record

    def alert(self, subject: str, text: str) -> None:
        """Sent at once, without the state database (it is the one in trouble)."""
        if self.d.outbox is not None:
            self.d.outbox.alert(subject, text)

    def volume_problem(self, cfg: Volume, subject: str, text: str) -> None:
        d = self.d
        if d.outbox is None or d.runtime is None:
            return
        self.tell(cfg.owner, subject, text)
        if d.store is not None:
            d.recorded(lambda: d.store.audit("volume_problem", volume=cfg.name, detail=subject))  # type: ignore[union-attr]

    def announce(self, cfg: Volume, root: str, up: bool) -> None:
        """A volume went away or came back."""
        d = self.d
        if d.outbox is None or d.runtime is None:
            return
        text = (f"Volume {cfg.name} is back at {root}; reelwatch is checking what changed while it was away."
                if up else f"Volume {cfg.name} is not available at {root} (unmounted, or the share is down). "
                           "reelwatch keeps running and will rescan it as soon as it is back.")
        self.tell(cfg.owner, f"volume {cfg.name} {'is back' if up else 'unavailable'}", text)
        if d.timelines is not None:
            d.timelines.volume(cfg.name, up)  # its clips are offline (or back) in every cut
        if d.store is not None:
            d.recorded(lambda: d.store.audit(  # type: ignore[union-attr]
                "volume_back" if up else "volume_unavailable", volume=cfg.name))
