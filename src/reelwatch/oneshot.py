"""``reelwatch check``: one-shot answers before work is handed on. No daemon, no notifications.

Paths are expanded into assets exactly as the daemon sees them (image sequences grouped,
OS litter and temp names ignored); a path inside a configured volume is checked with that
volume's rules. The state is an in-memory database, so a check never changes the daemon's.
"""

from __future__ import annotations

import os
import stat as statmod
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

from . import sequences
from .app import load_runtime
from .config import Config
from .model import Asset, Finding, Severity
from .pipeline import Pipeline, apply_defaults, file_asset
from .probe import ProbePool
from .store import Store

CHECK_VOLUME = "check"


@dataclass
class CheckReport:
    findings: list[Finding] = field(default_factory=list)
    assets: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def worst(self) -> Severity | None:
        return max((f.severity for f in self.findings), default=None)

    @property
    def exit_code(self) -> int:
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
    if pool is None:
        probe = load_runtime(config_path, None).config.probe
        pool = ProbePool(workers or probe.workers, probe.timeout, probe.noatime)
    try:
        runtime = load_runtime(config_path, pool)
        report.problems += [f"plugin not loaded: {e}" for e in runtime.pm.load_errors]
        store = Store(":memory:")
        store.hasher = hasher
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
        with ThreadPoolExecutor(max_workers=pool.size) as ex:
            for done, found in enumerate(ex.map(lambda a: pipeline.process(a, batch, force=True), assets), 1):
                report.findings.extend(found or ())
                if progress:
                    progress(done)
        report.findings.extend(pipeline.finish_batch(assets, batch))
        store.close()
    finally:
        if own_pool:
            pool.close()
    report.findings.sort(key=lambda f: (-f.severity, f.asset.relpath, f.rule))
    return report
