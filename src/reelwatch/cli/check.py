"""``reelwatch check PATH...``: check files or folders once, before work is handed on.

Heavy imports wait inside the command: a one-file check starts in a fraction of a second
(issue 12), and its first MediaInfo worker is forked by :func:`.main.main` before click loads."""

from __future__ import annotations

import sys
from typing import Any

import click

from .base import EXIT_USAGE, config_option, format_option

ROWS = 40
"""Findings shown in the table by default: the worst first, then one line for the rest."""


@click.command(help="Check files or folders once, before work is handed on. Exit 0: nothing of error "
                    "severity; 1: errors found; 2: usage or config error, or nothing could be checked; "
                    "130: stopped.")
@click.argument("paths", nargs=-1, required=True, type=click.Path(), metavar="PATH...")
@config_option(required=False)
@format_option(default=None, extra=("html",),
               help="table or json (default: table on a terminal; json otherwise, said on stderr); html: one "
                    "self-contained page with frame grabs, to mail or keep on the drive")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="with --format html: write the page here "
              "(default: standard output)")
@click.option("--limit", type=click.IntRange(min=1), default=ROWS, show_default=True,
              help="findings shown in the table, the worst first; a last line counts the rest")
@click.option("--all", "show_all", is_flag=True, help="show every finding in the table")
@click.pass_obj
def check(obj: dict[str, Any] | None, paths: tuple[str, ...], config: str | None, fmt: str | None,
          output: str | None, limit: int, show_all: bool) -> int:
    """Ctrl-C and SIGTERM stop it at once (hashes within one read, MediaInfo workers killed),
    exit 130, nothing half-said."""
    import signal
    obj = obj if obj is not None else {}
    live: dict[str, Any] = {}

    def stop(signum: int, _frame: object) -> None:
        # once: a second Ctrl-C while this one is handled must not escape as a bare KeyboardInterrupt
        # (the process then ends by SIGINT, with no exit code and half-said; tests/test_long_hash.py)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if "bar" in live:
            live["bar"].hasher.cancel.set()
        if "pool" in live:
            live["pool"].cancel()
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, stop)  # before the imports below: a signal during them stops it too
    signal.signal(signal.SIGTERM, stop)
    try:
        from ..checking.oneshot import run_check
        from ..probe.pool import ProbePool
        from .output import print_check
        from .progress import check_progress
        pool = live["pool"] = obj.pop("pool", None) or ProbePool().start(1)
        try:
            with check_progress() as bar:
                live["bar"] = bar
                report = run_check(list(paths), config, progress=bar.advance, hasher=bar.hasher,
                                   total=bar.total, pool=pool)
        finally:
            pool.close()
    except BaseException as exc:
        from ..integrity.hashing import HashCancelled
        if isinstance(exc, HashCancelled | KeyboardInterrupt):
            print("reelwatch: check stopped; nothing was reported", file=sys.stderr)
            obj["stop_said"] = True
            return 130
        raise
    if fmt is None:
        fmt = "table" if sys.stdout.isatty() else "json"
        if fmt == "json":  # a person who piped it into less should not wonder where the table went
            print("reelwatch: stdout is not a terminal, so the report is JSON; --format table or "
                  "--format json chooses (and silences this note)", file=sys.stderr)
    if fmt == "html":
        from ..web.report import write_check_html
        write_check_html(report, paths, config, output)
    else:
        print_check(report, fmt, limit=None if show_all else limit)
    if report.problems and not report.assets and not report.findings:
        return EXIT_USAGE  # nothing that could be checked was named
    return report.exit_code
