"""``reelwatch demo``: a throwaway production, end to end, in under a minute."""

from __future__ import annotations

from pathlib import Path

import click


@click.command(help="A throwaway production, end to end, in under a minute.")
@click.option("--dir", "where", type=click.Path(file_okay=False),
              help="where to create it (default: a temporary folder, removed afterwards)")
@click.option("--keep", is_flag=True, help="keep the demo folder")
def demo(where: str | None, keep: bool) -> int:
    from ..demo.run import run_demo
    return run_demo(Path(where) if where else None, keep=keep)
