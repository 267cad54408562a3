"""``reelwatch check``: one-shot answers before work is handed on. No daemon, no notifications.

Paths are expanded into assets exactly as the daemon sees them (image sequences grouped,
OS litter and temp names ignored); a path inside a configured volume is checked with that
volume's rules. The state is an in-memory database, so a check never changes the daemon's.

Nothing is passed over in silence: a file that cannot be checked is a finding, anything that
is not a file (a named pipe, a socket, a device, a symbolic link) is listed as skipped, and
a run that checked nothing although it found something says so.
"""

from __future__ import annotations

import errno
import os
import stat as statmod
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from ..core.model import Asset, Finding, Severity
from ..core.tree import join, walk_tree
from ..probe.pool import ProbePool

if TYPE_CHECKING:
    from ..core.config import Config

CHECK_VOLUME = "check"


@dataclass
class CheckReport:
    findings: list[Finding] = field(default_factory=list)
    assets: int = 0
    problems: list[str] = field(default_factory=list)
    unchecked: list[str] = field(default_factory=list)
    """Paths that could not be checked because the tool itself is broken (not the files' fault)."""
    skipped: list[tuple[str, str]] = field(default_factory=list)
    """(path, why) of what was found but is not a file to check (a named pipe, a link ...)."""

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


def special_kind(mode: int) -> str:
    """What a directory entry that is not a regular file or folder is, in words."""
    for test, words in ((statmod.S_ISFIFO, "a named pipe (FIFO)"), (statmod.S_ISSOCK, "a socket"),
                        (statmod.S_ISCHR, "a character device"), (statmod.S_ISBLK, "a block device"),
                        (statmod.S_ISLNK, "a symbolic link (not followed)")):
        if test(mode):
            return words
    return "not a regular file"


def _path_max(root: Path) -> int:
    try:
        return os.pathconf(root, "PC_PATH_MAX")
    except (OSError, ValueError):
        return 4096


def _why(exc: OSError, path: Path) -> str:
    if exc.errno == errno.ENAMETOOLONG:
        return (f"its full path is {len(os.fsencode(path)):,} bytes long, longer than this system can open "
                f"({_path_max(Path('/')):,})")
    return exc.strerror or str(exc)


def _not_checked(volume: str, root: Path, rel: str, why: str) -> Finding:
    return Finding(
        rule="sanity.not_checked", severity=Severity.ERROR,
        asset=Asset(volume=volume, root=str(root), relpath=rel, size=0, mtime_ns=0),
        message=f"this file could not be checked: {why}", expected="every file handed on can be opened and checked",
        impacts=("editorial",), impact="nothing about it is known; editing systems will fail to open it as well",
        fix="shorten the folder names or move it to a shallower folder, then check it again")


def _unreadable(volume: str, root: Path, rel: str, error: str) -> Finding:
    return Finding(
        rule="sanity.folder_unreadable", severity=Severity.ERROR,
        asset=Asset(volume=volume, root=str(root), relpath=rel or ".", size=0, mtime_ns=0),
        message=f"this folder cannot be read: {error}", expected="reelwatch can list every folder it checks",
        impact="nothing inside it was checked", fix="give the reelwatch user read and execute permission on it")


def expand(volume: str, root: Path, start: Path, ignore: Callable[[str, str], bool],
           problems: list[Finding], skipped: list[tuple[str, str]] | None = None) -> Iterator[Asset]:
    """Assets under ``start`` (a file or a folder), grouped as the daemon groups them. A file
    that cannot be read at all goes to ``problems`` as a finding; what is not a file or folder
    goes to ``skipped`` with the reason."""
    skipped = skipped if skipped is not None else []
    if start.is_file():
        real = start.resolve()  # a symlink is checked as the file it points to
        rel = real.relative_to(root).as_posix()
        if not ignore(volume, rel):
            folder = str(Path(rel).parent)
            names = [real.name]
            yield from _folder_assets(volume, root, "" if folder == "." else folder, names, skipped)
        return
    top = start.resolve().relative_to(root).as_posix()

    def unreadable(folder: str, exc: OSError) -> None:
        problems.append(_unreadable(volume, root, folder, _why(exc, root / folder)))

    for folder, entries, subdirs in walk_tree(root, "" if top == "." else top, on_error=unreadable):
        subdirs.clear()  # followed only where the stat below says folder and the ignore rules let it
        names = []
        for e in entries:
            rel = join(folder, e.name)
            try:
                mode = e.stat(follow_symlinks=False).st_mode
            except FileNotFoundError:
                skipped.append((rel, "it disappeared before it could be checked"))
                continue
            except OSError as exc:
                if not ignore(volume, rel):
                    problems.append(_not_checked(volume, root, rel, _why(exc, root / rel)))
                continue
            if statmod.S_ISDIR(mode):
                if not ignore(volume, rel + "/"):
                    subdirs.append(rel)
            elif statmod.S_ISREG(mode):
                if not ignore(volume, rel):
                    names.append(e.name)
            elif not ignore(volume, rel):
                skipped.append((rel, special_kind(mode)))
        yield from _folder_assets(volume, root, folder, names, skipped)


def _folder_assets(volume: str, root: Path, folder: str, names: list[str],
                   skipped: list[tuple[str, str]]) -> Iterator[Asset]:
    from ..core import sequences
    from ..watch.settle import file_asset, unit_of
    singles, seqs = sequences.folder_assets(volume, str(root), folder, names)
    for name in singles:
        rel = f"{folder}/{name}" if folder else name
        asset = file_asset(volume, str(root), rel)
        if asset is not None:
            yield asset
        else:
            skipped.append((rel, "it disappeared or changed into something else before it could be checked"))
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
        from .runtime import load_runtime
        from .pipeline import Pipeline
        from .routing import apply_defaults
        from ..state.store import Store
        runtime = load_runtime(config_path, pool)
        pool.size = workers or runtime.config.probe.workers or pool.size
        pool.timeout = runtime.config.probe.timeout
        report.problems += [f"plugin not loaded: {e}" for e in runtime.pm.load_errors]
        store = Store(":memory:")
        from ..integrity.hashjobs import Hashes
        store.hasher = hasher or Hashes()
        pipeline = Pipeline(runtime.pm, runtime.config, store)
        assets: list[Asset] = []
        bad: list[Finding] = []
        for raw in paths:
            path = Path(raw)
            if not path.exists():
                report.problems.append(f"{raw}: no such file or folder")
                continue
            if not path.is_file() and not path.is_dir():
                kind = special_kind(path.stat().st_mode)
                report.problems.append(f"{raw}: this is {kind}, not a file or folder: there is nothing to check")
                continue
            volume, root = _volume_for(path, runtime.config)
            assets.extend(expand(volume, root, path, runtime.pm.ignore, bad, report.skipped))
        report.findings.extend(f for f in (apply_defaults(b, runtime.config) for b in bad) if f)
        report.assets = len(assets)
        if not assets and (bad or report.skipped):
            report.problems.append(f"nothing was checked: {len(bad) + len(report.skipped)} item(s) found, "
                                   "none of them a file that could be checked (listed above)")
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
