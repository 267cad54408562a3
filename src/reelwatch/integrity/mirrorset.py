"""Comparing copies of the same media: the engine of the offload mirrors rule (``plugins/mirrors.py``).

Knows nothing of the configuration: a copy is a :class:`Place` (a volume root and a folder on it,
as mounted now) and a configured copy is a :class:`Slot` (the places that may hold it, or why there
are none). For one card (a folder of a copy, ``""`` for the whole folder) it lists each copy without
following symlinks (:func:`walk`, :func:`gather`) and compares the listings (:func:`compare`):
names first, then sizes, and checksums through ``history.file_hash`` only when names and sizes
agree everywhere.

Left out of every listing: OS litter, AppleDouble forks and editor backups (the builtin ignore
rules), ASC MHL history folders (``ascmhl/``), symlinks and the caller's ``ignore`` globs. Listed
as arriving (still being written, so the card is not copied yet): files changed within the place's
``settle`` seconds, and files a copy is writing under a temp name (``.part``, ``.tmp``, rsync's
``.name.XXXXXX``): between two clips of an offload the copies agree on what has landed so far.
"""

from __future__ import annotations

import os
import stat as statmod
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.globs import match
from ..core.litter import LITTER, LITTER_DIRS, is_in_flight, is_temp_name
from ..core.hookspecs import History
from ..core.model import Asset
from ..core.tree import walk_tree

HISTORY_DIR = "ascmhl"
HASH_THREADS = 4


@dataclass(frozen=True)
class Place:
    """One copy as it is on disk now: a volume root and a folder."""

    label: str
    root: Path
    folder: str
    settle: float = 0.0
    available: bool = True
    node: str = ""
    """The node of the fleet whose disk this is, when it is not this machine's (``""``): its copy
    is what that node published (:mod:`.fleetcopy`), never a path here."""


@dataclass(frozen=True)
class Slot:
    """One configured copy: the drives that may hold it (several under a mount root), or why none."""

    label: str
    places: tuple[Place, ...]
    why: str = ""
    need: int = 1
    """How many of the places must hold the card: more than one for several shuttle drives under one
    mount root, each a copy of its own."""
    where: str = ""
    """Where the slot is, for findings that live on it: the volume root, or the mount root pattern."""


def join(*parts: str) -> str:
    return "/".join(p for p in parts if p)


def skip_dir(name: str) -> bool:
    return name in LITTER_DIRS or name == HISTORY_DIR or is_temp_name(name)


def ignored(rel: str, patterns: Iterable[str]) -> bool:
    return any(match(rel, p) for p in patterns)


def unit_of(place: Place, whole: bool, ignore: Sequence[str], asset: Asset) -> str | None:
    """The card an asset belongs to on this copy (``""`` when the ``whole`` folder is compared), or None."""
    if asset.volume != place.label:
        return None
    prefix = place.folder + "/" if place.folder else ""
    if not asset.relpath.startswith(prefix):
        return None
    if whole:
        return ""
    head, sep, _ = asset.relpath[len(prefix):].partition("/")
    return head if sep and not skip_dir(head) and not ignored(head, ignore) else None


def units(place: Place, whole: bool, ignore: Sequence[str]) -> set[str]:
    """The cards on this copy now (``{""}`` when the ``whole`` folder is compared)."""
    if whole:
        return {""}
    if not place.available or place.node:
        return set()
    try:
        with os.scandir(place.root / place.folder) as it:
            return {e.name for e in it if e.is_dir(follow_symlinks=False) and not skip_dir(e.name)
                    and not ignored(e.name, ignore)}
    except OSError:
        return set()


# -- one card on one copy -------------------------------------------------------------------------

@dataclass
class Listing:
    """The files of one card on one copy: relative path -> (size, absolute path)."""

    files: dict[str, tuple[int, str]] = field(default_factory=dict)
    arriving: list[str] = field(default_factory=list)
    """Files changed within the volume's settle time: still being written."""
    unreadable: list[str] = field(default_factory=list)
    bytes: int = 0
    newest_mtime_ns: int = 0
    newest_ctime: float = 0.0


def walk(place: Place, unit_rel: str, ignore: Sequence[str], now: float) -> Listing | None:
    """List a card folder on one copy (never following symlinks); None when it is not there."""
    top = place.root / unit_rel.rstrip("/")
    try:
        st = os.stat(top)
    except OSError:
        return None
    if not statmod.S_ISDIR(st.st_mode):
        return None
    out = Listing(newest_ctime=st.st_ctime)

    def unreadable(sub: str, _: OSError) -> None:
        out.unreadable.append(f"{sub}/" if sub else "./")

    for sub, entries, subdirs in walk_tree(top, on_error=unreadable, sort=False):
        subdirs.clear()
        for e in entries:
            rel = join(sub, e.name)
            try:
                est = e.stat(follow_symlinks=False)
            except OSError:
                out.unreadable.append(rel)
                continue
            if statmod.S_ISDIR(est.st_mode):
                if not skip_dir(e.name) and not ignored(rel, ignore):
                    subdirs.append(rel)
                    out.newest_ctime = max(out.newest_ctime, est.st_ctime)
            elif statmod.S_ISREG(est.st_mode) and e.name not in LITTER and not ignored(rel, ignore):
                # a clip still being copied under a temp name: the card is not copied yet, whatever
                # the clips that landed say (between two clips the copies agree on what is there)
                in_flight = is_in_flight(e.name)
                if is_temp_name(e.name) and not in_flight:
                    continue
                out.newest_ctime = max(out.newest_ctime, est.st_ctime)
                if in_flight:
                    out.arriving.append(rel)
                    continue
                out.newest_mtime_ns = max(out.newest_mtime_ns, est.st_mtime_ns)
                if place.settle and now - est.st_ctime < place.settle:
                    out.arriving.append(rel)
                    continue
                out.files[rel] = (est.st_size, str(top / rel))
                out.bytes += est.st_size
    return out


def gather(slots: Sequence[Slot], unit: str | None, ignore: Sequence[str],
           now: float) -> tuple[dict[str, Listing], list[tuple[str, str]], list[tuple[Slot, list[str]]]]:
    """List one card on every available place of every slot (``unit`` None: the places' whole folders).

    Returns the listings by place label; for each slot without the card, (label, why not); and each
    slot that holds it on fewer places than it needs, with the places that do hold it."""
    lists: dict[str, Listing] = {}
    absent: list[tuple[str, str]] = []
    short: list[tuple[Slot, list[str]]] = []
    for slot in slots:
        found: list[str] = []
        for place in slot.places:
            if not place.available or place.node:  # another node's copy: see fleetcopy.fleet_view
                continue
            listing = walk(place, join(place.folder, unit) if unit is not None else place.folder, ignore, now)
            if listing is not None:
                lists[place.label] = listing
                found.append(place.label)
        if not found:
            absent.append((slot.label, slot.why))
        elif len(found) < slot.need:
            short.append((slot, found))
    return lists, absent, short


# -- comparing ------------------------------------------------------------------------------------

def file_hashes(paths: Iterable[str], history: History, algo: str) -> dict[str, str | None]:
    """path -> digest (None when it cannot be read), on a few threads (both hashers release the GIL)."""
    def one(path: str) -> str | None:
        try:
            return history.file_hash(path, algo)
        except OSError:
            return None

    todo = sorted(set(paths))
    with ThreadPoolExecutor(max_workers=HASH_THREADS, thread_name_prefix="reelwatch-mirrors") as pool:
        return dict(zip(todo, pool.map(one, todo), strict=True))


def compare(lists: dict[str, Listing], history: History, algo: str) -> dict[str, Any]:
    """Names, then sizes, then (only when names and sizes agree everywhere) checksums."""
    names = sorted(set().union(*(set(x.files) | set(x.arriving) for x in lists.values())))
    hidden = {lab: tuple("" if d == "./" else d for d in x.unreadable if d.endswith("/")) for lab, x in lists.items()}
    missing = {lab: [n for n in names if n not in x.files and not n.startswith(hidden[lab])]
               for lab, x in lists.items()}  # what an unreadable folder holds is unknown, not missing
    missing = {lab: v for lab, v in missing.items() if v}
    differ: dict[str, dict[str, Any]] = {}
    for n in names:
        sizes = {lab: x.files[n][0] for lab, x in lists.items() if n in x.files}
        if len(set(sizes.values())) > 1:
            differ[n] = {lab: {"size": s} for lab, s in sizes.items()}
    unreadable = {lab: list(x.unreadable) for lab, x in lists.items() if x.unreadable}
    hashed = False
    if not missing and not differ and not unreadable:
        hashed = True
        digests = file_hashes((path for x in lists.values() for _, path in x.files.values()), history, algo)
        for n in names:
            got = {lab: digests[x.files[n][1]] for lab, x in lists.items()}
            for lab, d in got.items():
                if d is None:
                    unreadable.setdefault(lab, []).append(n)
            readable = {lab: d for lab, d in got.items() if d is not None}
            if len(set(readable.values())) > 1:
                differ[n] = {lab: {"size": lists[lab].files[n][0], algo: d} for lab, d in readable.items()}
    return {"names": names, "missing": missing, "differ": differ, "unreadable": unreadable, "hashed": hashed,
            "order": list(lists)}


def odd_copies(values: dict[str, Any]) -> list[str]:
    """Copies outside a strict majority (all of them when there is none)."""
    groups: dict[str, list[str]] = {}
    for lab, v in values.items():
        groups.setdefault(repr(sorted(v.items())), []).append(lab)
    ranked = sorted(groups.values(), key=len, reverse=True)
    if len(ranked) > 1 and len(ranked[0]) > len(ranked[1]):
        return sorted(lab for g in ranked[1:] for lab in g)
    return sorted(values)
