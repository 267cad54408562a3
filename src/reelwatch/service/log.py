"""structlog set-up: readable on a terminal, JSON lines otherwise, journald-aware.

Every event passes through a :class:`~reelwatch.core.redact.Redactor` before it is rendered,
so tokens and passwords from apprise URLs never reach a log, and tracebacks are rendered
without local variables.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO

import structlog

from ..core.redact import Redactor

PRIORITY = {"critical": 2, "error": 3, "warning": 4, "info": 6, "debug": 7}


def _journald_prefix(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    event["_priority"] = PRIORITY.get(str(event.get("level", "info")), 6)
    return event


class _JournalRenderer:
    def __init__(self) -> None:
        self._json = structlog.processors.JSONRenderer(sort_keys=True)

    def __call__(self, logger: Any, name: str, event: MutableMapping[str, Any]) -> str:
        prio = event.pop("_priority", 6)
        return f"<{prio}>{self._json(logger, name, event)}"


def configure_logging(*, redactor: Redactor | None = None, level: str = "info", stream: TextIO | None = None,
                      fmt: str = "auto", journal: bool = False) -> None:
    """Configure structlog (and the stdlib loggers of our dependencies) once per process.

    ``fmt`` is ``auto`` (console on a TTY, JSON otherwise), ``console`` or ``json``;
    ``journal`` adds the ``<N>`` priority prefix that journald reads.
    """
    stream = stream or sys.stderr
    redactor = redactor or Redactor()

    def scrub(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        for key, value in list(event.items()):
            event[key] = redactor.scrub(value if not isinstance(value, BaseException) else str(value))
        return event

    if fmt == "auto":
        fmt = "console" if stream.isatty() and not journal else "json"
    processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.ExceptionRenderer(
            structlog.tracebacks.ExceptionDictTransformer(show_locals=False)) if fmt != "console"
        else structlog.dev.set_exc_info,
        scrub,
    ]
    if journal:
        processors += [_journald_prefix, _JournalRenderer()]
    elif fmt == "json":
        processors.append(structlog.processors.JSONRenderer(sort_keys=True))
    else:
        processors.append(structlog.dev.ConsoleRenderer(colors=stream.isatty()))
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.WriteLoggerFactory(file=stream),
        cache_logger_on_first_use=False,
    )
    # Dependencies log through the stdlib: route their warnings through the same scrubber.
    handler = _StdlibBridge(redactor)
    for name in ("apprise", "watchdog", "watchdog.observers.inotify_c"):
        lg = logging.getLogger(name)
        lg.handlers = [handler]
        lg.propagate = False
        lg.setLevel(logging.WARNING)


class _StdlibBridge(logging.Handler):
    def __init__(self, redactor: Redactor) -> None:
        super().__init__(logging.WARNING)
        self.redactor = redactor

    def emit(self, record: logging.LogRecord) -> None:
        try:
            msg = self.redactor(record.getMessage())
        except Exception:
            msg = "(unprintable log message)"
        structlog.get_logger(record.name).warning("library_log", library=record.name, text=msg)
