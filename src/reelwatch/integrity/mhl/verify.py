"""ASC MHL v2: verify a folder against its history, like the reference ``ascmhl verify``.

Verification mirrors ``ascmhl verify`` (ascmhl 1.2) and its exit codes: 10 missing file, 11
hash mismatch (against the file's *original* hash), 21 new file not in the history, 30 no
history, 31 modified manifest (its C4 no longer matches the chain), 32 chain file missing, 33
manifest listed in the chain missing. Unlike the reference, it does not stop at the first
structural problem: it reports it and still checks the files against the manifests it can
trust, and it stays silent about "new" files of a history with a manifest that is missing or
untrusted (they may have been listed there). Reading the history is :mod:`reelwatch.integrity.mhl.read`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ...core.tree import join, walk_tree
from ..hashing import hash_file
from .read import ancestor_roots, load_history
from .model import EXIT_CODES, FOLDER, HashEntry, Hasher, MHLHistory, MHLError, Discrepancy, ignore_matcher


@dataclass(frozen=True, slots=True)
class Report:
    """What :func:`verify` found in one history root."""

    root: Path
    problems: tuple[Discrepancy, ...]
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


def walk_files(root: Path, history: MHLHistory) -> Iterator[str]:
    """Every file below ``root`` (posix, relative), skipping ``ascmhl/`` and ignored paths
    (each nested history's own ignore list applies in its folder). Only regular files (and links
    to them) are listed; links to folders are not followed."""
    ignored = ignore_matcher(history)
    for rel_dir, entries, subdirs in walk_tree(root):
        subdirs.clear()
        for e in entries:
            rel = join(rel_dir, e.name)
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


def verify(root: str | os.PathLike[str], *, hasher: Hasher | None = None, check_hashes: bool = True,
           skip_hashes: frozenset[str] = frozenset(), algorithms: tuple[str, ...] | None = None,
           history: MHLHistory | None = None) -> Report:
    """Verify the folder ``root`` against its history, like ``ascmhl verify``.

    ``hasher`` defaults to :func:`reelwatch.integrity.hashing.hash_file`; ``skip_hashes`` lists
    root-relative paths whose hash is checked elsewhere (completeness is still checked).
    Raises MHLError when ``root`` has no ``ascmhl/`` folder.
    """
    root = Path(root)
    hasher = hasher or (lambda p, a: hash_file(p, a))
    history = history or load_history(root)
    problems: list[Discrepancy] = []
    expected: dict[str, str] = {}
    for prefix, h in history.walk():
        problems += [Discrepancy(p.kind, prefix + p.path, p.algo, p.expected, p.actual, p.detail, prefix.rstrip("/"))
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
                problems.append(Discrepancy("new_file", rel, history=where))
            continue
        entry = h.original(hrel, algorithms)
        if entry is None or not check_hashes or rel in skip_hashes:
            continue
        try:
            actual = hasher(str(root / rel), entry.algo).lower()
        except (OSError, ValueError) as exc:
            problems.append(Discrepancy("hash_mismatch", rel, entry.algo, entry.value, "",
                                    f"cannot be read: {getattr(exc, 'strerror', None) or exc}", where))
            continue
        if actual != entry.value.lower():
            problems.append(Discrepancy("hash_mismatch", rel, entry.algo, entry.value, actual, history=where))
        else:
            verified += 1
    ignored = ignore_matcher(history)
    for rel in sorted(set(expected) - found):
        if ignored(rel, False):
            continue
        problems.append(Discrepancy("missing_file", rel, history=expected[rel]))
    return Report(root, tuple(problems), verified)


def expected_hash(path: str | os.PathLike[str], stop: str | os.PathLike[str], *,
                  loader: Callable[[Path], MHLHistory] | None = None,
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
