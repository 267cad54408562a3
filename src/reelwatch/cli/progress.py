"""Progress on the terminal for ``reelwatch check``: files checked, and each long hash.

Shown on stderr, only when it is a terminal, so that ``--format json`` on stdout stays clean.
The hasher (:class:`reelwatch.integrity.hashjobs.Hashes`) is the same either way: one hash per file
version, stopped within one read by Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from ..integrity.hashjobs import Hashes, LongHash

LONG_HASH = 256 << 20
"""Files at least this big get a progress bar of their own while they are hashed."""


@dataclass
class CheckProgress:
    hasher: Hashes = field(default_factory=lambda: Hashes(long_bytes=LONG_HASH))
    advance: Callable[[int], None] | None = None
    total: Callable[[int], None] | None = None


@contextmanager
def check_progress(enabled: bool | None = None) -> Iterator[CheckProgress]:
    enabled = sys.stderr.isatty() if enabled is None else enabled
    if not enabled:
        yield CheckProgress()
        return
    from rich.console import Console, Group
    from rich.live import Live
    from rich.markup import escape
    from rich.progress import (BarColumn, DownloadColumn, MofNCompleteColumn, Progress, TextColumn,
                               TimeRemainingColumn, TransferSpeedColumn)

    console = Console(stderr=True)
    bars = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=console,
                    transient=True)
    hashes = Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                      TimeRemainingColumn(), console=console, transient=True)
    files = bars.add_task("checking", total=None)
    tasks: dict[int, object] = {}

    def started(job: LongHash) -> None:
        tasks[id(job)] = hashes.add_task(f"{job.algo} {escape(job.path.rsplit('/', 1)[-1])}", total=job.size)

    def advanced(job: LongHash, n: int) -> None:
        hashes.advance(tasks[id(job)], n)  # type: ignore[arg-type]

    def finished(job: LongHash) -> None:
        hashes.remove_task(tasks.pop(id(job)))  # type: ignore[arg-type]

    hasher = Hashes(long_bytes=LONG_HASH, on_long=started, on_progress=advanced, on_done=finished)
    with Live(Group(bars, hashes), console=console, transient=True, refresh_per_second=8):
        yield CheckProgress(hasher=hasher, advance=lambda done: bars.update(files, completed=done),
                            total=lambda n: bars.update(files, total=n))
