"""``reelwatch web``: the web pages (loopback by default), and ``reelwatch web hash-password`` for
``[web.users]``. The pages themselves live in :mod:`reelwatch.web`; this is their command line."""

from __future__ import annotations

import click

from .base import CONFIG_ENV, DEFAULT_CONFIG, config_option


@click.group(invoke_without_command=True,
             help="The web pages: overview, cards, shots, findings, assets, live; acknowledge, assign and note "
                  "from the browser. Served on 127.0.0.1:8765 unless --listen or [web] listen says otherwise "
                  "(beyond loopback only with [web.users]). Runs until Ctrl-C.")
@config_option(required=False)
@click.option("--listen", metavar="HOST:PORT", help="where to serve (default: [web] listen, then 127.0.0.1:8765)")
@click.pass_context
def web(ctx: click.Context, config: str | None, listen: str | None) -> int | None:
    if ctx.invoked_subcommand is not None:
        return None
    if not config:  # required to serve, not to hash a password
        raise click.UsageError(f"no production config: give --config FILE or set ${CONFIG_ENV} "
                               f"(or install {DEFAULT_CONFIG})", ctx)
    from ..checking.runtime import load_runtime
    from ..web.serve import run_web
    return run_web(load_runtime(config, None).config, listen)


@web.command("hash-password", help="Read a password (twice, without echo; or one line from stdin) and print "
                                   "the scrypt hash to write as [web.users.NAME] password.")
def hash_password() -> int:
    from ..web.serve import hash_password_main
    return hash_password_main()
