"""Volumes at run time: the configured ones, and on a DIT cart the drives that come and go under
a mount root (a volume path with a glob, e.g. ``/media/dit/*``): each drive mounted there becomes
a volume of its own with the root's settings, and is let go when it leaves.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Callable, Sequence

import structlog

from ..core.config import Volume, drive_volume_name
from ..core.model import Finding
from ..watch.volumes import VolumeRuntime
from .admin import Messages
from .histories import Reverify
from .parts import Parts
from .status import Status

log = structlog.get_logger("reelwatch.daemon")
GLOB_CHARS = set("*?[")
FindingsSink = Callable[[str, str, Sequence[Finding], tuple[str, ...] | None], None]
"""Records the watcher's own findings (see :class:`reelwatch.watch.volumes.VolumeRuntime`)."""


class Drives:
    """Opens the volumes of the config, and follows the drives under its mount roots."""

    def __init__(self, parts: Parts, messages: Messages, status: Status, histories: Reverify,
                 watch_findings: FindingsSink) -> None:
        self.d = parts
        self.messages = messages
        self.status = status
        self.histories = histories
        self.watch_findings = watch_findings
        self.mount_roots: list[Volume] = []

    def open(self) -> None:
        """Start watching every volume of the running config (at start and after a reload)."""
        assert self.d.runtime is not None
        config = self.d.runtime.config
        self.mount_roots = [cfg for cfg in config.volumes if GLOB_CHARS & set(cfg.path)]
        for cfg in config.volumes:
            if cfg not in self.mount_roots:
                self._add(cfg, str(config.resolve(cfg.path)), dynamic=False)
        self.discover()

    def _add(self, cfg: Volume, root: str, *, dynamic: bool) -> None:
        d = self.d
        assert d.runtime is not None and d.store is not None
        vol = VolumeRuntime(cfg=cfg, root=root, store=d.store, ignore=d.runtime.pm.ignore,
                            emit=d.enqueue, announce=self.messages.announce, dynamic=dynamic,
                            self_heal=d.sd.watchdog_interval is None, on_reconcile=d.metrics.reconcile,
                            on_history=self.histories.changed, on_progress=self.status.ping_systemd_watchdog,
                            on_problem=self.messages.volume_problem, on_admin=self.messages.tell_admin,
                            on_findings=self.watch_findings, on_overflow=d.metrics.overflow)
        d.volumes[cfg.name] = vol
        d.sd.status(f"reconciling volume {cfg.name}")
        vol.start()

    def discover(self) -> None:
        """DIT cart mode: drives mounted under a mount root become volumes; gone ones are let go."""
        d = self.d
        assert d.runtime is not None
        for template in self.mount_roots:
            pattern = str(d.runtime.config.resolve(template.path))
            found = {p for p in glob.glob(pattern) if os.path.isdir(p)}
            for path in sorted(found):
                name = drive_volume_name(template.name, path)
                if name not in d.volumes:
                    log.info("drive_picked_up", volume=name, path=path)
                    cfg = template.model_copy(update={"name": name, "path": path})
                    self._set_volumes([*d.runtime.config.volumes, cfg])
                    self._add(cfg, path, dynamic=True)
                    if d.timelines is not None:
                        d.timelines.volume(name, True)  # its clips are back in every cut
            for name, vol in list(d.volumes.items()):
                if vol.dynamic and name.startswith(template.name + "-") and (
                        vol.root not in found or not vol.available):
                    log.info("drive_let_go", volume=name, path=vol.root)
                    vol.stop()
                    del d.volumes[name]
                    if d.timelines is not None:
                        d.timelines.volume(name, False)  # its clips are offline in every cut
                    d.metrics.forget_volume(name)
                    self._set_volumes([v for v in d.runtime.config.volumes if v.name != name])

    def _set_volumes(self, volumes: list[Volume]) -> None:
        """Checks see a drive under a mount root as a volume of its own, with the root's settings."""
        d = self.d
        assert d.runtime is not None and d.pipeline is not None
        d.runtime.config = d.runtime.config.model_copy(update={"volumes": tuple(volumes)})
        d.pipeline.reconfigure(d.runtime.pm, d.runtime.config)
        if d.outbox is not None:
            d.outbox.config = d.runtime.config

    def close(self) -> None:
        """Stop watching every volume (the control thread, which owns them, has stopped)."""
        for vol in list(self.d.volumes.values()):
            vol.stop()
