"""``reelwatch config validate [FILE]``: every problem of a production config at once."""

from __future__ import annotations

import click

from .base import CONFIG_ENV, EXIT_OK, LazyGroup


@click.group(cls=LazyGroup, help="Config tools.")
def config() -> None:
    pass


@config.command(help=f"Validate a production config (default: ${CONFIG_ENV}): every problem at once, each as "
                     "FILE:LINE: ...; exit 0 (valid) or 2.")
@click.argument("file", required=False, envvar=CONFIG_ENV, type=click.Path(dir_okay=False))
def validate(file: str | None) -> int:
    from ..checking.runtime import load_runtime
    if not file:
        raise click.UsageError(f"name the config FILE, or set ${CONFIG_ENV}")
    runtime = load_runtime(file, None)
    cfg = runtime.config
    for warning in runtime.warnings:
        click.echo(warning, err=True)
    noted = f" ({len(runtime.warnings)} warning(s) above)" if runtime.warnings else ""
    click.echo(f"{file}: valid{noted}. Production {cfg.production.name!r}: {len(cfg.volumes)} volume(s), "
               f"{len(cfg.roles)} role(s), rule sections: {', '.join(sorted(cfg.rules)) or 'none'}")
    return EXIT_OK
