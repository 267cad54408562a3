"""Checking files on a volume against the checksums recorded beside them when they were copied.

The library half of the integrity rules (``plugins/integrity.py`` words the findings):

* where the records are: ASC MHL histories (``ascmhl/`` folders, :mod:`reelwatch.mhl`) from a
  file's folder up to the volume root, and legacy manifests (:mod:`reelwatch.manifests`) in
  the file's folder or any folder above it, up to the volume root;
* parsed histories and manifests, cached by what is on disk (bounded; a file whose size or
  modification time changes gets a new key);
* the files behind an asset (one file, or every frame of an image sequence) and, the other
  way round, assets for the files a folder-level check reports, the frames of one sequence
  becoming one asset.

Hashes come from the caller's ``hasher(path, algo)`` (the plugin passes the state database's
cached ``file_hash``), so each file is read once per algorithm.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Iterable, Iterator
from functools import lru_cache
from pathlib import Path

from .manifests import Manifest, ManifestError, is_manifest_name, read_manifest, verify_manifest
from .mhl import FOLDER, Hasher, History, MHLError, ancestor_roots, find_roots, load_history
from .mhl_verify import expected_hash
from .model import Asset
from .sequences import group_names

Mismatch = tuple[str, str, str, str]
"""``(volume-relative path, algorithm, actual, expected)`` of a file that does not match its
record; ``actual`` is '' when the file cannot be read (``size`` as algorithm: byte counts)."""


# -- records on disk, cached by what is on disk ------------------------------------------------

def _signature(folder: Path) -> tuple[tuple[str, int, int], ...]:
    try:
        return tuple(sorted((e.name, e.stat().st_size, e.stat().st_mtime_ns) for e in os.scandir(folder)))
    except OSError:
        return ()


@lru_cache(maxsize=64)
def _history(root: str, _signature: tuple[tuple[str, int, int], ...]) -> History:
    return load_history(root, children=False)


def cached_history(root: Path) -> History:
    """The history in ``root/ascmhl`` alone (no nested ones), parsed again only when its files change."""
    return _history(str(root), _signature(root / FOLDER))


@lru_cache(maxsize=256)
def _manifest(path: str, _size: int, _mtime: int) -> Manifest | ManifestError:
    try:
        return read_manifest(path)
    except ManifestError as exc:
        return exc


def cached_manifest(path: Path) -> Manifest | ManifestError | None:
    """The manifest at ``path``, the error that says why it cannot be read, or None when it is gone."""
    try:
        st = path.stat()
    except OSError:
        return None
    return _manifest(str(path), st.st_size, st.st_mtime_ns)


def manifests_in(folder: Path) -> list[Path]:
    """Manifest files directly in a folder (listed afresh: a card's FAT times are too coarse to cache on)."""
    try:
        with os.scandir(folder) as it:
            return sorted(folder / e.name for e in it if is_manifest_name(e.name) and e.is_file())
    except OSError:
        return []


def manifests_below(root: str, tops: Iterable[str]) -> list[Path]:
    """Manifests in the volume root folder and anywhere under the top folders ``tops``
    (``ascmhl/`` folders excepted), in a stable order."""
    found: list[Path] = list(manifests_in(Path(root)))
    for top in sorted(t for t in tops if t):
        for dirpath, dirnames, _ in os.walk(Path(root) / top):
            dirnames[:] = sorted(d for d in dirnames if d != FOLDER)
            found += manifests_in(Path(dirpath))
    return found


def history_roots(root: str, assets: Iterable[Asset], tops: Iterable[str]) -> list[Path]:
    """The outermost histories to verify for a batch: the outermost one above each asset's
    (first) file, and every one at or under the top folders ``tops`` ('' is the volume root)."""
    roots: set[Path] = set()
    for a in assets:
        chain = ancestor_roots(member_files(a)[0][0], root)
        if chain:
            roots.add(chain[-1])
    for top in tops:
        roots.update(find_roots(Path(root) / top) if top else ([Path(root)] if (Path(root) / FOLDER).is_dir() else []))
    return sorted(r for r in roots if not any(o in r.parents for o in roots))  # outermost only


# -- the files behind an asset, and assets for files ---------------------------------------------

def member_files(asset: Asset) -> list[tuple[str, str]]:
    """(absolute path, volume-relative path) of each file behind an asset."""
    if asset.sequence is None:
        return [(asset.path, asset.relpath)]
    folder = asset.folder
    return [(str(Path(asset.root) / folder / n), f"{folder}/{n}" if folder else n)
            for n in asset.sequence.frame_names]


def volume_relpath(path: Path, root: str) -> str:
    """Volume-relative posix path; '' for the volume root itself."""
    rel = path.relative_to(root).as_posix()
    return "" if rel == "." else rel


def asset_at(volume: str, root: str, rel: str) -> Asset:
    """An asset for one path on a volume (size and mtime 0 when it is not there)."""
    try:
        st = os.stat(Path(root) / rel)
        return Asset(volume, root, rel, st.st_size, st.st_mtime_ns)
    except OSError:
        return Asset(volume, root, rel, size=0, mtime_ns=0)


def group_assets(volume: str, root: str, rels: Iterable[str]) -> Iterator[tuple[Asset, list[str]]]:
    """Assets for files found by folder-level checks, with their files; frames of a sequence become one asset."""
    by_folder: dict[str, list[str]] = defaultdict(list)
    for rel in sorted(set(rels)):
        parent = str(Path(rel).parent)
        by_folder["" if parent == "." else parent].append(Path(rel).name)
    for folder, names in by_folder.items():
        join = (lambda n: f"{folder}/{n}") if folder else (lambda n: n)
        singles, seqs = group_names(names)
        for n in singles:
            yield asset_at(volume, root, join(n)), [join(n)]
        for info in seqs:
            members = [join(n) for n in info.frame_names]
            if len(members) == 1:
                yield asset_at(volume, root, members[0]), members
            else:
                yield Asset(volume, root, join(info.pattern), 0, 0, sequence=info), members


# -- one asset against its records ---------------------------------------------------------------

def mhl_mismatches(asset: Asset, hasher: Hasher, algorithms: tuple[str, ...]) -> tuple[str, list[Mismatch]]:
    """The files of an asset that do not match the ASC MHL history that lists them, and the
    volume-relative root of that history ('' for the volume root). Files no history lists, or
    lists only in formats outside ``algorithms``, are not checked here."""
    bad: list[Mismatch] = []
    where = ""
    for path, rel in member_files(asset):
        try:
            found = expected_hash(path, asset.root, loader=cached_history, algorithms=algorithms)
        except (MHLError, OSError, ValueError):
            continue
        if found is None or found[2] is None:
            continue
        hroot, _, entry = found
        where = volume_relpath(hroot, asset.root)
        try:
            actual = hasher(path, entry.algo).lower()
        except OSError:
            actual = ""
        if actual != entry.value.lower():
            bad.append((rel, entry.algo, actual, entry.value))
    return where, bad


def manifest_mismatches(asset: Asset, hasher: Hasher,
                        algorithms: tuple[str, ...]) -> tuple[dict[str, Mismatch], set[str]]:
    """The files of an asset that do not match a legacy manifest listing them (in their folder
    or any folder above, up to the volume root), by volume-relative path, and the
    volume-relative paths of the manifests they fail against."""
    bad: dict[str, Mismatch] = {}
    sources: set[str] = set()
    for path, rel in member_files(asset):
        folder, stop = Path(path).parent, Path(asset.root)
        while True:
            for mpath in manifests_in(folder):
                manifest = cached_manifest(mpath)
                entry = manifest.lookup(Path(path).relative_to(folder).as_posix()) \
                    if isinstance(manifest, Manifest) else None
                if entry is None:
                    continue
                for p in verify_manifest(Manifest(mpath, manifest.kind, (entry,)), hasher=hasher,
                                         algorithms=algorithms, unlisted=False, within=asset.root):
                    if p.kind == "mismatch":
                        bad.setdefault(rel, (rel, p.algo, p.actual, p.expected))
                        sources.add(volume_relpath(mpath, asset.root))
            if folder == stop or stop not in folder.parents:
                break
            folder = folder.parent
    return bad, sources
