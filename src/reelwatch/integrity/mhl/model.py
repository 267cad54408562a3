"""ASC MHL v2: the data model of a history, and its ignore lists.

A history is the ``ascmhl/`` folder inside a card or reel folder: the chain file
``ascmhl_chain.xml`` lists every generation manifest (``0001_A002R2EC_2020-01-16_091500Z.mhl``
...) with its C4 hash, and each manifest lists files with their hashes. Sub-folders may hold
their own (nested) histories; a file belongs to the innermost one. :class:`MHLHistory` answers
what a history says about a file; :class:`Discrepancy` is one thing wrong with a history or with
the folder it describes, with the exit code the reference ``ascmhl verify`` gives it.

Reading a history from disk is :mod:`reelwatch.integrity.mhl.read`, verifying a folder against it
:mod:`reelwatch.integrity.mhl.verify`, writing a new generation :mod:`reelwatch.integrity.mhl.create`.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ...core.globs import match as glob_match

FOLDER = "ascmhl"
CHAIN = "ascmhl_chain.xml"
NS = "urn:ASC:MHL:v2.0"
NS_DIRECTORY = "urn:ASC:MHL:DIRECTORY:v2.0"
DEFAULT_IGNORE = (".DS_Store", "ascmhl", "ascmhl/")
HASH_TAGS = ("c4", "md5", "sha1", "xxh128", "xxh3", "xxh64")
"""Hash format elements in the order the ASC MHL schema requires them."""
EXIT_CODES = {"missing_file": 10, "hash_mismatch": 11, "new_file": 21, "no_history": 30,
              "manifest_modified": 31, "unreadable": 31, "chain_missing": 32, "manifest_missing": 33}
"""ASC MHL discrepancy kind -> the exit code of the reference ``ascmhl verify`` for it."""
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
class Discrepancy:
    """One place where files and their checksum record disagree, or the record itself is wrong.

    ASC MHL kinds are the keys of :data:`EXIT_CODES`; checksum manifests (MHL v1, md5/xxhsum
    lists, :mod:`reelwatch.integrity.manifests`) use ``mismatch``, ``missing`` and ``unlisted``,
    which have no exit code. ``path`` is relative to the verified root folder."""

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
class MHLHistory:
    """One ``ascmhl/`` history and its nested child histories."""

    root: Path
    generations: tuple[Generation, ...] = ()
    chain: tuple[ChainEntry, ...] | None = None
    """None when the chain file is missing or unreadable."""
    children: tuple[MHLHistory, ...] = ()
    problems: tuple[Discrepancy, ...] = ()
    """Structural problems of this history itself (paths relative to its root)."""
    _index: dict[str, list[MediaHash]] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        for media in (m for g in self.generations if g.trusted for m in g.media if not m.is_directory):
            self._index.setdefault(media.path, []).append(media)

    @property
    def incomplete(self) -> bool:
        """True when a manifest is missing, unreadable or untrusted: absence proves nothing."""
        return any(p.kind in ("manifest_missing", "unreadable", "manifest_modified") for p in self.problems)

    def walk(self, prefix: str = "") -> Iterator[tuple[str, MHLHistory]]:
        """This history and every nested one, with their root paths relative to this root."""
        yield prefix, self
        for child in self.children:
            rel = child.root.relative_to(self.root).as_posix()
            yield from child.walk(f"{prefix}{rel}/" if prefix or rel else "")

    def history_for(self, relpath: str) -> tuple[MHLHistory, str]:
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



def ignore_matcher(history: MHLHistory) -> Callable[[str, bool], bool]:
    """``ignored(relpath, is_dir)`` for paths relative to ``history``'s root: each nested
    history's own ignore list applies inside its folder."""
    specs = [(prefix, IgnoreSpec(h.ignore_patterns())) for prefix, h in history.walk()]

    def ignored(rel: str, is_dir: bool) -> bool:
        return any(rel.startswith(prefix) and spec.match(rel[len(prefix):], is_dir) for prefix, spec in specs)

    return ignored
