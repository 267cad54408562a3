"""SIGHUP: validate the edited config and swap it in, or keep running on the previous one and say why.

Whatever goes wrong (a bad config, a broken plugin, anything a plugin raises) keeps the running
config; the admin role is told, and the audit log records it.
"""

from __future__ import annotations

import structlog

from ..checking.runtime import Runtime, load_runtime
from ..core.config import ConfigError
from .admin import Messages
from .drives import Drives
from .parts import Parts
from .status import Status
from .timelines import wire as wire_timelines

log = structlog.get_logger("reelwatch.daemon")


class Reloader:
    """Swaps a new config in, whole, or not at all."""

    def __init__(self, parts: Parts, messages: Messages, status: Status, drives: Drives) -> None:
        self.d = parts
        self.messages = messages
        self.status = status
        self.drives = drives

    def reload(self) -> bool:
        """Validate the config file again; swap it in only if it is valid."""
        d = self.d
        assert d.runtime is not None and d.pipeline is not None and d.store is not None
        recorded = d.recorded
        d.sd.reloading()
        try:
            runtime = load_runtime(d.config_path, d.pool)
        except (Exception, SystemExit) as exc:
            lines = exc.lines() if isinstance(exc, ConfigError) else [f"{type(exc).__name__}: {exc}"]
            log.error("reload_rejected", problems=lines)
            recorded(lambda: d.store.audit("reload_rejected", problems=lines))  # type: ignore[union-attr]
            self.messages.tell_admin("config reload rejected: still running on the previous config",
                                  "The edited config was not applied:\n" + "\n".join(lines))
            d.sd.ready(self.status.line())
            return False
        previous = d.runtime
        try:
            self._swap(runtime)
        except Exception as exc:  # should not happen: put the previous config back
            log.error("reload_failed", error=f"{type(exc).__name__}: {exc}")
            failed = f"{type(exc).__name__}: {exc}"
            recorded(lambda: d.store.audit("reload_failed", error=failed))  # type: ignore[union-attr]
            self._swap(previous)
            self.messages.tell_admin("config reload failed: still running on the previous config",
                                  f"Applying the edited config failed ({type(exc).__name__}: {exc}); the previous "
                                  "config is running again.")
            d.sd.ready(self.status.line())
            return False
        recorded(lambda: d.store.audit("reloaded", config=d.config_path))  # type: ignore[union-attr]
        for warning in runtime.warnings:
            log.warning("config_warning", problem=warning)
        log.info("reloaded", volumes=len(d.volumes))
        d.sd.ready(self.status.line())
        return True

    def _swap(self, runtime: Runtime) -> None:
        d = self.d
        assert d.pipeline is not None
        for vol in d.volumes.values():
            vol.stop()
        d.volumes.clear()
        d.runtime = runtime
        if d.redactor is not None:  # targets added by the edit are secrets from now on
            d.redactor.add(u for role in runtime.config.roles.values() for u in role.notify)
        d.pipeline.reconfigure(runtime.pm, runtime.config)
        d.timelines = wire_timelines(d, d.timelines)
        if d.outbox is not None:
            d.outbox.config = runtime.config
        self.drives.open()
        if d.forecasts is not None:
            d.forecasts.reconfigure(runtime.config, d.volumes)
        if d.web is not None or runtime.config.web.listen:  # users and address applied now, never kept stale
            from ..web.serve import reconfigure as reconfigure_web
            d.web = reconfigure_web(d.web, runtime.config)
