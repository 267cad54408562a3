"""Integrity: files checked against the checksums recorded when they were offloaded.

* ASC MHL v2: a file in a folder holding an ``ascmhl/`` history (at any level up to the
  volume root) must match its original hash; folder-level results (missing files, new
  files, a modified or missing manifest or chain) are decided in ``batch_done`` for every
  history under the volume top folders the batch touched (that is the unit the pipeline
  resolves batch findings in), so a problem stays open until it is really gone.
* Legacy manifests next to the media: MHL v1 (ShotPut Pro, YoYotta, Hedge), md5sum, md5deep,
  BSD ``MD5 (x) = ...``, xxhsum and Netflix-style ``checksum.txt``.

Hashes come from ``history.file_hash`` (cached in the state database against size and
mtime), so each file is read once per algorithm. The history folders themselves are ignored.
Findings are read-only: writing a new generation is :mod:`reelwatch.mhl_create`'s job.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator

from reelwatch import Asset, Finding, RuleInfo, Severity, hookimpl
from reelwatch.config import Config
from reelwatch.globs import applies
from reelwatch.hashing import ALGORITHMS, normalize_algo
from reelwatch.hookspecs import History as StateHistory
from reelwatch.manifests import Manifest, ManifestError, NotLegacyMHL, is_manifest_name, read_manifest
from reelwatch.manifests import Problem as ManifestProblem
from reelwatch.manifests import verify_manifest
from reelwatch.mhl import FOLDER, History, MHLError, ancestor_roots, expected_hash, find_roots, load_history, verify
from reelwatch.mhl import Problem as MHLProblem
from reelwatch.sequences import group_names

NAME = "integrity"
OWNER = "dit"
IMPACTS = ("editorial", "vfx", "supervisor")
KEEP_CARD = "do not format the camera card until the copy verifies"


class IntegrityConfig(BaseModel):
    """``[rules.integrity]``."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    mhl: bool = True
    """Verify files against ASC MHL histories (``ascmhl/`` folders)."""
    manifests: bool = True
    """Verify files against MHL v1 and checksum lists (``*.md5``, ``*.xxhash``, ``checksum.txt`` ...)."""
    volumes: tuple[str, ...] = ()
    globs: tuple[str, ...] = ()
    algorithms: tuple[str, ...] = ALGORITHMS
    """Algorithms reelwatch may compute to verify; entries recorded only in others are skipped."""
    create_algorithm: str = "xxh128"
    """Format of the generations written on volumes with ``mhl_generate = true``."""

    @field_validator("algorithms")
    @classmethod
    def _algos(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(normalize_algo(a) for a in v)

    @field_validator("create_algorithm")
    @classmethod
    def _create(cls, v: str) -> str:
        v = normalize_algo(v)
        if v not in ("md5", "sha1", "xxh128", "xxh3", "xxh64"):
            raise ValueError(f"{v!r} cannot be written in ASC MHL; use xxh128, xxh64, xxh3, md5 or sha1")
        return v


RULES = {
    "mhl.hash_mismatch": (Severity.BLOCKER, "A file does not match the hash in its ASC MHL history.",
                          "A002C006_141024_R2EC.mov does not match the checksum recorded when the card was "
                          "offloaded (xxh128 0d3c..., expected 9f1a...): the copy is damaged or was changed"),
    "mhl.missing_file": (Severity.BLOCKER, "A file listed in the ASC MHL history is not on the volume.",
                         "Clips/A002C007_141024_R2EC.mov is listed in the ASC MHL history of A002R2EC but is "
                         "not on the volume"),
    "mhl.new_file": (Severity.WARNING, "A file in a sealed folder is not in its ASC MHL history.",
                     "Clips/A002C008_141024_R2EC.mov is in A002R2EC but not in its ASC MHL history"),
    "mhl.manifest_modified": (Severity.ERROR, "A manifest no longer matches the hash its chain recorded.",
                              "the ASC MHL file ascmhl/0001_A002R2EC_2020-01-16_091500Z.mhl of A002R2EC was "
                              "changed after it was written"),
    "mhl.chain_missing": (Severity.ERROR, "The ascmhl_chain.xml of a history is missing.",
                          "ascmhl_chain.xml of A002R2EC is missing"),
    "mhl.manifest_missing": (Severity.ERROR, "A manifest listed in the chain is missing.",
                             "the ASC MHL file ascmhl/0001_A002R2EC_2020-01-16_091500Z.mhl of A002R2EC is listed "
                             "in the chain but missing"),
    "mhl.unreadable": (Severity.ERROR, "A chain or manifest file cannot be read as ASC MHL.",
                       "the ASC MHL file ascmhl/0002_A002R2EC_2020-01-17_143000Z.mhl of A002R2EC cannot be read"),
    "manifest.mismatch": (Severity.ERROR, "A file does not match its checksum manifest.",
                          "000001.dpx does not match the checksum in sum.md5 (md5 506c..., expected 6994...): "
                          "the copy is damaged or was changed"),
    "manifest.missing_file": (Severity.ERROR, "A file listed in a checksum manifest is not on the volume.",
                              "audio2.wav is listed in sum.md5 but not on the volume"),
    "manifest.unlisted": (Severity.WARNING, "A file next to a checksum manifest is not listed in it.",
                          "audio1.wav is next to sum.md5 but not listed in it"),
    "manifest.unreadable": (Severity.WARNING, "A checksum manifest cannot be read (or only in part).",
                            "checksum.txt cannot be read as a checksum list (3 of 40 lines not understood)"),
}


@hookimpl
def config_sections() -> dict[str, Any]:
    return {NAME: IntegrityConfig}


@hookimpl
def rules() -> list[RuleInfo]:
    return [RuleInfo(rid, summary, sev, OWNER, IMPACTS, example) for rid, (sev, summary, example) in RULES.items()]


@hookimpl
def ignore(volume: str, relpath: str) -> bool | None:
    """The history folders are records about the media, not media."""
    return True if FOLDER in relpath.split("/")[:-1] else None


# -- caches keyed by what is on disk (bounded; a changed file gets a new key) ------------------

def _sig(folder: Path) -> tuple[tuple[str, int, int], ...]:
    try:
        return tuple(sorted((e.name, e.stat().st_size, e.stat().st_mtime_ns) for e in os.scandir(folder)))
    except OSError:
        return ()


@lru_cache(maxsize=64)
def _history(root: str, _signature: tuple[tuple[str, int, int], ...]) -> History:
    return load_history(root, children=False)


def _load(root: Path) -> History:
    return _history(str(root), _sig(root / FOLDER))


@lru_cache(maxsize=256)
def _manifest(path: str, _size: int, _mtime: int) -> Manifest | ManifestError:
    try:
        return read_manifest(path)
    except ManifestError as exc:
        return exc


def _read(path: Path) -> Manifest | ManifestError | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return _manifest(str(path), st.st_size, st.st_mtime_ns)


def _manifests_in(folder: Path) -> list[Path]:
    """Manifest files directly in a folder (listed afresh: a card's FAT times are too coarse to cache on)."""
    try:
        with os.scandir(folder) as it:
            return sorted(folder / e.name for e in it if is_manifest_name(e.name) and e.is_file())
    except OSError:
        return []


# -- helpers ------------------------------------------------------------------------------------

def _cfg(config: Config | None) -> IntegrityConfig:
    section = config.rules.get(NAME) if config is not None else None
    return section if isinstance(section, IntegrityConfig) else IntegrityConfig()


def _finding(rule: str, asset: Asset, message: str, expected: str, impact: str, fix: str,
             **details: Any) -> Finding:
    return Finding(rule=rule, severity=RULES[rule][0], asset=asset, message=message, owner=OWNER,
                   impacts=IMPACTS, expected=expected, impact=impact, fix=fix, details=details)


def _members(asset: Asset) -> list[tuple[str, str]]:
    """(absolute path, volume-relative path) of each file behind an asset."""
    if asset.sequence is None:
        return [(asset.path, asset.relpath)]
    folder = asset.folder
    return [(str(Path(asset.root) / folder / n), f"{folder}/{n}" if folder else n)
            for n in asset.sequence.frame_names]


def _rel(path: Path, root: str) -> str:
    """Volume-relative posix path; '' for the volume root itself."""
    rel = path.relative_to(root).as_posix()
    return "" if rel == "." else rel


def _names(rels: list[str], limit: int = 5) -> str:
    shown = ", ".join(Path(r).name for r in rels[:limit])
    return shown + (f" and {len(rels) - limit} more" if len(rels) > limit else "")


def _grouped(volume: str, root: str, rels: Iterable[str]) -> Iterator[tuple[Asset, list[str]]]:
    """Assets for files found by folder-level checks; frames of a sequence become one asset."""
    by_folder: dict[str, list[str]] = defaultdict(list)
    for rel in sorted(set(rels)):
        parent = str(Path(rel).parent)
        by_folder["" if parent == "." else parent].append(Path(rel).name)
    for folder, names in by_folder.items():
        join = (lambda n: f"{folder}/{n}") if folder else (lambda n: n)
        singles, seqs = group_names(names)
        for n in singles:
            yield _asset(volume, root, join(n)), [join(n)]
        for info in seqs:
            members = [join(n) for n in info.frame_names]
            if len(members) == 1:
                yield _asset(volume, root, members[0]), members
            else:
                yield Asset(volume, root, join(info.pattern), 0, 0, sequence=info), members


def _asset(volume: str, root: str, rel: str) -> Asset:
    try:
        st = os.stat(Path(root) / rel)
        return Asset(volume, root, rel, st.st_size, st.st_mtime_ns)
    except OSError:
        return Asset(volume, root, rel, size=0, mtime_ns=0)


def _mismatch_text(what: str, source: str, bad: list[tuple[str, str, str, str]], frames: bool = False) -> str:
    """Plain words for files that do not match; ``frames`` when ``what`` is a sequence."""
    rel, algo, actual, expected = bad[0]
    if len(bad) == 1 and not frames:
        got = (f"{actual} bytes, expected {expected} bytes" if algo == "size" else
               f"{algo} {actual}, expected {expected}" if actual else f"it cannot be read; {algo} expected {expected}")
        return f"{what} does not match the checksum {source} ({got}): the copy is damaged or was changed"
    n = f"{len(bad)} frame{'s' if len(bad) > 1 else ''}"
    return (f"{n} of {what} ({_names([b[0] for b in bad])}) {'do' if len(bad) > 1 else 'does'} not match the "
            f"checksum{'s' if len(bad) > 1 else ''} {source}: the copy is damaged or was changed")


# -- per-asset checks ----------------------------------------------------------------------------

@hookimpl
def check(asset: Asset, history: StateHistory, config: Config) -> list[Finding] | None:
    cfg = _cfg(config)
    if not applies(asset.relpath, asset.volume, cfg.volumes, cfg.globs):
        return None
    out: list[Finding] = []
    if cfg.mhl:
        out += _check_mhl(asset, history, cfg)
    if cfg.manifests:
        out += _check_manifests(asset, history, cfg)
    return out


def _check_mhl(asset: Asset, history: StateHistory, cfg: IntegrityConfig) -> list[Finding]:
    bad: list[tuple[str, str, str, str]] = []
    where = ""
    for path, rel in _members(asset):
        try:
            found = expected_hash(path, asset.root, loader=_load, algorithms=cfg.algorithms)
        except (MHLError, OSError, ValueError):
            continue
        if found is None or found[2] is None:
            continue
        hroot, _, entry = found
        where = _rel(hroot, asset.root) or "the volume root"
        try:
            actual = history.file_hash(path, entry.algo).lower()
        except OSError:
            actual = ""
        if actual != entry.value.lower():
            bad.append((rel, entry.algo, actual, entry.value))
    if not bad:
        return []
    return [_mhl_mismatch(asset, where, bad)]


def _mhl_mismatch(asset: Asset, where: str, bad: list[tuple[str, str, str, str]]) -> Finding:
    """One finding for the files of an asset that do not match their ASC MHL history."""
    name = asset.sequence.pattern if asset.sequence else asset.name
    return _finding(
        "mhl.hash_mismatch", asset,
        _mismatch_text(name, "recorded when the card was offloaded", bad, asset.sequence is not None),
        f"every file matches the checksum in the ASC MHL history of {where}",
        "editorial and VFX would cut or pull from a damaged camera original; once the card is formatted "
        "the shot cannot be recovered",
        f"re-copy {name} from the camera card or the other offload copy and verify it again; {KEEP_CARD}",
        history=where, files=[b[0] for b in bad], algo=bad[0][1], actual=bad[0][2], recorded=bad[0][3])


def _check_manifests(asset: Asset, history: StateHistory, cfg: IntegrityConfig) -> list[Finding]:
    bad: dict[str, tuple[str, str, str, str]] = {}
    sources: set[str] = set()
    for path, rel in _members(asset):
        folder, stop = Path(path).parent, Path(asset.root)
        while True:
            for mpath in _manifests_in(folder):
                manifest = _read(mpath)
                entry = manifest.lookup(Path(path).relative_to(folder).as_posix()) \
                    if isinstance(manifest, Manifest) else None
                if entry is None:
                    continue
                for p in verify_manifest(Manifest(mpath, manifest.kind, (entry,)), hasher=history.file_hash,
                                         algorithms=cfg.algorithms, unlisted=False, within=asset.root):
                    if p.kind == "mismatch":
                        bad.setdefault(rel, (rel, p.algo, p.actual, p.expected))
                        sources.add(_rel(mpath, asset.root))
            if folder == stop or stop not in folder.parents:
                break
            folder = folder.parent
    if not bad:
        return []
    return [_manifest_finding("manifest.mismatch", asset, list(bad), sorted(sources), list(bad.values()))]


# -- folder-level checks -------------------------------------------------------------------------

@hookimpl
def batch_done(assets: Sequence[Asset], history: StateHistory, config: Config) -> list[Finding]:
    cfg = _cfg(config)
    out: list[Finding] = []
    by_volume: dict[tuple[str, str], list[Asset]] = defaultdict(list)
    for a in assets:
        by_volume[(a.volume, a.root)].append(a)
    for (volume, root), items in by_volume.items():
        in_batch = {rel for a in items for _, rel in _members(a)}
        tops = {a.relpath.split("/", 1)[0] if "/" in a.relpath else "" for a in items}
        if cfg.mhl:
            out += _batch_mhl(volume, root, items, tops, in_batch, history, cfg)
        if cfg.manifests:
            out += _batch_manifests(volume, root, tops, in_batch, history, cfg)
    return [f for f in out if applies(f.asset.relpath, f.asset.volume, cfg.volumes, cfg.globs)]


def _batch_mhl(volume: str, root: str, items: list[Asset], tops: set[str], in_batch: set[str],
               history: StateHistory, cfg: IntegrityConfig) -> list[Finding]:
    roots: set[Path] = set()
    for a in items:
        chain = ancestor_roots(_members(a)[0][0], root)
        if chain:
            roots.add(chain[-1])
    for top in tops:
        roots.update(find_roots(Path(root) / top) if top else ([Path(root)] if (Path(root) / FOLDER).is_dir() else []))
    out: list[Finding] = []
    for hroot in sorted(r for r in roots if not any(o in r.parents for o in roots)):  # outermost only
        prefix = _rel(hroot, root)
        where = prefix or "the volume root"
        join = (lambda r: f"{prefix}/{r}") if prefix else (lambda r: r)
        try:
            report = verify(hroot, hasher=history.file_hash, algorithms=cfg.algorithms,
                            skip_hashes=frozenset(r[len(prefix) + 1:] if prefix else r for r in in_batch))
        except (MHLError, OSError) as exc:
            out.append(_finding("mhl.unreadable", _asset(volume, root, join(FOLDER)),
                                f"the ASC MHL history of {where} cannot be read: {exc}",
                                "a readable ASC MHL history", "the copy cannot be verified",
                                "re-copy the ascmhl folder from the other offload copy"))
            continue
        out += _mhl_findings(volume, root, prefix, join, report.problems)
    return out


def _mhl_findings(volume: str, root: str, prefix: str, join: Callable[[str], str],
                  problems: Iterable[MHLProblem]) -> list[Finding]:
    out: list[Finding] = []
    kinds: dict[tuple[str, str], list[MHLProblem]] = defaultdict(list)
    for p in problems:
        kinds[(p.kind, join(p.history) if p.history else prefix)].append(p)
    for (kind, hist), items in sorted(kinds.items()):
        where = hist or "the volume root"
        rels = {join(p.path): (join(p.path), p.algo, p.actual, p.expected) for p in items}
        if kind == "hash_mismatch":
            out += [_mhl_mismatch(asset, where, [rels[m] for m in members])
                    for asset, members in _grouped(volume, root, rels)]
        elif kind == "missing_file":
            out += [_finding(
                "mhl.missing_file", asset, f"{_subject(asset, members, hist)} {_is(members)} listed in the ASC MHL "
                f"history of {where} but {_is(members)} not on the volume",
                "every file recorded at offload is present in every copy",
                "editorial and VFX are missing camera originals; once the card is formatted they are lost",
                f"copy {_subject(asset, members, hist)} again from the camera card or the other offload copy; "
                f"{KEEP_CARD}", history=where, files=members) for asset, members in _grouped(volume, root, rels)]
        elif kind == "new_file":
            out += [_finding(
                "mhl.new_file", asset, f"{_subject(asset, members, hist)} {_is(members)} in {where} but not in its "
                "ASC MHL history", "a sealed camera folder holds exactly the files recorded at offload",
                "nobody can prove these files came from the camera card: they may be stray or edited copies",
                "check where the file came from; move it out of the card folder, or seal the folder again with "
                "a new ASC MHL generation if it belongs there", history=where, files=members)
                for asset, members in _grouped(volume, root, rels)]
        else:
            out += _structure_findings(volume, root, kind, where, join, items)
    return out


def _structure_findings(volume: str, root: str, kind: str, where: str, join: Callable[[str], str],
                        items: list[MHLProblem]) -> list[Finding]:
    """A chain or manifest of a history that is missing, changed or unreadable."""
    texts = {"manifest_modified": "was changed after it was written", "chain_missing": "is missing",
             "manifest_missing": "is listed in the chain but missing", "unreadable": "cannot be read"}
    out = []
    for p in items:
        shown = p.path[len(p.history) + 1:] if p.history else p.path
        what = "ascmhl_chain.xml" if kind == "chain_missing" else f"the ASC MHL file {shown}"
        out.append(_finding(
            f"mhl.{kind}", _asset(volume, root, join(p.path)),
            f"{what} of {where} {texts[kind]}" + (f" ({p.detail})" if p.detail else ""),
            "the ASC MHL history is complete and unchanged since each generation was written",
            "the record of what was on the camera card cannot be trusted, so the copy cannot be proven good",
            "restore the ascmhl folder from the other offload copy (never edit it by hand), then verify "
            f"again; {KEEP_CARD}", history=where, detail=p.detail))
    return out


def _subject(asset: Asset, members: list[str], under: str = "") -> str:
    """``Clips/x.mov`` or ``10 frames of plate.1001-1010#.dpx (...)``; paths shown below ``under``."""
    if len(members) == 1:
        return members[0][len(under) + 1:] if under and members[0].startswith(under + "/") else members[0]
    name = asset.sequence.pattern if asset.sequence else asset.name
    return f"{len(members)} frames of {name} ({_names(members)})"


def _is(members: list[str]) -> str:
    return "is" if len(members) == 1 else "are"


def _batch_manifests(volume: str, root: str, tops: set[str], in_batch: set[str], history: StateHistory,
                     cfg: IntegrityConfig) -> list[Finding]:
    found: list[Path] = list(_manifests_in(Path(root)))
    for top in sorted(t for t in tops if t):
        for dirpath, dirnames, _ in os.walk(Path(root) / top):
            dirnames[:] = sorted(d for d in dirnames if d != FOLDER)
            found += _manifests_in(Path(dirpath))
    problems: dict[tuple[str, str], list[tuple[str, ManifestProblem]]] = defaultdict(list)
    out: list[Finding] = []
    for mpath in found:
        mrel = _rel(mpath, root)
        manifest = _read(mpath)
        if manifest is None or isinstance(manifest, NotLegacyMHL):
            continue
        if isinstance(manifest, ManifestError) or not manifest.entries or manifest.bad_lines:
            n = len(manifest.bad_lines) if isinstance(manifest, Manifest) else 0
            why = (f"{n} of {n + len(manifest.entries)} lines not understood" if isinstance(manifest, Manifest)
                   and manifest.entries else str(manifest) if isinstance(manifest, ManifestError) else "no entries")
            out.append(_finding("manifest.unreadable", _asset(volume, root, mrel),
                                f"{mpath.name} cannot be read as a checksum list ({why})",
                                "every checksum manifest can be read in full",
                                "the files it covers cannot be verified", "ask whoever wrote it for a clean copy",
                                manifest=mrel))
            if not isinstance(manifest, Manifest) or not manifest.entries:
                continue
        base = _rel(mpath.parent, root)
        join = (lambda r, b=base: f"{b}/{r}") if base else (lambda r: r)
        skip = frozenset(r[len(base) + 1:] if base else r for r in in_batch)
        for p in verify_manifest(manifest, hasher=history.file_hash, algorithms=cfg.algorithms,
                                 skip_hashes=skip, within=root):
            problems[(p.kind, join(p.path))].append((mrel, p))
    for kind, rule in (("mismatch", "manifest.mismatch"), ("missing", "manifest.missing_file"),
                       ("unlisted", "manifest.unlisted")):
        rels = sorted(r for k, r in problems if k == kind)
        for asset, members in _grouped(volume, root, rels):
            srcs = sorted({m for r in members for m, _ in problems[(kind, r)]})
            bad = [(r, p.algo, p.actual, p.expected) for r in members for _, p in problems[(kind, r)][:1]]
            out.append(_manifest_finding(rule, asset, members, srcs, bad))
    return out


def _manifest_finding(rule: str, asset: Asset, members: list[str], srcs: list[str],
                      bad: list[tuple[str, str, str, str]]) -> Finding:
    under = str(Path(srcs[0]).parent)
    subject = f"{_subject(asset, members, '' if under == '.' else under)} {_is(members)}"
    names = ", ".join(Path(s).name for s in srcs)
    name = asset.sequence.pattern if asset.sequence else asset.name
    if rule == "manifest.mismatch":
        return _finding(rule, asset, _mismatch_text(name, f"in {names}", bad, asset.sequence is not None),
                        f"every file matches the checksum recorded in {names}",
                        "editorial and VFX would work from a damaged or changed file",
                        f"re-copy {name} from its source and verify it again against {names}",
                        manifests=srcs, files=members, algo=bad[0][1], actual=bad[0][2], recorded=bad[0][3])
    if rule == "manifest.missing_file":
        return _finding(rule, asset, f"{subject} listed in {names} but not on the volume",
                        "every file listed in the manifest is delivered", "the delivery is incomplete",
                        "copy the missing files again from the source, or ask the sender for them",
                        manifests=srcs, files=members)
    return _finding(rule, asset, f"{subject} next to {names} but not listed in {'it' if len(srcs) == 1 else 'them'}",
                    "a manifest lists every file delivered with it",
                    "these files cannot be verified, and may be stray or late additions",
                    "check where they came from; ask the sender for an updated manifest or remove them",
                    manifests=srcs, files=members)
