"""What the daemon's collaborators share: its components, and the two things all of them do.

:class:`~.daemon.Daemon` is the only subclass: it creates these components in ``start()`` (and
swaps the runtime on reload), so a collaborator holding the daemon as its :class:`Parts` always
sees the current ones. Collaborators get each other explicitly, in the order the daemon builds
them (:mod:`.work`, :mod:`.admin`, :mod:`.held`, :mod:`.status`, :mod:`.batches`,
:mod:`.checkers`, :mod:`.statefaults`, :mod:`.histories`, :mod:`.drives`, :mod:`.reload`): no
module of the service imports the daemon.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

from ..checking.pipeline import Pipeline
from ..checking.runtime import Runtime
from ..core.model import Asset
from ..core.redact import Redactor
from ..integrity.hashjobs import Hashes
from ..notify.outbox import Outbox, OutboxWorker
from ..probe.pool import ProbePool
from ..state.disk import StateDisk
from ..state.store import Store
from ..watch.volumes import VolumeRuntime
from .forecasts import Forecasts
from .metrics import Metrics
from .systemd import Notifier
from .work import Work


class Parts:
    """The daemon's components (None until ``start()`` made them)."""

    config_path: str
    redactor: Redactor | None
    sd: Notifier
    """systemd's notify socket: READY, STATUS, RELOADING, STOPPING and the watchdog pings."""
    metrics: Metrics
    hashes: Hashes
    """Every hash the rules ask for: shared per file version, stopped at once by stop()."""
    work: Work
    volumes: dict[str, VolumeRuntime]
    pool: ProbePool | None = None
    runtime: Runtime | None = None
    store: Store | None = None
    pipeline: Pipeline | None = None
    outbox: Outbox | None = None
    outbox_worker: OutboxWorker | None = None
    disk: StateDisk | None = None
    forecasts: Forecasts | None = None
    """Drives filling, cards on one copy, deliveries due (:mod:`.forecasts`)."""
    web: Any = None
    """The daemon's web server, when ``[web] listen`` is set (:class:`reelwatch.web.serve.WebThread`)."""
    timelines: Any = None
    """The cut lists' :class:`~reelwatch.checking.conformer.Conformer` (see :mod:`.timelines`)."""
    claims: Any = None
    """A fleet's :class:`~.claims.SharedWork` (versions on shared volumes checked once); None with SQLite."""

    def recorded(self, write: Callable[[], Any]) -> bool:
        """Run a write; False (and nothing raised) when the state database cannot take it: the
        store has already reported why (see :mod:`.statefaults`)."""
        try:
            write()
            return True
        except sqlite3.Error:
            if self.disk is not None and (self.disk.problem or self.disk.offline):  # offline: the switch
                return False
            raise

    def enqueue(self, asset: Asset, force: bool = False) -> None:
        """A settled file (or, with ``force``, one to check again) for the checkers."""
        if not force:
            self.metrics.file_seen(asset.volume)
        self.work.put(asset, force)
