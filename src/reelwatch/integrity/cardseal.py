"""Does a copy of a card still match the card's seal?

Copies that agree with one another can still all be wrong: the same bad read from the card on
both destinations, the same clip left out of both. The card's seal is what was recorded from the
card itself: its ASC MHL history (``ascmhl/`` in the card folder, in a folder above it up to the
volume root, or nested below it), any checksum manifest that lists its files (MHL v1, md5sum,
xxhsum, ``checksum.txt`` ... in or above the card folder), and the checksum reelwatch recorded
for each file (an open ``integrity.hash_changed`` from ``reelwatch rehash`` means the bytes
changed silently since). :func:`check_copy` compares one copy's listing with all of them; the
offload mirrors rule (``plugins/mirrors.py``) says "safe to format" only when no copy differs.

Hashes come from the caller's ``hasher(path, algo)`` (the state database's cached ``file_hash``,
which the mirror comparison has usually filled already), so nothing is read twice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .checksums import cached_manifest, manifests_in
from .manifests import Manifest, verify_manifest
from .mhl.read import FOLDER, MHLError, ancestor_roots, find_roots, load_history
from .mhl.model import ignore_matcher

Hasher = Callable[[str, str], str]
SILENT_CHANGE = "integrity.hash_changed"


@dataclass
class SealCheck:
    """What one copy of a card got wrong against its seal; paths are relative to the card folder."""

    seals: list[str] = field(default_factory=list)
    """What the seal is made of, e.g. ``ASC MHL history`` or ``checksum.md5``."""
    differ: list[str] = field(default_factory=list)
    """Files whose bytes do not match the checksum the seal recorded (or that cannot be read)."""
    missing: list[str] = field(default_factory=list)
    """Files the seal lists that are not on this copy."""
    unlisted: list[str] = field(default_factory=list)
    """Files on this copy that the seal does not list: nobody can prove they came from the card."""
    broken: list[str] = field(default_factory=list)
    """Why the seal itself cannot be trusted (a manifest changed or missing, a chain missing ...)."""
    changed: list[str] = field(default_factory=list)
    """Files whose bytes changed silently since reelwatch recorded their checksum (found by rehash)."""
    listed: set[str] = field(default_factory=set, repr=False)
    """Files some part of the seal lists (one part may cover files another leaves out)."""

    @property
    def ok(self) -> bool:
        return not (self.differ or self.missing or self.unlisted or self.broken or self.changed)


def _under(path: str, prefix: str) -> str | None:
    """``path`` relative to the folder ``prefix`` ('' is everything), or None when outside it."""
    if not prefix:
        return path
    return path[len(prefix) + 1:] if path.startswith(prefix + "/") else None


def _mhl(top: Path, root: Path, files: Mapping[str, str], hasher: Hasher, algorithms: tuple[str, ...] | None,
         out: SealCheck, skip: Callable[[str], bool]) -> None:
    """Check the card's files against every ASC MHL history that covers them: the innermost one above
    the card folder, or those in and below it."""
    above = ancestor_roots(top / "_", root)
    roots = find_roots(top) or above[:1]
    for hroot in roots:
        try:
            history = load_history(hroot)
        except MHLError:
            continue
        out.seals.append("ASC MHL history")
        card_in_h = top.relative_to(hroot).as_posix() if hroot != top and top.is_relative_to(hroot) else ""
        base = hroot.relative_to(top).as_posix() if hroot != top and hroot.is_relative_to(top) else ""
        ignored = ignore_matcher(history)
        for prefix, h in history.walk():
            where = f" ({prefix.rstrip('/')})" if prefix else ""
            out.broken += [f"{p.path if p.path.startswith(FOLDER) else prefix + p.path} {p.kind.replace('_', ' ')}"
                           f"{where}" for p in h.problems]
            for p in h.paths():
                rel = _under(prefix + p, card_in_h) if card_in_h else prefix + p
                if rel is None:
                    continue
                card_rel = f"{base}/{rel}" if base else rel
                if card_rel not in files and not ignored(prefix + p, False) and not skip(card_rel):
                    out.missing.append(card_rel)
        for card_rel, path in files.items():
            hrel = _under(card_rel, base) if base else card_rel
            if hrel is None:
                continue
            hrel = f"{card_in_h}/{hrel}" if card_in_h else hrel
            h, sub = history.history_for(hrel)
            if h.known(sub):
                out.listed.add(card_rel)
            else:
                if not h.incomplete and not ignored(hrel, False) and not skip(card_rel):
                    out.unlisted.append(card_rel)
                continue
            entry = h.original(sub, algorithms)
            if entry is None:
                continue
            try:
                actual = hasher(path, entry.algo).lower()
            except (OSError, ValueError):
                actual = ""
            if actual != entry.value.lower():
                out.differ.append(card_rel)


def _manifests(top: Path, root: Path, files: Mapping[str, str], hasher: Hasher,
               algorithms: tuple[str, ...] | None, out: SealCheck, skip: Callable[[str], bool]) -> None:
    """Check the card's files against every checksum manifest in or above the card folder that lists them."""
    folders = [top / Path(rel).parent for rel in files] + [top]
    for up in [top, *top.parents]:
        if up == root or root not in up.parents:
            break
        folders.append(up.parent)
    for mpath in sorted({m for folder in set(folders) for m in manifests_in(folder)}):
        manifest = cached_manifest(mpath)
        if not isinstance(manifest, Manifest) or not manifest.entries:
            continue
        inside = mpath.parent == top or top in mpath.parent.parents
        mine = tuple(e for e in manifest.entries if not e.path.startswith("/")
                     and _card_rel(mpath.parent / e.path, top) is not None)
        if not mine:
            continue
        out.seals.append(mpath.name)
        out.listed.update(r for e in mine if (r := _card_rel(mpath.parent / e.path, top)) is not None)
        problems = verify_manifest(Manifest(mpath, manifest.kind, mine), hasher=hasher, algorithms=algorithms,
                                   unlisted=inside, within=str(root))
        for p in problems:
            rel = _card_rel(mpath.parent / p.path, top)
            if rel is None or skip(rel):
                continue
            {"mismatch": out.differ, "missing": out.missing, "unlisted": out.unlisted}[p.kind].append(rel)


def _card_rel(path: Path, top: Path) -> str | None:
    try:
        rel = Path(*(p for p in path.relative_to(top).parts if p != ".")).as_posix()
    except ValueError:
        return None
    return None if rel in ("", ".") or rel.startswith("..") else rel


def check_copy(top: Path, root: Path, files: Mapping[str, str], hasher: Hasher, *,
               changed: Iterable[str] = (), algorithms: tuple[str, ...] | None = None,
               skip: Callable[[str], bool] = lambda rel: False) -> SealCheck:
    """Compare one copy of a card with its seal.

    ``top`` is the card folder on this copy, ``root`` the volume root (seals are looked for up to it),
    ``files`` the card's files on this copy (card-relative path -> absolute path), ``changed`` the
    card-relative paths with an open silent-change finding, ``skip`` the paths that may differ (the
    mirror set's ``ignore`` globs). A seal that cannot be read at all is no seal: the mirror rule still
    compares the copies with each other.
    """
    out = SealCheck()
    _mhl(top, root, files, hasher, algorithms, out, skip)
    _manifests(top, root, files, hasher, algorithms, out, skip)
    out.changed = sorted(set(changed))
    out.differ, out.missing = sorted(set(out.differ)), sorted(set(out.missing) - set(files))
    out.unlisted = sorted(set(out.unlisted) - out.listed)
    out.seals = list(dict.fromkeys(out.seals))
    return out
