"""Progress on the terminal for ``reelwatch check``: files checked, and each long hash.

Shown on stderr, only when it is a terminal, so that ``--format json`` on stdout stays clean.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from rich.console import Console
from rich.markup import escape
from rich.progress import (BarColumn, DownloadColumn, MofNCompleteColumn, Progress, TextColumn,
                           TimeRemainingColumn, TransferSpeedColumn)

from .hashing import hash_file

LONG_HASH = 256 << 20
"""Files at least this big get a progress bar of their own while they are hashed."""


@dataclass
class CheckProgress:
    hasher: Callable[[str, str], str] | None = None
    advance: Callable[[int], None] | None = None
    total: Callable[[int], None] | None = None


@contextmanager
def check_progress(enabled: bool | None = None) -> Iterator[CheckProgress]:
    enabled = sys.stderr.isatty() if enabled is None else enabled
    if not enabled:
        yield CheckProgress()
        return
    console = Console(stderr=True)
    bars = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=console,
                    transient=True)
    hashes = Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                      TimeRemainingColumn(), console=console, transient=True)
    files = bars.add_task("checking", total=None)

    def hasher(path: str, algo: str) -> str:
        size = os.path.getsize(path)
        if size < LONG_HASH:
            return hash_file(path, algo)
        task = hashes.add_task(f"{algo} {escape(os.path.basename(path))}", total=size)
        try:
            return hash_file(path, algo, progress=lambda n: hashes.advance(task, n))
        finally:
            hashes.remove_task(task)

    from rich.console import Group
    from rich.live import Live
    with Live(Group(bars, hashes), console=console, transient=True, refresh_per_second=8):
        yield CheckProgress(hasher=hasher, advance=lambda done: bars.update(files, completed=done),
                            total=lambda n: bars.update(files, total=n))
