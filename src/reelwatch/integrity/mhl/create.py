"""Create a new ASC MHL v2 generation: the only write reelwatch ever makes to a watched volume.

:func:`create_generation` is opt-in per volume (``mhl_generate = true``) and writes only inside
``ascmhl/`` folders, and only when called. It does what the reference ``ascmhl create`` does:
it verifies every file against the existing history (``verified``/``failed`` entries), records
new files as ``original``, computes content and structure directory hashes, writes a new
generation in every nested history (children first, referenced from their parent) and
appends it to each chain. It refuses to extend a history whose chain or manifests are broken.
"""

from __future__ import annotations

import os
import platform
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from ..hashing import hash_bytes, hash_file, normalize_algo
from .read import child_roots, has_history, load_history
from .model import (CHAIN, FOLDER, HASH_TAGS, NS, NS_DIRECTORY, ChainEntry, HashEntry, MHLHistory, MHLError, Discrepancy,
                        ignore_matcher)

CREATE_ALGORITHMS = ("md5", "sha1", "xxh128", "xxh3", "xxh64")
"""Formats a new generation can be written in (hex digests; C4 is only used for references)."""


def _version() -> str:
    """reelwatch's version as installed (read here, not from the package root, which imports the
    plugin API and so sits above the engines)."""
    try:
        return metadata.version("reelwatch")
    except metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


@dataclass(frozen=True, slots=True)
class Author:
    name: str
    email: str | None = None
    phone: str | None = None
    role: str | None = None


@dataclass(frozen=True, slots=True)
class CreateResult:
    written: tuple[Path, ...]
    """Manifests written, innermost history first."""
    problems: tuple[Discrepancy, ...]
    """What the verification of the existing history found (hash_mismatch, missing_file)."""

    @property
    def exit_code(self) -> int:
        """``ascmhl create``'s exit code: 11 when a file failed verification, 10 when missing."""
        kinds = {p.kind for p in self.problems}
        return 11 if "hash_mismatch" in kinds else 10 if "missing_file" in kinds else 0


@dataclass
class _NewList:
    history: MHLHistory
    media: list[str] = field(default_factory=list)
    """Rendered ``<hash>``/``<directoryhash>`` elements, in traversal order."""
    root: tuple[str, str] | None = None
    refs: list[tuple[str, str]] = field(default_factory=list)


def _iso(ts: float | datetime) -> str:
    dt = ts if isinstance(ts, datetime) else datetime.fromtimestamp(ts, UTC)
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def _xml_text(value: str, what: str) -> str:
    for ch in value:
        o = ord(ch)
        if (o < 0x20 and ch not in "\t\n\r") or 0xD800 <= o <= 0xDFFF or o in (0xFFFE, 0xFFFF):
            raise MHLError(f"cannot record {what} {value!r} in ASC MHL: it holds a character XML cannot carry")
    return escape(value)


def _attr(name: str, value: str) -> str:
    return f" {name}={quoteattr(_xml_text(value, name))}" if value is not None else ""


def _hash_of_hashes(hexes: list[str], algo: str) -> str:
    """ASC MHL's hash of a sorted list of hashes (directory content/structure hashes)."""
    return hash_bytes(b"".join(bytes.fromhex(h) for h in sorted(hexes)), algo)


def _entry_xml(e: HashEntry, indent: str) -> str:
    attrs = (_attr("action", e.action) if e.action else "") + (_attr("hashdate", e.hashdate) if e.hashdate else "")
    return f"{indent}<{e.algo}{attrs}>{escape(e.value)}</{e.algo}>\n"


def _pair_xml(algo: str, content: str, structure: str, date: str, indent: str) -> str:
    """The ``<content>`` and ``<structure>`` children of a directory or root hash."""
    return "".join(f"{indent}<{part}>\n{indent}  <{algo}{_attr('hashdate', date)}>{value}</{algo}>\n{indent}</{part}>\n"
                   for part, value in (("content", content), ("structure", structure)))


def _load_or_empty(root: Path) -> MHLHistory:
    if has_history(root):
        return load_history(root)
    return MHLHistory(root, children=tuple(load_history(p) for p in child_roots(root)))


def create_generation(root: str | os.PathLike[str], algo: str = "xxh128", *,  # noqa: C901 -- ascmhl's steps in its order, nested histories first
                      hasher: Callable[[str, str], str] | None = None, now: datetime | None = None,
                      author: Author | None = None, location: str | None = None, comment: str | None = None,
                      hostname: str | None = None, tool: str = "reelwatch") -> CreateResult:
    """Seal ``root`` with a new generation in ``root/ascmhl`` (and in each nested history).

    Raises MHLError when the existing history is broken (chain or manifest missing, modified
    or unreadable) or a name cannot be written; ValueError for an unsupported ``algo``.
    """
    algo = normalize_algo(algo)
    if algo not in CREATE_ALGORITHMS:
        raise ValueError(f"ASC MHL generations can be written in {', '.join(CREATE_ALGORITHMS)}, not {algo!r}")
    root = Path(root)
    hasher = hasher or (lambda p, a: hash_file(p, a))
    now = now or datetime.now(UTC)
    date = _iso(now)
    history = _load_or_empty(root)
    broken = [(pre, p) for pre, h in history.walk() for p in h.problems]
    if broken:
        raise MHLError("the existing ASC MHL history is damaged, so no new generation was written: "
                       + "; ".join(f"{p.kind.replace('_', ' ')} {pre}{p.path}" for pre, p in broken))
    histories = dict(history.walk())
    ignored = ignore_matcher(history)
    lists: dict[str, _NewList] = {}
    problems: list[Discrepancy] = []
    found: set[str] = set()

    def owner(rel: str) -> tuple[str, MHLHistory, str]:
        pre = max((p for p in histories if rel.startswith(p)), key=len)
        return pre, histories[pre], rel[len(pre):]

    def new_list(pre: str) -> _NewList:
        return lists.setdefault(pre, _NewList(histories[pre]))

    def seal_file(rel: str, path: Path) -> str:
        pre, h, hrel = owner(rel)
        st = path.stat()
        current = hasher(str(path), algo).lower()
        entries: list[HashEntry] = []
        if h.original(hrel) is None:
            entries.append(HashEntry(algo, current, "original", date))
        else:
            existing = h.formats(hrel)
            check = [a for a in existing if a == algo] or existing[:1]
            failed = False
            for fmt in check:
                value = current if fmt == algo else hasher(str(path), fmt).lower()
                first = h.first_entry(hrel, fmt)
                ok = first is not None and first.value.lower() == value
                failed |= not ok
                entries.append(HashEntry(fmt, value, "verified" if ok else "failed", date))
                if not ok:
                    problems.append(Discrepancy("hash_mismatch", rel, fmt, first.value if first else "", value))
            if algo not in check and not failed:
                entries.append(HashEntry(algo, current, "verified", date))
        entries.sort(key=lambda e: HASH_TAGS.index(e.algo))
        body = "".join(_entry_xml(e, "      ") for e in entries)
        new_list(pre).media.append(
            f"    <hash>\n      <path{_attr('size', str(st.st_size))}"
            f"{_attr('lastmodificationdate', _iso(st.st_mtime))}>"
            f"{_xml_text(hrel, 'file name')}</path>\n{body}    </hash>\n")
        return current

    def visit(rel_dir: str) -> tuple[str, str]:
        folder = root / rel_dir if rel_dir else root
        subdirs, files = [], []
        for e in sorted(os.scandir(folder), key=lambda e: e.name):
            rel = f"{rel_dir}/{e.name}" if rel_dir else e.name
            is_dir = e.is_dir(follow_symlinks=False)
            if is_dir and e.name == FOLDER or ignored(rel, is_dir) or not (is_dir or e.is_file()):
                continue  # also links to folders, broken links, pipes and devices
            (subdirs if is_dir else files).append((e.name, rel))
        contents, structures = [], []
        for name, rel in subdirs:
            c, s = visit(rel)
            contents.append(c)
            structures.append(hash_bytes(name.encode("utf-8") + bytes.fromhex(s), algo))
        for name, rel in files:
            c = seal_file(rel, root / rel)
            found.add(rel)
            contents.append(c)
            structures.append(hash_bytes(name.encode("utf-8") + bytes.fromhex(c), algo))
        content, structure = _hash_of_hashes(contents, algo), _hash_of_hashes(structures, algo)
        mtime = _iso(folder.stat().st_mtime)
        if rel_dir + "/" in histories or rel_dir == "":
            new_list(rel_dir + "/" if rel_dir else "").root = (content, structure)
        if rel_dir:
            pre, _, hrel = owner(rel_dir)  # a nested history's root is listed in its parent
            new_list(pre).media.append(
                f"    <directoryhash>\n      <path{_attr('lastmodificationdate', mtime)}>"
                f"{_xml_text(hrel, 'folder name')}</path>\n"
                f"{_pair_xml(algo, content, structure, date, '      ')}    </directoryhash>\n")
        return content, structure

    visit("")
    for pre, h in histories.items():
        for rel in sorted(h.paths()):
            full = pre + rel
            if full not in found and not ignored(full, False):
                problems.append(Discrepancy("missing_file", full))

    host = hostname if hostname is not None else platform.node() or "unknown"
    creator = (f"  <creatorinfo>\n    <creationdate>{date}</creationdate>\n"
               f"    <hostname>{_xml_text(host, 'host name')}</hostname>\n"
               f"    <tool{_attr('version', _version())}>{_xml_text(tool, 'tool name')}</tool>\n")
    if author is not None:
        creator += (f"    <author{_attr('email', author.email) if author.email else ''}"
                    f"{_attr('phone', author.phone) if author.phone else ''}"
                    f"{_attr('role', author.role) if author.role else ''}>"
                    f"{_xml_text(author.name, 'author')}</author>\n")
    if location:
        creator += f"    <location>{_xml_text(location, 'location')}</location>\n"
    if comment:
        creator += f"    <comment>{_xml_text(comment, 'comment')}</comment>\n"
    creator += "  </creatorinfo>\n"

    written: list[Path] = []
    for pre in sorted(lists, key=lambda p: (-p.count("/"), p)):  # innermost first
        nl = lists[pre]
        path = _write_generation(nl, algo, date, creator, now)
        written.append(path)
        if pre:
            parent_pre, _, _ = owner(pre.rstrip("/"))
            ref = Path(pre[len(parent_pre):]) / FOLDER / path.name
            new_list(parent_pre).refs.append((ref.as_posix(), hash_file(path, "c4")))
    return CreateResult(tuple(written), tuple(problems))


def _write_generation(nl: _NewList, algo: str, date: str, creator: str, now: datetime) -> Path:
    h = nl.history
    folder = h.root / FOLDER
    folder.mkdir(exist_ok=True)
    number = max((g.number for g in h.generations), default=0) + 1
    if h.chain:
        number = max(number, max(c.sequence for c in h.chain) + 1)
    name = f"{number:04d}_{h.root.name}_{now.astimezone(UTC).strftime('%Y-%m-%d_%H%M%S')}Z.mhl"
    out = [f'<?xml version="1.0" encoding="UTF-8"?>\n<hashlist version="2.0" xmlns="{NS}">\n', creator,
           "  <processinfo>\n    <process>in-place</process>\n"]
    if nl.root:
        out.append(f"    <roothash>\n{_pair_xml(algo, nl.root[0], nl.root[1], date, '      ')}    </roothash>\n")
    patterns = h.ignore_patterns()
    out.append("    <ignore>\n" + "".join(f"      <pattern>{_xml_text(p, 'ignore pattern')}</pattern>\n"
                                          for p in patterns) + "    </ignore>\n  </processinfo>\n")
    if nl.media:
        out.append("  <hashes>\n" + "".join(nl.media) + "  </hashes>\n")
    if nl.refs:
        out.append("  <references>\n" + "".join(
            f"    <hashlistreference>\n      <path>{_xml_text(p, 'reference')}</path>\n      <c4>{c}</c4>\n"
            f"    </hashlistreference>\n" for p, c in nl.refs) + "  </references>\n")
    out.append("</hashlist>\n")
    target = folder / name
    _atomic_write(target, "".join(out))
    chain = list(h.chain or ()) + [ChainEntry(number, name, "c4", hash_file(target, "c4"))]
    _atomic_write(folder / CHAIN, _chain_xml(chain))
    return target


def _chain_xml(chain: list[ChainEntry]) -> str:
    body = "".join(f'  <hashlist sequencenr="{c.sequence}">\n'
                   f'    <path>{_xml_text(c.filename, "manifest name")}</path>\n'
                   f"    <{c.algo or 'c4'}>{escape(c.value)}</{c.algo or 'c4'}>\n  </hashlist>\n" for c in chain)
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<ascmhldirectory xmlns="{NS_DIRECTORY}">\n'
            f"{body}</ascmhldirectory>\n")


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.reelwatch-tmp")
    with open(tmp, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
