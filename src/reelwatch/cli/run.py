"""``reelwatch run``: the daemon, in the foreground (systemd runs this)."""

from __future__ import annotations

import os
from typing import Any

import click

from .base import config_option


@click.command(help="Run the daemon in the foreground: SIGTERM or SIGINT stop it cleanly, SIGHUP reloads "
                    "the config.")
@config_option()
@click.pass_obj
def run(obj: dict[str, Any] | None, config: str) -> int:
    from ..checking.runtime import load_runtime, read_toml
    from ..core.redact import Redactor
    from ..service.daemon import Daemon
    from ..service.log import configure_logging
    load_runtime(config, None)  # fail fast, before anything starts
    urls = [u for r in (read_toml(config).get("roles") or {}).values() for u in r.get("notify", [])]
    redactor = Redactor(urls)
    level = (obj or {}).get("log_level", "warning")
    configure_logging(level="debug" if level == "debug" else "info", redactor=redactor,
                      journal=bool(os.environ.get("JOURNAL_STREAM")))
    return Daemon(config, redactor=redactor).run()
