"""What every command shares: the lazily loaded command group, the one ``--config`` option, the one
``--format`` vocabulary and the value types whose mistakes are usage errors (exit 2, one line,
never a traceback)."""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import click

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2

DEFAULT_CONFIG = "/etc/reelwatch/production.toml"
CONFIG_ENV = "REELWATCH_CONFIG"
FORMATS = ("table", "json")
DEPRECATED_FORMATS = {"text": "table"}  # ``history`` and ``rehash`` said ``text`` before 0.2

F = TypeVar("F", bound=Callable[..., Any])


class LazyGroup(click.Group):
    """A group whose commands are named in a mapping ``name -> "module:attribute"`` (modules under
    ``reelwatch.cli``) and imported only when used: ``reelwatch check`` must not pay for loading the
    state, rehash and notification code (issue 12: start-up of a one-file check), and completing a
    command name imports nothing."""

    def __init__(self, *args: Any, lazy: Mapping[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = dict(lazy or {})

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args and not ctx.resilient_parsing:  # ``reelwatch`` alone is a usage error, as it was
            click.echo(ctx.get_help(), err=True)
            ctx.exit(EXIT_USAGE)
        return super().parse_args(ctx, args)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.lazy:
            return super().get_command(ctx, cmd_name)
        module, _, attr = self.lazy[cmd_name].partition(":")
        command = getattr(importlib.import_module(f"reelwatch.cli.{module}"), attr)
        if not isinstance(command, click.Command):
            raise TypeError(f"reelwatch.cli.{module}.{attr} is not a click command")
        return command


def _config_default() -> str | None:
    """After ``$REELWATCH_CONFIG`` (click reads it first): /etc/reelwatch/production.toml when it
    exists, so that the commands quoted in messages (``reelwatch ack 42``) work as written on the
    server."""
    return DEFAULT_CONFIG if Path(DEFAULT_CONFIG).is_file() else None


def config_option(required: bool = True) -> Callable[[F], F]:
    """``--config FILE``, the same for every command: the option, then ``$REELWATCH_CONFIG``, then
    /etc/reelwatch/production.toml. ``required=False``: without any of them the command runs on
    defaults (``check``, ``plugins``)."""
    def missing(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
        if value is None and required and not ctx.resilient_parsing:
            raise click.UsageError(f"no production config: give --config FILE or set ${CONFIG_ENV} "
                                   f"(or install {DEFAULT_CONFIG})", ctx)
        ctx.meta["reelwatch.config"] = value  # for the messages of errors met outside the command
        return value

    return click.option("--config", "config", type=click.Path(dir_okay=False), envvar=CONFIG_ENV,
                        default=_config_default, show_envvar=True, callback=missing,
                        help=f"production config (TOML); default ${CONFIG_ENV}, then {DEFAULT_CONFIG}")


class Format(click.Choice):
    """``table`` (for people) or ``json`` (for scripts); ``text`` is still read as ``table`` with a
    note on stderr, so that scripts written for 0.1 keep working."""

    def __init__(self) -> None:
        super().__init__(FORMATS, case_sensitive=False)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str) and value.lower() in DEPRECATED_FORMATS:
            new = DEPRECATED_FORMATS[value.lower()]
            click.echo(f"reelwatch: --format {value} is deprecated and will be removed; it means "
                       f"--format {new} now", err=True)
            return new
        return super().convert(value, param, ctx)


def format_option(default: str | None = "table", help: str | None = None) -> Callable[[F], F]:
    return click.option("--format", "fmt", type=Format(), default=default, show_default=default is not None,
                        help=help or "table for people, json for scripts")


class SeverityType(click.ParamType):
    name = "severity"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        from ..core.model import Severity
        if isinstance(value, Severity):
            return value
        try:
            return Severity.parse(value)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)

    def shell_complete(self, ctx: click.Context, param: click.Parameter,
                       incomplete: str) -> list[click.shell_completion.CompletionItem]:
        from click.shell_completion import CompletionItem
        return [CompletionItem(s) for s in ("info", "warning", "error", "blocker") if s.startswith(incomplete)]


class Parsed(click.ParamType):
    """A value read by one of the parsers of :mod:`.rehash` (sizes, durations, samples); their
    ``ArgumentTypeError`` becomes click's usage error."""

    def __init__(self, name: str, parse: Callable[[str], Any]) -> None:
        self.name, self.parse = name, parse

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if not isinstance(value, str):
            return value
        try:
            return self.parse(value)
        except Exception as exc:  # argparse.ArgumentTypeError, ValueError: the message says what to write
            self.fail(str(exc), param, ctx)


def user() -> str:
    return os.environ.get("USER", "someone")
