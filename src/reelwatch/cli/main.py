"""The ``reelwatch`` command line (click). Exit codes: 0 fine, 1 findings of error or worse (or a
damaged state database found by ``state check``), 2 usage, config or state database errors, 130
stopped by Ctrl-C or SIGTERM."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Any

COMMANDS = {  # one line per command: its name -> "module:click command" under reelwatch.cli
    "ack": "admin:ack",
    "check": "check:check",
    "config": "config:config",
    "demo": "demo:demo",
    "findings": "admin:findings",
    "fleet": "fleet:fleet",
    "history": "history:history",
    "notify": "admin:notify",
    "plugins": "admin:plugins",
    "rehash": "rehash:rehash",
    "run": "run:run",
    "state": "state:state",
    "status": "status:status",
    "timeline": "timeline:timeline",
    "web": "web:web",
}


def _command(argv: Sequence[str]) -> str | None:
    """The sub-command named in ``argv``, read before click (and everything else) is imported."""
    it = iter(argv)
    for token in it:
        if token == "--log-level":
            next(it, None)
        elif not token.startswith("-"):
            return token
    return None


def _stop_once(_signum: int, _frame: object) -> None:
    """Ctrl-C or SIGTERM: stop, and let no second one cut the stop short (exit 130, said once)."""
    import signal
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    obj: dict[str, Any] = {}
    checking = _command(argv) == "check" and "_REELWATCH_COMPLETE" not in os.environ
    if checking:
        import signal
        # Ctrl-C or SIGTERM while it starts stops it as at any later point: exit 130, said once
        signal.signal(signal.SIGTERM, _stop_once)
        signal.signal(signal.SIGINT, _stop_once)
        # fork the first MediaInfo worker while this process is small and has one thread
        from ..probe.pool import ProbePool
        obj["pool"] = ProbePool().start(1)
    try:
        rv = _run(argv, obj)
    except KeyboardInterrupt:
        rv = 130
    finally:
        if obj.get("pool") is not None:  # not handed to ``check`` (``check --help``, a usage error, stopped)
            obj["pool"].close()
    if rv == 130 and checking and not obj.get("stop_said"):
        print("reelwatch: check stopped; nothing was reported", file=sys.stderr)
    return rv


def _run(argv: list[str], obj: dict[str, Any]) -> int:
    import click

    from .root import cli
    try:
        rv = cli.main(args=argv, prog_name="reelwatch", standalone_mode=False, obj=obj)
    except click.ClickException as err:  # usage errors: one message, exit 2; never a traceback
        err.show()
        return err.exit_code
    except click.Abort:  # Ctrl-C while click itself was reading
        return 130
    return int(rv or 0)


def parse(argv: Sequence[str]) -> tuple[tuple[str, ...], dict[str, Any]]:
    """The command path and its parameters as ``reelwatch ARGV`` would read them, without running
    anything (``("config", "validate"), {"file": ...}``): for checking command lines written
    elsewhere, such as the systemd units."""
    import click

    from .root import cli
    ctx = cli.make_context("reelwatch", list(argv))
    path: list[str] = []
    params = dict(ctx.params)
    while isinstance(ctx.command, click.Group):
        rest = [*ctx.protected_args, *ctx.args]
        name, command, rest = ctx.command.resolve_command(ctx, rest)
        assert name is not None and command is not None
        ctx = command.make_context(name, rest, parent=ctx)
        path.append(name)
        params.update(ctx.params)
    return tuple(path), params
