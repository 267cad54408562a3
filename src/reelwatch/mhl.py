"""ASC MHL v2: read an ``ascmhl/`` history and verify a folder against it.

A history is the ``ascmhl/`` folder inside a card or reel folder: the chain file
``ascmhl_chain.xml`` lists every generation manifest (``0001_A002R2EC_2020-01-16_091500Z.mhl``
...) with its C4 hash, and each manifest lists files with their hashes. Sub-folders may hold
their own (nested) histories; a file belongs to the innermost one.

Verification mirrors the reference ``ascmhl verify`` (ascmhl 1.2) and its exit codes: 10
missing file, 11 hash mismatch (against the file's *original* hash), 21 new file not in the
history, 30 no history, 31 modified manifest (its C4 no longer matches the chain), 32 chain
file missing, 33 manifest listed in the chain missing. Unlike the reference, it does not stop
at the first structural problem: it reports it and still checks the files against the
manifests it can trust, and it stays silent about "new" files of a history with a manifest
that is missing or untrusted (they may have been listed there). Creating a generation lives
in :mod:`reelwatch.mhl_create`.
"""

from __future__ import annotations

import fnmatch
import os
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .globs import match as glob_match
from .hashing import hash_file

FOLDER = "ascmhl"
CHAIN = "ascmhl_chain.xml"
NS = "urn:ASC:MHL:v2.0"
NS_DIRECTORY = "urn:ASC:MHL:DIRECTORY:v2.0"
DEFAULT_IGNORE = (".DS_Store", "ascmhl", "ascmhl/")
HASH_TAGS = ("c4", "md5", "sha1", "xxh128", "xxh3", "xxh64")
"""Hash format elements in the order the ASC MHL schema requires them."""
_GENERATION = re.compile(r"^(\d{4,})(?:_(.+))?\.mhl$")

EXIT_CODES = {"missing_file": 10, "hash_mismatch": 11, "new_file": 21, "no_history": 30,
              "manifest_modified": 31, "unreadable": 31, "chain_missing": 32, "manifest_missing": 33}
"""Problem kind -> the exit code of the reference ``ascmhl verify`` for it."""
_STRUCTURE = ("manifest_modified", "unreadable", "chain_missing", "manifest_missing")

Hasher = Callable[[str, str], str]
"""``hasher(path, algo) -> hex digest``; the plugin passes the state DB's cached ``file_hash``."""


class MHLError(Exception):
    """A history that cannot be used, e.g. no ``ascmhl/`` folder or a broken chain."""


@dataclass(frozen=True, slots=True)
class HashEntry:
    algo: str
    value: str
    action: str | None = None
    """``original``, ``verified`` or ``failed`` (None when the writer left it out)."""
    hashdate: str | None = None
    structure: str | None = None
    """For directory hashes: the structure hash next to the content hash ``value``."""


@dataclass(frozen=True, slots=True)
class MediaHash:
    path: str
    """Posix path relative to the history's root folder."""
    entries: tuple[HashEntry, ...]
    size: int | None = None
    lastmod: str | None = None
    is_directory: bool = False
    previous_path: str | None = None


@dataclass(frozen=True, slots=True)
class Reference:
    path: str
    """Path of a child history's manifest, relative to this history's root folder."""
    c4: str


@dataclass(frozen=True, slots=True)
class Generation:
    number: int
    filename: str
    media: tuple[MediaHash, ...] = ()
    ignore: tuple[str, ...] = ()
    references: tuple[Reference, ...] = ()
    root_hashes: tuple[HashEntry, ...] = ()
    creation_date: str = ""
    tool: str = ""
    process: str = ""
    trusted: bool = True
    """False when the chain says this manifest was changed after it was written."""


@dataclass(frozen=True, slots=True)
class ChainEntry:
    sequence: int
    filename: str
    algo: str
    value: str


@dataclass(frozen=True, slots=True)
class Problem:
    """One verification problem; ``path`` is relative to the verified root folder."""

    kind: str
    path: str
    algo: str = ""
    expected: str = ""
    actual: str = ""
    detail: str = ""
    history: str = ""
    """The folder of the (nested) history that records it, relative to the verified root."""

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.kind]

    @property
    def structural(self) -> bool:
        return self.kind in _STRUCTURE


@dataclass(frozen=True)
class History:
    """One ``ascmhl/`` history and its nested child histories."""

    root: Path
    generations: tuple[Generation, ...] = ()
    chain: tuple[ChainEntry, ...] | None = None
    """None when the chain file is missing or unreadable."""
    children: tuple[History, ...] = ()
    problems: tuple[Problem, ...] = ()
    """Structural problems of this history itself (paths relative to its root)."""
    _index: dict[str, list[MediaHash]] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        for media in (m for g in self.generations if g.trusted for m in g.media if not m.is_directory):
            self._index.setdefault(media.path, []).append(media)

    @property
    def incomplete(self) -> bool:
        """True when a manifest is missing, unreadable or untrusted: absence proves nothing."""
        return any(p.kind in ("manifest_missing", "unreadable", "manifest_modified") for p in self.problems)

    def walk(self, prefix: str = "") -> Iterator[tuple[str, History]]:
        """This history and every nested one, with their root paths relative to this root."""
        yield prefix, self
        for child in self.children:
            rel = child.root.relative_to(self.root).as_posix()
            yield from child.walk(f"{prefix}{rel}/" if prefix or rel else "")

    def history_for(self, relpath: str) -> tuple[History, str]:
        """The innermost history holding ``relpath`` and the path relative to its root."""
        for child in self.children:
            rel = child.root.relative_to(self.root).as_posix()
            if relpath.startswith(rel + "/"):
                return child.history_for(relpath[len(rel) + 1:])
        return self, relpath

    def known(self, relpath: str) -> bool:
        return relpath in self._index

    def original(self, relpath: str, algorithms: tuple[str, ...] | None = None) -> HashEntry | None:
        """The hash to verify a file against: its first ``original`` entry, as the reference does.

        When ``algorithms`` excludes that entry's format, the earliest entry that is not
        ``failed`` in an allowed format is used instead; None when there is none.
        """
        found, seen = list(self._index.get(relpath, ())), {relpath}
        prev = next((m.previous_path for m in found if m.previous_path), None)
        while prev and prev not in seen:  # a renamed file keeps the original hash of its old name
            seen.add(prev)
            older = self._index.get(prev, [])
            found, prev = older + found, next((m.previous_path for m in older if m.previous_path), None)
        entries = [e for m in found for e in m.entries]
        first = next((e for e in entries if e.action == "original"), None)
        if first is not None and (algorithms is None or first.algo in algorithms):
            return first
        return next((e for e in entries if e.action != "failed" and (algorithms is None or e.algo in algorithms)),
                    None)

    def first_entry(self, relpath: str, algo: str) -> HashEntry | None:
        """The first recorded entry of a file in one format, whatever its action."""
        return next((e for m in self._index.get(relpath, ()) for e in m.entries if e.algo == algo), None)

    def formats(self, relpath: str) -> list[str]:
        """The formats a file was recorded in, in order of first appearance."""
        return list(dict.fromkeys(e.algo for m in self._index.get(relpath, ()) for e in m.entries))

    def paths(self) -> set[str]:
        """Every file path recorded in trusted manifests, minus paths renamed since."""
        renamed = {m.previous_path for ms in self._index.values() for m in ms if m.previous_path}
        return set(self._index) - renamed

    def ignore_patterns(self) -> tuple[str, ...]:
        return next((g.ignore for g in reversed(self.generations) if g.ignore), DEFAULT_IGNORE)


# -- ignore patterns -----------------------------------------------------------------------------

class IgnoreSpec:
    """The gitwildmatch subset ASC MHL ignore lists use: ``.DS_Store``, ``ascmhl/``, ``*.tmp``,
    ``/Proxies``, ``Clips/**/*.xml``. A name without ``/`` matches at any depth; a trailing
    ``/`` matches folders only; anything else is anchored at the history root."""

    def __init__(self, patterns: tuple[str, ...] | list[str] = DEFAULT_IGNORE) -> None:
        self.rules: list[tuple[str, bool, bool]] = []
        for raw in patterns:
            pat = raw.strip()
            if not pat or pat.startswith(("#", "!")):
                continue
            dir_only = pat.endswith("/")
            pat = pat.rstrip("/")
            anchored = "/" in pat
            pat = pat.lstrip("/")
            if pat:
                self.rules.append((pat, dir_only, anchored))

    def match(self, relpath: str, is_dir: bool = False) -> bool:
        parts = relpath.strip("/").split("/")
        for i in range(len(parts)):
            here_dir = is_dir or i < len(parts) - 1
            for pat, dir_only, anchored in self.rules:
                if dir_only and not here_dir:
                    continue
                if anchored:
                    if glob_match("/".join(parts[: i + 1]), pat):
                        return True
                elif fnmatch.fnmatchcase(parts[i], pat):
                    return True
        return False


# -- reading -----------------------------------------------------------------------------------

def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _children(el: ET.Element | None, name: str) -> list[ET.Element]:
    return [c for c in el if _local(c.tag) == name] if el is not None else []


def _at(el: ET.Element | None, *names: str) -> ET.Element | None:
    """The element at a path of child names, or None anywhere along it."""
    for name in names:
        el = next((c for c in el if _local(c.tag) == name), None) if el is not None else None
    return el


def _text(el: ET.Element | None) -> str:
    return (el.text or "").strip() if el is not None else ""


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
    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, OSError) as exc:
        raise MHLError(f"{path.name}: cannot be read as XML ({exc})") from None
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
    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, OSError) as exc:
        raise MHLError(f"{path.name}: cannot be read as XML ({exc})") from None
    out = []
    for el in _children(root, "hashlist"):
        algo, value = next(((_local(c.tag), _text(c)) for c in el if _local(c.tag) in HASH_TAGS), ("", ""))
        seq = el.get("sequencenr", "")
        out.append(ChainEntry(int(seq) if seq.isdigit() else 0, _text(_at(el, "path")), algo, value))
    return tuple(out)


def has_history(folder: str | os.PathLike[str]) -> bool:
    return os.path.isdir(os.path.join(folder, FOLDER))


def load_history(root: str | os.PathLike[str], *, children: bool = True) -> History:
    """Read the history in ``root/ascmhl`` (and, by default, every nested one below ``root``).

    Structural problems (chain missing, manifest missing/modified/unreadable) are recorded in
    ``History.problems``; only a missing ``ascmhl/`` folder raises MHLError (exit code 30).
    """
    root = Path(root)
    folder = root / FOLDER
    if not folder.is_dir():
        raise MHLError(f"no ASC MHL history at {root}")
    problems: list[Problem] = []
    chain: tuple[ChainEntry, ...] | None = None
    untrusted: set[str] = set()
    chain_path = folder / CHAIN
    if not chain_path.is_file():
        problems.append(Problem("chain_missing", f"{FOLDER}/{CHAIN}"))
    else:
        try:
            chain = parse_chain(chain_path)
        except MHLError as exc:
            problems.append(Problem("unreadable", f"{FOLDER}/{CHAIN}", detail=str(exc)))
    for entry in chain or ():
        mpath = folder / entry.filename
        if not entry.filename or Path(entry.filename).name != entry.filename or entry.filename in (".", ".."):
            problems.append(Problem("unreadable", f"{FOLDER}/{CHAIN}",
                                    detail=f"it names {entry.filename!r}, which is not a file of the ascmhl folder"))
            continue
        if not mpath.is_file():
            problems.append(Problem("manifest_missing", f"{FOLDER}/{entry.filename}"))
            continue
        try:
            actual = hash_file(mpath, entry.algo or "c4")
        except (OSError, ValueError) as exc:
            problems.append(Problem("unreadable", f"{FOLDER}/{entry.filename}", detail=str(exc)))
            continue
        if actual != entry.value:
            untrusted.add(entry.filename)
            problems.append(Problem("manifest_modified", f"{FOLDER}/{entry.filename}", entry.algo or "c4",
                                    entry.value, actual))
    generations = []
    for name in sorted(os.listdir(folder)):
        m = _GENERATION.match(name)
        if name.startswith("._") or not m or not (folder / name).is_file():
            continue
        try:
            generations.append(parse_manifest(folder / name, int(m.group(1)), name not in untrusted))
        except MHLError as exc:
            problems.append(Problem("unreadable", f"{FOLDER}/{name}", detail=str(exc)))
    generations.sort(key=lambda g: g.number)
    kids = tuple(load_history(p) for p in _child_roots(root)) if children else ()
    history = History(root, tuple(generations), chain, kids, tuple(problems))
    if children:
        history = _check_references(history)
    return history


def _child_roots(root: Path) -> list[Path]:
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


def _check_references(history: History) -> History:
    """Compare the C4 that the latest manifest recorded for each child manifest."""
    extra: list[Problem] = []
    latest = next((g for g in reversed(history.generations) if g.trusted), None)
    for ref in latest.references if latest else ():
        target = history.root / ref.path
        if Path(ref.path).is_absolute() or ".." in Path(ref.path).parts:
            extra.append(Problem("unreadable", f"{FOLDER}/{latest.filename}",
                                 detail=f"it references {ref.path!r}, outside its folder"))
            continue
        if not target.is_file():
            if not IgnoreSpec(history.ignore_patterns()).match(str(Path(ref.path).parent.parent), True):
                extra.append(Problem("manifest_missing", ref.path, detail="referenced by " + latest.filename))
            continue
        actual = hash_file(target, "c4")
        if actual != ref.c4:
            extra.append(Problem("manifest_modified", ref.path, "c4", ref.c4, actual,
                                 detail="referenced by " + latest.filename))
    if not extra:
        return history
    return History(history.root, history.generations, history.chain, history.children,
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
    return _child_roots(top)


# -- verifying -----------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Report:
    """What :func:`verify` found in one history root."""

    root: Path
    problems: tuple[Problem, ...]
    verified: int = 0
    """Files whose hash was checked and matched."""

    @property
    def exit_code(self) -> int:
        """The reference's exit code: structure first, then 11, 21, 10; 0 when clean."""
        for p in self.problems:
            if p.structural:
                return p.exit_code
        for kind in ("hash_mismatch", "new_file", "missing_file"):
            if any(p.kind == kind for p in self.problems):
                return EXIT_CODES[kind]
        return 0


def walk_files(root: Path, history: History) -> Iterator[str]:
    """Every file below ``root`` (posix, relative), skipping ``ascmhl/`` and ignored paths
    (each nested history's own ignore list applies in its folder). Only regular files (and links
    to them) are listed; links to folders are not followed."""
    specs = [(prefix, IgnoreSpec(h.ignore_patterns())) for prefix, h in history.walk()]

    def ignored(rel: str, is_dir: bool) -> bool:
        return any(rel.startswith(prefix) and spec.match(rel[len(prefix):], is_dir) for prefix, spec in specs)

    stack = [""]
    while stack:
        rel_dir = stack.pop()
        try:
            entries = sorted(os.scandir(root / rel_dir), key=lambda e: e.name)
        except OSError:
            continue
        subdirs = []
        for e in entries:
            rel = f"{rel_dir}/{e.name}" if rel_dir else e.name
            try:
                is_dir = e.is_dir(follow_symlinks=False)
                if not is_dir and not e.is_file():
                    continue  # a link to a folder, a broken link, a pipe or a device: never read it
            except OSError:
                continue
            if e.name == FOLDER and is_dir or ignored(rel, is_dir):
                continue
            if is_dir:
                subdirs.append(rel)
            else:
                yield rel
        stack.extend(reversed(subdirs))


def verify(root: str | os.PathLike[str], *, hasher: Hasher | None = None, check_hashes: bool = True,
           skip_hashes: frozenset[str] = frozenset(), algorithms: tuple[str, ...] | None = None,
           history: History | None = None) -> Report:
    """Verify the folder ``root`` against its history, like ``ascmhl verify``.

    ``hasher`` defaults to :func:`reelwatch.hashing.hash_file`; ``skip_hashes`` lists
    root-relative paths whose hash is checked elsewhere (completeness is still checked).
    Raises MHLError when ``root`` has no ``ascmhl/`` folder.
    """
    root = Path(root)
    hasher = hasher or (lambda p, a: hash_file(p, a))
    history = history or load_history(root)
    problems: list[Problem] = []
    expected: dict[str, str] = {}
    for prefix, h in history.walk():
        problems += [Problem(p.kind, prefix + p.path, p.algo, p.expected, p.actual, p.detail, prefix.rstrip("/"))
                     for p in h.problems]
        expected.update((prefix + p, prefix.rstrip("/")) for p in h.paths())
    found: set[str] = set()
    verified = 0
    for rel in walk_files(root, history):
        found.add(rel)
        h, hrel = history.history_for(rel)
        where = rel[: len(rel) - len(hrel)].rstrip("/")
        if not h.known(hrel):
            if not h.incomplete:
                problems.append(Problem("new_file", rel, history=where))
            continue
        entry = h.original(hrel, algorithms)
        if entry is None or not check_hashes or rel in skip_hashes:
            continue
        try:
            actual = hasher(str(root / rel), entry.algo).lower()
        except (OSError, ValueError) as exc:
            problems.append(Problem("hash_mismatch", rel, entry.algo, entry.value, "",
                                    f"cannot be read: {getattr(exc, 'strerror', None) or exc}", where))
            continue
        if actual != entry.value.lower():
            problems.append(Problem("hash_mismatch", rel, entry.algo, entry.value, actual, history=where))
        else:
            verified += 1
    specs = [(prefix, IgnoreSpec(h.ignore_patterns())) for prefix, h in history.walk()]
    for rel in sorted(set(expected) - found):
        if any(rel.startswith(pre) and spec.match(rel[len(pre):]) for pre, spec in specs):
            continue
        problems.append(Problem("missing_file", rel, history=expected[rel]))
    return Report(root, tuple(problems), verified)


def expected_hash(path: str | os.PathLike[str], stop: str | os.PathLike[str], *,
                  loader: Callable[[Path], History] | None = None,
                  algorithms: tuple[str, ...] | None = None) -> tuple[Path, str, HashEntry | None] | None:
    """The history entry a single file must match: ``(history root, relpath, entry)``.

    Looks in every history from the file's folder up to ``stop``, innermost first; the
    first that lists the file wins (entry None when it lists it only in formats not allowed).
    None when no history lists the file. ``loader`` lets the caller cache parsed histories.
    """
    load = loader or (lambda r: load_history(r, children=False))
    for root in ancestor_roots(path, stop):
        try:
            h = load(root)
        except MHLError:
            continue
        rel = Path(path).relative_to(root).as_posix()
        if h.known(rel):
            return root, rel, h.original(rel, algorithms)
    return None
