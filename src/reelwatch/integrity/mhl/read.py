"""ASC MHL v2: read an ``ascmhl/`` history (and the nested ones below it) from disk.

A history is the ``ascmhl/`` folder inside a card or reel folder: the chain file
``ascmhl_chain.xml`` lists every generation manifest with its C4 hash, and each manifest lists
files with their hashes (the model is :mod:`reelwatch.integrity.mhl.model`, re-exported here).
:func:`load_history` never stops at the first structural problem: a missing or unreadable
chain, or a manifest that is missing, unreadable or no longer matches its C4 (then its entries
are not trusted), is recorded in ``MHLHistory.problems`` with the exit code the reference
``ascmhl verify`` (ascmhl 1.2) gives it; only a missing ``ascmhl/`` folder raises
:class:`MHLError`.

Verifying a folder against its history lives in :mod:`reelwatch.integrity.mhl.verify`, creating a
generation in :mod:`reelwatch.integrity.mhl.create`.
"""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path

from ..hashing import hash_file, read_noatime
from .model import (CHAIN, DEFAULT_IGNORE, EXIT_CODES, FOLDER, HASH_TAGS, NS, NS_DIRECTORY, ChainEntry,
                        Generation, HashEntry, Hasher, MHLHistory, IgnoreSpec, MediaHash, MHLError, Discrepancy, Reference,
                        ignore_matcher)
from ...core.xmlread import at as _at
from ...core.xmlread import children as _children
from ...core.xmlread import local as _local
from ...core.xmlread import text as _text

__all__ = ["CHAIN", "DEFAULT_IGNORE", "EXIT_CODES", "FOLDER", "HASH_TAGS", "NS", "NS_DIRECTORY", "ChainEntry",
           "Generation", "HashEntry", "Hasher", "MHLHistory", "IgnoreSpec", "MHLError", "MediaHash", "Discrepancy",
           "Reference", "ancestor_roots", "child_roots", "find_roots", "has_history", "ignore_matcher",
           "load_history", "parse_chain", "parse_manifest"]

_GENERATION = re.compile(r"^(\d{4,})(?:_(.+))?\.mhl$")


def _xml_root(path: Path) -> ET.Element:
    """The root element of a chain or manifest file; MHLError when it is not readable XML."""
    try:
        return ET.fromstring(read_noatime(path))
    except (ET.ParseError, OSError) as exc:
        raise MHLError(f"{path.name}: cannot be read as XML ({exc})") from None


def _entries(el: ET.Element | None, structure: ET.Element | None = None) -> tuple[HashEntry, ...]:
    out = []
    for c in el if el is not None else ():
        algo = _local(c.tag).lower()
        if algo not in HASH_TAGS:
            continue  # metadata, or a format ASC MHL v2 does not define
        value = _text(c) if algo == "c4" else _text(c).lower()
        out.append(HashEntry(algo, value, c.get("action"), c.get("hashdate"),
                             _text(_at(structure, _local(c.tag))) or None))
    return tuple(out)


def parse_manifest(path: Path, number: int = 0, trusted: bool = True) -> Generation:
    """Parse one generation manifest. Raises MHLError when it is not ASC MHL v2 XML."""
    root = _xml_root(path)
    if _local(root.tag) != "hashlist" or not str(root.get("version", "")).startswith("2"):
        raise MHLError(f"{path.name}: not an ASC MHL v2 manifest")
    media: list[MediaHash] = []
    for el in _at(root, "hashes") if _at(root, "hashes") is not None else ():
        kind, p = _local(el.tag), _at(el, "path")
        rel = _text(p).rstrip("/")
        if kind not in ("hash", "directoryhash") or p is None or not rel:
            continue
        size = p.get("size", "")
        entries = _entries(el) if kind == "hash" else _entries(_at(el, "content"), _at(el, "structure"))
        media.append(MediaHash(rel, entries, int(size) if size.isdigit() else None, p.get("lastmodificationdate"),
                               kind == "directoryhash", _text(_at(el, "previousPath")) or None))
    return Generation(
        number=number, filename=path.name, media=tuple(media),
        ignore=tuple(_text(x) for x in _children(_at(root, "processinfo", "ignore"), "pattern")),
        references=tuple(Reference(_text(_at(r, "path")), _text(_at(r, "c4")))
                         for r in _children(_at(root, "references"), "hashlistreference")),
        root_hashes=_entries(_at(root, "processinfo", "roothash", "content"),
                             _at(root, "processinfo", "roothash", "structure")),
        creation_date=_text(_at(root, "creatorinfo", "creationdate")), tool=_text(_at(root, "creatorinfo", "tool")),
        process=_text(_at(root, "processinfo", "process")), trusted=trusted)


def parse_chain(path: Path) -> tuple[ChainEntry, ...]:
    """Parse ``ascmhl_chain.xml``. Raises MHLError when it is not readable XML."""
    root = _xml_root(path)
    out = []
    for el in _children(root, "hashlist"):
        algo, value = next(((_local(c.tag), _text(c)) for c in el if _local(c.tag) in HASH_TAGS), ("", ""))
        seq = el.get("sequencenr", "")
        out.append(ChainEntry(int(seq) if seq.isdigit() else 0, _text(_at(el, "path")), algo, value))
    return tuple(out)


def has_history(folder: str | os.PathLike[str]) -> bool:
    return os.path.isdir(os.path.join(folder, FOLDER))


def load_history(root: str | os.PathLike[str], *, children: bool = True) -> MHLHistory:
    """Read the history in ``root/ascmhl`` (and, by default, every nested one below ``root``).

    Structural problems (chain missing, manifest missing/modified/unreadable) are recorded in
    ``MHLHistory.problems``; only a missing ``ascmhl/`` folder raises MHLError (exit code 30).
    """
    root = Path(root)
    folder = root / FOLDER
    if not folder.is_dir():
        raise MHLError(f"no ASC MHL history at {root}")
    problems: list[Discrepancy] = []
    chain: tuple[ChainEntry, ...] | None = None
    untrusted: set[str] = set()
    chain_path = folder / CHAIN
    if not chain_path.is_file():
        problems.append(Discrepancy("chain_missing", f"{FOLDER}/{CHAIN}"))
    else:
        try:
            chain = parse_chain(chain_path)
        except MHLError as exc:
            problems.append(Discrepancy("unreadable", f"{FOLDER}/{CHAIN}", detail=str(exc)))
    for entry in chain or ():
        mpath = folder / entry.filename
        if not entry.filename or Path(entry.filename).name != entry.filename or entry.filename in (".", ".."):
            problems.append(Discrepancy("unreadable", f"{FOLDER}/{CHAIN}",
                                    detail=f"it names {entry.filename!r}, which is not a file of the ascmhl folder"))
            continue
        if not mpath.is_file():
            problems.append(Discrepancy("manifest_missing", f"{FOLDER}/{entry.filename}"))
            continue
        try:
            actual = hash_file(mpath, entry.algo or "c4")
        except (OSError, ValueError) as exc:
            problems.append(Discrepancy("unreadable", f"{FOLDER}/{entry.filename}", detail=str(exc)))
            continue
        if actual != entry.value:
            untrusted.add(entry.filename)
            problems.append(Discrepancy("manifest_modified", f"{FOLDER}/{entry.filename}", entry.algo or "c4",
                                    entry.value, actual))
    generations = []
    for name in sorted(os.listdir(folder)):
        m = _GENERATION.match(name)
        if name.startswith("._") or not m or not (folder / name).is_file():
            continue
        try:
            generations.append(parse_manifest(folder / name, int(m.group(1)), name not in untrusted))
        except MHLError as exc:
            problems.append(Discrepancy("unreadable", f"{FOLDER}/{name}", detail=str(exc)))
    generations.sort(key=lambda g: g.number)
    kids = tuple(load_history(p) for p in child_roots(root)) if children else ()
    history = MHLHistory(root, tuple(generations), chain, kids, tuple(problems))
    if children:
        history = _check_references(history)
    return history


def child_roots(root: Path) -> list[Path]:
    """Outermost folders below ``root`` that hold their own ``ascmhl/`` history."""
    found: list[Path] = []
    for dirpath, dirnames, _ in os.walk(root):
        dirnames.sort()
        if Path(dirpath) != root and FOLDER in dirnames:
            found.append(Path(dirpath))
            dirnames.clear()
            continue
        if FOLDER in dirnames:
            dirnames.remove(FOLDER)
    return found


def _check_references(history: MHLHistory) -> MHLHistory:
    """Compare the C4 that the latest manifest recorded for each child manifest."""
    extra: list[Discrepancy] = []
    latest = next((g for g in reversed(history.generations) if g.trusted), None)
    for ref in latest.references if latest else ():
        target = history.root / ref.path
        if Path(ref.path).is_absolute() or ".." in Path(ref.path).parts:
            extra.append(Discrepancy("unreadable", f"{FOLDER}/{latest.filename}",
                                 detail=f"it references {ref.path!r}, outside its folder"))
            continue
        if not target.is_file():
            if not IgnoreSpec(history.ignore_patterns()).match(str(Path(ref.path).parent.parent), True):
                extra.append(Discrepancy("manifest_missing", ref.path, detail="referenced by " + latest.filename))
            continue
        actual = hash_file(target, "c4")
        if actual != ref.c4:
            extra.append(Discrepancy("manifest_modified", ref.path, "c4", ref.c4, actual,
                                 detail="referenced by " + latest.filename))
    if not extra:
        return history
    return MHLHistory(history.root, history.generations, history.chain, history.children,
                   history.problems + tuple(extra))


def ancestor_roots(path: str | os.PathLike[str], stop: str | os.PathLike[str]) -> list[Path]:
    """Folders from ``path``'s own folder up to ``stop`` (inclusive) that hold a history,
    innermost first."""
    stop_p = Path(stop)
    cur = Path(path).parent
    out = []
    while True:
        if has_history(cur):
            out.append(cur)
        if cur == stop_p or cur == cur.parent or stop_p not in cur.parents:
            break
        cur = cur.parent
    return out


def find_roots(top: str | os.PathLike[str]) -> list[Path]:
    """Outermost history roots at or below ``top``."""
    top = Path(top)
    if has_history(top):
        return [top]
    return child_roots(top)

