"""``reelwatch check``: one-shot answers before work is handed on. No daemon, no notifications.

Paths are expanded into assets exactly as the daemon sees them (image sequences grouped,
OS litter and temp names ignored); a path inside a configured volume is checked with that
volume's rules. The state is an in-memory database, so a check never changes the daemon's.
"""

from __future__ import annotations

import os
import stat as statmod
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from .model import Asset, Finding, Severity
from .probe import ProbePool

if TYPE_CHECKING:
    from .config import Config

CHECK_VOLUME = "check"


@dataclass
class CheckReport:
    findings: list[Finding] = field(default_factory=list)
    assets: int = 0
    problems: list[str] = field(default_factory=list)
    unchecked: list[str] = field(default_factory=list)
    """Paths that could not be checked because the tool itself is broken (not the files' fault)."""

    @property
    def worst(self) -> Severity | None:
        return max((f.severity for f in self.findings), default=None)

    @property
    def exit_code(self) -> int:
        """2 when something could not be checked (the run is incomplete, whatever it found),
        1 when an error or worse was found, else 0."""
        if self.unchecked:
            return 2
        worst = self.worst
        return 1 if worst is not None and worst >= Severity.ERROR else 0


def _volume_for(path: Path, config: Config) -> tuple[str, Path]:
    """(volume name, root) for a path: a configured volume that holds it, else an ad-hoc one."""
    real = path.resolve()
    for vol in config.volumes:
        root = config.resolve(vol.path).resolve()
        if real == root or root in real.parents:
            return vol.name, root
    return CHECK_VOLUME, real if real.is_dir() else real.parent


def _unreadable(volume: str, root: Path, rel: str, error: str) -> Finding:
    return Finding(
        rule="sanity.folder_unreadable", severity=Severity.ERROR,
        asset=Asset(volume=volume, root=str(root), relpath=rel or ".", size=0, mtime_ns=0),
        message=f"this folder cannot be read: {error}", expected="reelwatch can list every folder it checks",
        impact="nothing inside it was checked", fix="give the reelwatch user read and execute permission on it")


def expand(volume: str, root: Path, start: Path, ignore: Callable[[str, str], bool],
           problems: list[Finding]) -> Iterator[Asset]:
    """Assets under ``start`` (a file or a folder), grouped as the daemon groups them."""
    if start.is_file():
        real = start.resolve()  # a symlink is checked as the file it points to
        rel = real.relative_to(root).as_posix()
        if not ignore(volume, rel):
            folder = str(Path(rel).parent)
            names = [real.name]
            yield from _folder_assets(volume, root, "" if folder == "." else folder, names)
        return
    stack = [start.resolve().relative_to(root).as_posix()]
    while stack:
        folder = stack.pop()
        folder = "" if folder == "." else folder
        try:
            entries = sorted(os.scandir(root / folder), key=lambda e: e.name)
        except OSError as exc:
            problems.append(_unreadable(volume, root, folder, exc.strerror or str(exc)))
            continue
        names = []
        for e in entries:
            rel = f"{folder}/{e.name}" if folder else e.name
            try:
                mode = e.stat(follow_symlinks=False).st_mode
            except OSError:
                continue
            if statmod.S_ISDIR(mode):
                if not ignore(volume, rel + "/"):
                    stack.append(rel)
            elif statmod.S_ISREG(mode) and not ignore(volume, rel):
                names.append(e.name)
        yield from _folder_assets(volume, root, folder, names)


def _folder_assets(volume: str, root: Path, folder: str, names: list[str]) -> Iterator[Asset]:
    from . import sequences
    from .pipeline import file_asset
    from .settle import unit_of
    singles, seqs = sequences.folder_assets(volume, str(root), folder, names)
    for name in singles:
        asset = file_asset(volume, str(root), f"{folder}/{name}" if folder else name)
        if asset is not None:
            yield asset
    for asset in seqs:
        assert asset.sequence is not None
        first = asset.sequence.frame_names[0]
        yield replace(asset, relpath=unit_of(f"{folder}/{first}" if folder else first).relpath)


def run_check(paths: list[str], config_path: str | None, *, workers: int = 0,
              progress: Callable[[int], None] | None = None, pool: ProbePool | None = None,
              hasher: Callable[[str, str], str] | None = None, total: Callable[[int], None] | None = None
              ) -> CheckReport:
    """Check paths once; raises ConfigError for a bad config. A ``pool`` passed in is reused
    (and left open), which spares the worker start-up when checking many times."""
    report = CheckReport()
    own_pool = pool is None
    if pool is None:  # a first worker starts while the config and the plugins load
        pool = ProbePool(workers).start(1)
    try:
        from .app import load_runtime
        from .pipeline import Pipeline, apply_defaults
        from .store import Store
        runtime = load_runtime(config_path, pool)
        pool.size = workers or runtime.config.probe.workers or pool.size
        pool.timeout = runtime.config.probe.timeout
        report.problems += [f"plugin not loaded: {e}" for e in runtime.pm.load_errors]
        store = Store(":memory:")
        from .hashjobs import Hashes
        store.hasher = hasher or Hashes()
        pipeline = Pipeline(runtime.pm, runtime.config, store)
        assets: list[Asset] = []
        bad: list[Finding] = []
        for raw in paths:
            path = Path(raw)
            if not path.exists():
                report.problems.append(f"{raw}: no such file or folder")
                continue
            volume, root = _volume_for(path, runtime.config)
            assets.extend(expand(volume, root, path, runtime.pm.ignore, bad))
        report.findings.extend(f for f in (apply_defaults(b, runtime.config) for b in bad) if f)
        report.assets = len(assets)
        if total:
            total(len(assets))
        batch = store.next_batch()
        count = 0
        broken: list[str] = []
        checked: list[Asset] = []

        def done(asset: Asset, outcome: list[Finding] | None | Exception) -> None:
            nonlocal count
            count += 1
            if isinstance(outcome, Exception):
                report.unchecked.append(asset.path)
                broken.append(str(outcome))
            else:
                checked.append(asset)
                report.findings.extend(outcome or ())
            if progress:
                progress(count)

        pipeline.process_many(assets, batch, force=True, done=done)
        if broken:
            report.problems.append(f"MediaInfo is not working ({broken[0]}): {len(report.unchecked)} of "
                                   f"{len(assets)} files could not be checked; nothing was judged on them")
        report.findings.extend(pipeline.finish_batch(checked, batch))
        store.close()
    finally:
        if own_pool:
            pool.close()
    report.findings.sort(key=lambda f: (-f.severity, f.asset.relpath, f.rule))
    return report
