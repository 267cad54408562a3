"""Checking files on a volume against the checksums recorded beside them when they were copied.

The library half of the integrity rules (``plugins/integrity.py`` words the findings):

* where the records are: ASC MHL histories (``ascmhl/`` folders, :mod:`reelwatch.integrity.mhl.read`) from a
  file's folder up to the volume root, and legacy manifests (:mod:`reelwatch.integrity.manifests`) in
  the file's folder or any folder above it, up to the volume root;
* parsed histories and manifests, cached by what is on disk (bounded; a file whose size or
  modification time changes gets a new key);
* the files behind an asset (one file, or every frame of an image sequence) and, the other
  way round, assets for the files a folder-level check reports, the frames of one sequence
  becoming one asset.

Hashes come from the caller's ``hasher(path, algo)`` (the plugin passes the state database's
cached ``file_hash``), so each file is read once per algorithm. The files of one asset (the
frames of a sequence) are hashed on a few threads (both hash libraries release the GIL), and
the records above a folder are looked up once per folder, not once per frame: measured on a
2,000-file card, the per-frame look-ups cost more than the hashing (bench/bench_offload.py).
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path

from .manifests import Manifest, ManifestError, is_manifest_name, read_manifest, verify_manifest
from .mhl.read import FOLDER, Hasher, MHLHistory, MHLError, ancestor_roots, child_roots, find_roots, load_history
from ..core.model import Asset
from ..core.sequences import group_names

HASH_THREADS = 4
"""Threads hashing the files of one asset: enough to keep both cores (or a RAID's queue) busy."""

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
def _history(root: str, _signature: tuple[tuple[str, int, int], ...]) -> MHLHistory:
    return load_history(root, children=False)


def cached_history(root: Path) -> MHLHistory:
    """The history in ``root/ascmhl`` alone (no nested ones), parsed again only when its files change."""
    return _history(str(root), _signature(root / FOLDER))


def cached_tree(root: Path) -> MHLHistory:
    """The history at ``root`` with every nested one, the outer one from the cache (the per-file
    checks of the same batch have just parsed it: a card's manifest lists every file)."""
    outer = cached_history(root)
    kids = child_roots(root)
    if not kids:
        return outer
    return MHLHistory(outer.root, outer.generations, outer.chain, tuple(load_history(k) for k in kids), outer.problems)


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
    rel = f"{asset.folder}/" if asset.folder else ""
    base = str(Path(asset.root) / rel) + "/" if rel else str(Path(asset.root)).rstrip("/") + "/"
    return [(base + n, rel + n) for n in asset.sequence.frame_names]


def _below(path: str, folder: Path) -> str:
    """``path`` relative to ``folder`` (which holds it), by string when it can be."""
    prefix = str(folder).rstrip("/") + "/"
    return path[len(prefix):] if path.startswith(prefix) else Path(path).relative_to(folder).as_posix()


def _each(items: Sequence[Any], fn: Callable[[Any], object]) -> list[object]:
    """``fn`` over the files of an asset: on a few threads when there are several."""
    if len(items) < 2:
        return [fn(i) for i in items]
    with ThreadPoolExecutor(max_workers=min(HASH_THREADS, len(items)), thread_name_prefix="reelwatch-hash") as ex:
        return list(ex.map(fn, items))


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
        join = (lambda n, f=folder: f"{f}/{n}") if folder else (lambda n: n)
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
    histories: dict[str, list[tuple[Path, MHLHistory]]] = {}

    def around(folder: str) -> list[tuple[Path, MHLHistory]]:
        if folder not in histories:  # every frame of a sequence shares its folder's histories
            found = []
            for root in ancestor_roots(folder + "/-", asset.root):
                try:
                    found.append((root, cached_history(root)))
                except MHLError:
                    continue
            histories[folder] = found
        return histories[folder]

    todo: list[tuple[str, str, str, str, Path]] = []
    for path, rel in member_files(asset):
        folder = path.rpartition("/")[0]
        for hroot, h in around(folder):
            hrel = _below(path, hroot)
            if h.known(hrel):
                try:
                    entry = h.original(hrel, algorithms)
                except ValueError:
                    entry = None
                if entry is not None:
                    todo.append((path, rel, entry.algo, entry.value, hroot))
                break

    def one(item: tuple[str, str, str, str, Path]) -> Mismatch | None:
        path, rel, algo, expected, _ = item
        try:
            actual = hasher(path, algo).lower()
        except OSError:
            actual = ""
        return None if actual == expected.lower() else (rel, algo, actual, expected)

    bad = [m for m in _each(todo, one) if m is not None]  # type: ignore[arg-type]
    where = volume_relpath(todo[-1][4], asset.root) if todo else ""
    return where, bad  # type: ignore[return-value]


def manifest_mismatches(asset: Asset, hasher: Hasher,
                        algorithms: tuple[str, ...]) -> tuple[dict[str, Mismatch], set[str]]:
    """The files of an asset that do not match a legacy manifest listing them (in their folder
    or any folder above, up to the volume root), by volume-relative path, and the
    volume-relative paths of the manifests they fail against."""
    listings: dict[Path, list[tuple[Path, Manifest]]] = {}
    stop = Path(asset.root)

    def manifests(folder: Path) -> list[tuple[Path, Manifest]]:
        if folder not in listings:  # listed once per folder for all the frames in it
            found = [(m, cached_manifest(m)) for m in manifests_in(folder)]
            listings[folder] = [(m, x) for m, x in found if isinstance(x, Manifest)]
        return listings[folder]

    chains: dict[str, list[Path]] = {}

    def chain(folder: str) -> list[Path]:
        """The folder and those above it, up to the volume root: once per folder, not per frame."""
        if folder not in chains:
            out, f = [], Path(folder)
            while True:
                out.append(f)
                if f == stop or stop not in f.parents:
                    break
                f = f.parent
            chains[folder] = out
        return chains[folder]

    todo: list[tuple[str, str, Path, Manifest, Any]] = []  # the files a manifest lists, found first
    for path, rel in member_files(asset):
        for folder in chain(path.rpartition("/")[0] or "/"):
            for mpath, manifest in manifests(folder):
                entry = manifest.lookup(_below(path, folder))
                if entry is not None:
                    todo.append((path, rel, mpath, manifest, entry))

    def one(item: tuple[str, str, Path, Manifest, Any]) -> list[tuple[str, Mismatch, str]]:
        _, rel, mpath, manifest, entry = item
        return [(rel, (rel, p.algo, p.actual, p.expected), volume_relpath(mpath, asset.root))
                for p in verify_manifest(Manifest(mpath, manifest.kind, (entry,)), hasher=hasher,
                                         algorithms=algorithms, unlisted=False, within=asset.root)
                if p.kind == "mismatch"]

    bad: dict[str, Mismatch] = {}
    sources: set[str] = set()
    for found in _each(todo, one):  # type: ignore[arg-type]
        for rel, mismatch, source in found:  # type: ignore[attr-defined]
            bad.setdefault(rel, mismatch)
            sources.add(source)
    return bad, sources
