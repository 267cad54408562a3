"""The ``reelwatch`` group: ``--version``, ``--log-level``, the commands of :data:`.main.COMMANDS`,
and the errors every command may meet (a bad config, a damaged state database) as one clear
message and exit 2."""

from __future__ import annotations

import os
from typing import Any

import click

from .. import __version__
from .base import EXIT_USAGE, LazyGroup
from .main import COMMANDS


class Root(LazyGroup):
    def invoke(self, ctx: click.Context) -> Any:
        from ..core.config import ConfigError
        from ..state.dbfile import StateCorrupt
        from ..state.schema import StateRefused
        try:
            return super().invoke(ctx)
        except ConfigError as err:
            click.echo(str(err), err=True)
            ctx.exit(EXIT_USAGE)
        except StateCorrupt as err:
            err.config = err.config or ctx.meta.get("reelwatch.config")
            click.echo(f"reelwatch: {err}", err=True)
            ctx.exit(EXIT_USAGE)
        except StateRefused as err:  # a newer schema, a database server that cannot be reached
            click.echo(f"reelwatch: {err}", err=True)
            ctx.exit(EXIT_USAGE)
        except KeyboardInterrupt:
            ctx.exit(130)


@click.group(cls=Root, lazy=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="reelwatch", message="%(prog)s %(version)s")
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"], case_sensitive=False),
              default="warning", show_default=True, help="what the log says on stderr")
@click.pass_context
def cli(ctx: click.Context, log_level: str) -> None:
    """Production-workflow guard for film and TV.

    Shell completion: eval "$(_REELWATCH_COMPLETE=bash_source reelwatch)" (zsh_source, fish_source).
    """
    from ..service.log import configure_logging
    ctx.ensure_object(dict)
    ctx.obj["log_level"] = log_level.lower()
    configure_logging(level=log_level.lower(), journal=bool(os.environ.get("JOURNAL_STREAM")))
