"""Legacy checksum manifests: MHL v1 and the plain lists that md5sum & co. write.

Read tolerantly, because real ones rarely validate:

* MHL v1.1 (ShotPut Pro, YoYotta, Hedge, Silverstack): ``<hash><file>..</file><size>..</size>``
  with ``md5``, ``sha1``, ``xxhash`` (XXH32, decimal), ``xxhash64`` (XXH64 written
  little-endian, as Hedge does), ``xxhash64be`` (XXH64 as xxhsum prints it) or ``null``
  (size only).
* md5sum / sha1sum / sha256sum / md5deep / ``md5 -r`` lines: ``<hex>  name``, ``<hex> *name``,
  ``<hex> name``, with GNU's backslash escapes.
* BSD / ``--tag`` lines: ``MD5 (name) = <hex>``, ``XXH128 (name) = <hex>`` ...
* xxhsum lines (``-H0``..``-H3``), including ``XXH3_<hex>  name``.
* Netflix-style ``checksum.txt``: one MD5 per file, in any of the line forms above, or
  ``name<space|tab|comma><hex>``.

The algorithm comes from the BSD tag, then from the file extension (``.md5``, ``.sha1``,
``.xxhash`` ...), then from the length of the hex digest. Paths are relative to the folder
that holds the manifest.
"""

from __future__ import annotations

import os
import re
import stat
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path, PurePosixPath

from ..core import xmlread
from ..core.tree import join, walk_tree
from .hashing import hash_file, normalize_algo, read_noatime
from .mhl.model import Discrepancy

MANIFEST_EXTENSIONS = (".md5", ".sha1", ".sha256", ".xxhash", ".xxh", ".xxh128", ".xxh64", ".xxh3", ".xxh32",
                       ".mhl")
MANIFEST_NAMES = ("checksum.txt", "checksums.txt", "md5sum.txt", "md5sums.txt", "md5.txt")
LITTER = frozenset({".DS_Store", "Thumbs.db", "desktop.ini", ".localized", ".apdisk"})
PREFERENCE = ("xxh128", "xxh3", "xxh64", "xxh32", "md5", "sha1", "sha256")
"""Which recorded hash to verify when a manifest gives several: the cheapest to compute."""

_EXT_ALGO = {".md5": "md5", ".sha1": "sha1", ".sha256": "sha256", ".xxh128": "xxh128", ".xxh64": "xxh64",
             ".xxh3": "xxh3", ".xxh32": "xxh32"}
_LEN_ALGO = {32: "md5", 40: "sha1", 64: "sha256", 16: "xxh64", 8: "xxh32"}
_XXH_LEN = {32: "xxh128", 16: "xxh64", 8: "xxh32"}
_TAG = re.compile(r"^(?P<tag>[A-Za-z0-9_-]+) ?\((?P<name>.*)\) ?= ?(?P<hex>[0-9A-Fa-f]+)$")
_GNU = re.compile(r"^(?P<esc>\\)?(?:XXH3_)?(?P<hex>[0-9A-Fa-f]{8,128}) [ *](?P<name>.+)$")
_XXH3 = re.compile(r"^(?P<esc>\\)?XXH3_(?P<hex>[0-9A-Fa-f]{16}) [ *](?P<name>.+)$")
_SINGLE = re.compile(r"^(?P<hex>[0-9A-Fa-f]{8,128})[ \t,;]+(?P<name>[^ \t].*)$")
_REVERSED = re.compile(r"^(?P<name>.+?)[ \t,;]+(?P<hex>[0-9A-Fa-f]{32}|[0-9A-Fa-f]{40}|[0-9A-Fa-f]{64})$")


class ManifestError(Exception):
    """A file that is not a checksum manifest reelwatch can read."""


class NotLegacyMHL(ManifestError):
    """An ``.mhl`` file that is ASC MHL v2 (read by :mod:`reelwatch.integrity.mhl.read`) or no MHL at all."""


@dataclass(frozen=True, slots=True)
class Entry:
    path: str
    """Posix path relative to the manifest's folder (absolute when the manifest wrote one)."""
    hashes: Mapping[str, str]
    """``{algo: lowercase hex}``; empty for an MHL v1 ``null`` (size-only) entry."""
    size: int | None = None

    def pick(self, algorithms: tuple[str, ...] | None = None) -> tuple[str, str] | None:
        """The recorded hash to verify: the cheapest well-formed one in an allowed format."""
        allowed = [a for a in PREFERENCE if a in self.hashes and (algorithms is None or a in algorithms)]
        good = [a for a in allowed if re.fullmatch(r"[0-9a-f]+", self.hashes[a])]
        choice = (good or allowed or [None])[0]
        return (choice, self.hashes[choice]) if choice else None


@dataclass(frozen=True)
class Manifest:
    path: Path
    kind: str
    """``mhl1``, ``lines`` (md5sum-style) or ``bsd`` (tagged lines)."""
    entries: tuple[Entry, ...]
    bad_lines: tuple[int, ...] = ()
    """1-based numbers of lines that could not be read."""

    @property
    def folder(self) -> Path:
        return self.path.parent

    @property
    def recursive(self) -> bool:
        """True when entries name sub-folders: the manifest then covers its whole folder tree."""
        return any("/" in e.path for e in self.entries)

    @cached_property
    def _by_path(self) -> dict[str, Entry]:
        return {e.path: e for e in reversed(self.entries)}

    def lookup(self, relpath: str) -> Entry | None:
        """The (first) entry for a path relative to the manifest's folder."""
        return self._by_path.get(relpath)


def is_manifest_name(name: str) -> bool:
    """True for the names reelwatch reads as checksum manifests."""
    low = name.lower()
    return low in MANIFEST_NAMES or low.endswith(MANIFEST_EXTENSIONS)


def _clean(name: str, escaped: bool = False) -> str:
    if not escaped and "\\" in name and "/" not in name:
        name = name.replace("\\", "/")  # written on Windows (TeraCopy, ...)
    while name.startswith("./"):
        name = name[2:]
    return str(PurePosixPath(name)) if name else name


def _unescape(name: str) -> str:
    out, i = [], 0
    while i < len(name):
        if name[i] == "\\" and i + 1 < len(name):
            out.append({"n": "\n", "r": "\r", "\\": "\\"}.get(name[i + 1], name[i + 1]))
            i += 2
        else:
            out.append(name[i])
            i += 1
    return "".join(out)


def _algo_for(hexdigest: str, default: str | None, xx: bool) -> str | None:
    n = len(hexdigest)
    if xx:
        return _XXH_LEN.get(n)
    if default and default != "xxh" and n == {"md5": 32, "sha1": 40, "sha256": 64}.get(default, n):
        return default
    return _LEN_ALGO.get(n)


def parse_lines(path: Path, text: str) -> Manifest:
    """Parse an md5sum/md5deep/BSD/xxhsum-style list or a ``checksum.txt``."""
    ext = path.suffix.lower()
    default = _EXT_ALGO.get(ext)
    xx = ext in (".xxhash", ".xxh")
    entries: list[Entry] = []
    bad: list[int] = []
    tagged = 0
    for no, raw in enumerate(text.splitlines(), 1):
        line = raw.strip("\ufeff").rstrip("\r")
        if not line.strip() or line.lstrip().startswith(("#", ";")):
            continue
        m = _TAG.match(line)
        if m:
            try:
                algo = normalize_algo(m["tag"].replace("XXH3", "xxh3").replace("-", ""))
            except ValueError:
                bad.append(no)
                continue
            tagged += 1
            entries.append(Entry(_clean(m["name"]), {algo: m["hex"].lower()}))
            continue
        m = _XXH3.match(line)
        if m:
            name = _unescape(m["name"]) if m["esc"] else m["name"]
            entries.append(Entry(_clean(name, bool(m["esc"])), {"xxh3": m["hex"].lower()}))
            continue
        m = _GNU.match(line) or _SINGLE.match(line) or _REVERSED.match(line)
        algo = _algo_for(m["hex"], default, xx) if m else None
        if not m or not algo:
            bad.append(no)
            continue
        escaped = bool(m.groupdict().get("esc"))
        entries.append(Entry(_clean(_unescape(m["name"]) if escaped else m["name"], escaped), {algo: m["hex"].lower()}))
    return Manifest(path, "bsd" if tagged and tagged == len(entries) else "lines", tuple(entries), tuple(bad))


def parse_mhl_v1(path: Path, data: bytes) -> Manifest:
    """Parse a legacy MHL v1.x file. Raises ManifestError for ASC MHL v2 or non-MHL XML."""
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise ManifestError(f"{path.name} is not readable XML ({exc})") from None
    version = str(root.get("version", ""))
    if xmlread.local(root.tag).lower() != "hashlist" or version.startswith("2") or "ASC:MHL:v2" in str(root.tag):
        raise NotLegacyMHL(f"{path.name} is not an MHL v1 file")
    entries = []
    for h in (el for el in root.iter() if xmlread.local(el.tag).lower() == "hash"):
        fields = {xmlread.local(c.tag).lower(): xmlread.text(c) for c in h}
        name = fields.get("file", "")
        if not name:
            continue
        hashes: dict[str, str] = {}
        for tag, value in fields.items():
            v = value.lower()
            if tag in ("md5", "sha1", "xxhash64be"):
                hashes[normalize_algo(tag)] = v
            elif tag == "xxhash64":  # little-endian: reverse the bytes to get the usual form
                hashes["xxh64"] = bytes.fromhex(v)[::-1].hex() if re.fullmatch(r"[0-9a-f]{16}", v) else v
            elif tag == "xxhash":
                hashes["xxh32"] = f"{int(v):08x}" if v.isdigit() else v
        size = fields.get("size", "")
        entries.append(Entry(_clean(name), hashes, int(size) if size.isdigit() else None))
    return Manifest(path, "mhl1", tuple(entries))


def read_manifest(path: str | os.PathLike[str]) -> Manifest:
    """Read any supported manifest. Raises ManifestError when it is not one (or unreadable)."""
    path = Path(path)
    try:
        data = read_noatime(path)
    except OSError as exc:
        raise ManifestError(f"{path.name} cannot be read ({exc.strerror or exc})") from None
    if path.suffix.lower() == ".mhl" or data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<?xml"):
        return parse_mhl_v1(path, data)
    if b"\0" in data[:4096]:
        raise ManifestError(f"{path.name} is binary, not a checksum list")
    return parse_lines(path, data.decode("utf-8", errors="surrogateescape"))


# -- verifying -----------------------------------------------------------------------------------

def covered_files(manifest: Manifest) -> Iterator[str]:
    """Files a manifest is expected to list: its folder (its whole tree when it names
    sub-folders), minus manifests, ``ascmhl/`` folders and OS litter."""
    for rel_dir, entries, subdirs in walk_tree(manifest.folder):
        subdirs.clear()
        for e in entries:
            rel = join(rel_dir, e.name)
            if e.name in LITTER or e.name.startswith("._"):
                continue
            try:
                if e.is_dir(follow_symlinks=False):
                    if manifest.recursive and e.name != "ascmhl":
                        subdirs.append(rel)
                    continue
                regular = e.is_file()
            except OSError:
                continue
            if regular and not is_manifest_name(e.name):
                yield rel


def verify_manifest(manifest: Manifest, *, hasher: Callable[[str, str], str] | None = None,
                    algorithms: tuple[str, ...] | None = None, check_hashes: bool = True,
                    skip_hashes: frozenset[str] = frozenset(), unlisted: bool = True,
                    within: str | os.PathLike[str] | None = None) -> list[Discrepancy]:
    """Verify a folder against one manifest: wrong, missing and (optionally) unlisted files.

    Entries naming a path outside ``within`` (absolute paths from another machine, ``../``)
    are reported missing and never read; non-regular files (pipes, devices) are never read.
    """
    hasher = hasher or (lambda p, a: hash_file(p, a))
    problems: list[Discrepancy] = []
    fence = os.path.abspath(within) if within is not None else None
    for entry in manifest.entries:
        full = Path(entry.path) if entry.path.startswith("/") else manifest.folder / entry.path
        if fence is not None and os.path.commonpath([fence, os.path.abspath(full)]) != fence:
            problems.append(Discrepancy("missing", entry.path, detail="outside the volume"))
            continue
        try:
            st = full.stat()
        except OSError:
            problems.append(Discrepancy("missing", entry.path))
            continue
        if not stat.S_ISREG(st.st_mode):
            problems.append(Discrepancy("mismatch", entry.path, detail="not a regular file"))
            continue
        if entry.size is not None and st.st_size != entry.size:
            problems.append(Discrepancy("mismatch", entry.path, "size", str(entry.size), str(st.st_size)))
            continue
        choice = entry.pick(algorithms)
        if not check_hashes or entry.path in skip_hashes or choice is None:
            continue
        algo, expected = choice
        try:
            actual = hasher(str(full), algo).lower()
        except OSError as exc:
            problems.append(Discrepancy("mismatch", entry.path, algo, expected, "",
                                    f"cannot be read: {exc.strerror or exc}"))
            continue
        if actual != expected:
            problems.append(Discrepancy("mismatch", entry.path, algo, expected, actual))
    if unlisted:
        listed = {e.path for e in manifest.entries}
        problems += [Discrepancy("unlisted", rel) for rel in covered_files(manifest) if rel not in listed]
    return problems
