"""Integrity: files checked against the checksums recorded when they were offloaded.

* ASC MHL v2: a file in a folder holding an ``ascmhl/`` history (at any level up to the
  volume root) must match its original hash; folder-level results (missing files, new
  files, a modified or missing manifest or chain) are decided in ``batch_done`` for every
  history under the volume top folders the batch touched (that is the unit the pipeline
  resolves batch findings in), so a problem stays open until it is really gone.
* Legacy manifests next to the media: MHL v1 (ShotPut Pro, YoYotta, Hedge), md5sum, md5deep,
  BSD ``MD5 (x) = ...``, xxhsum and Netflix-style ``checksum.txt``.

Finding and caching the records and checking files against them is :mod:`reelwatch.integrity.checksums`;
this plugin decides what to check and words the findings. Hashes come from
``history.file_hash`` (cached in the state database against size and mtime), so each file is
read once per algorithm. The history folders themselves are ignored. Findings are read-only:
writing a new generation is :mod:`reelwatch.integrity.mhl.create`'s job.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator

from reelwatch.api import (ALGORITHMS, Asset, Config, Finding, History, RuleInfo, Severity, applies, hookimpl, listed,
                           normalize_algo)
from reelwatch.api.integrity import MHL_FOLDER as FOLDER
from reelwatch.api.integrity import (Discrepancy, Manifest, ManifestError, MHLError, Mismatch, NotLegacyMHL, asset_at,
                                     cached_manifest, cached_tree, group_assets, history_roots, manifest_mismatches,
                                     manifests_below, member_files, mhl_mismatches, verify, verify_manifest,
                                     volume_relpath)

NAME = "integrity"
OWNER = "dit"
IMPACTS = ("editorial", "vfx", "supervisor")
KEEP_CARD = "do not format the camera card until the copy verifies"
OFFLOADED = "recorded when the card was offloaded"


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


# -- wording, shared by the findings and the rule examples -------------------------------------

_STRUCTURE = {"manifest_modified": "was changed after it was written", "chain_missing": "is missing",
              "manifest_missing": "is listed in the chain but missing", "unreadable": "cannot be read"}
"""What happened to a chain or manifest of a history, by problem kind."""


def _names(rels: list[str]) -> str:
    return listed([Path(r).name for r in rels])


def _mismatch_text(what: str, source: str, bad: list[Mismatch], frames: bool = False) -> str:
    """Plain words for files that do not match; ``frames`` when ``what`` is a sequence."""
    rel, algo, actual, expected = bad[0]
    if len(bad) == 1 and not frames:
        got = (f"{actual} bytes, expected {expected} bytes" if algo == "size" else
               f"{algo} {actual}, expected {expected}" if actual else f"it cannot be read; {algo} expected {expected}")
        return f"{what} does not match the checksum {source} ({got}): the copy is damaged or was changed"
    n = f"{len(bad)} frame{'s' if len(bad) > 1 else ''}"
    return (f"{n} of {what} ({_names([b[0] for b in bad])}) {'do' if len(bad) > 1 else 'does'} not match the "
            f"checksum{'s' if len(bad) > 1 else ''} {source}: the copy is damaged or was changed")


def _structure_text(kind: str, shown: str, where: str, detail: str = "") -> str:
    """A chain or manifest (``shown``, relative to its history) of the history ``where`` that is missing,
    changed or unreadable."""
    what = "ascmhl_chain.xml" if kind == "chain_missing" else f"the ASC MHL file {shown}"
    return f"{what} of {where} {_STRUCTURE[kind]}" + (f" ({detail})" if detail else "")


_EXAMPLE_MANIFEST = "ascmhl/0001_A002R2EC_2020-01-16_091500Z.mhl"
RULES = {
    "mhl.hash_mismatch": (Severity.BLOCKER, "A file does not match the hash in its ASC MHL history.",
                          _mismatch_text("A002C006_141024_R2EC.mov", OFFLOADED,
                                         [("", "xxh128", "0d3c...", "9f1a...")])),
    "mhl.missing_file": (Severity.BLOCKER, "A file listed in the ASC MHL history is not on the volume.",
                         "Clips/A002C007_141024_R2EC.mov is listed in the ASC MHL history of A002R2EC but is "
                         "not on the volume"),
    "mhl.new_file": (Severity.WARNING, "A file in a sealed folder is not in its ASC MHL history.",
                     "Clips/A002C008_141024_R2EC.mov is in A002R2EC but not in its ASC MHL history"),
    "mhl.manifest_modified": (Severity.ERROR, "A manifest no longer matches the hash its chain recorded.",
                              _structure_text("manifest_modified", _EXAMPLE_MANIFEST, "A002R2EC")),
    "mhl.chain_missing": (Severity.ERROR, "The ascmhl_chain.xml of a history is missing.",
                          _structure_text("chain_missing", "", "A002R2EC")),
    "mhl.manifest_missing": (Severity.ERROR, "A manifest listed in the chain is missing.",
                             _structure_text("manifest_missing", _EXAMPLE_MANIFEST, "A002R2EC")),
    "mhl.unreadable": (Severity.ERROR, "A chain or manifest file cannot be read as ASC MHL.",
                       _structure_text("unreadable", "ascmhl/0002_A002R2EC_2020-01-17_143000Z.mhl", "A002R2EC")),
    "manifest.mismatch": (Severity.ERROR, "A file does not match its checksum manifest.",
                          _mismatch_text("000001.dpx", "in sum.md5", [("", "md5", "506c...", "6994...")])),
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


def _cfg(config: Config | None) -> IntegrityConfig:
    section = config.rules.get(NAME) if config is not None else None
    return section if isinstance(section, IntegrityConfig) else IntegrityConfig()


def _finding(rule: str, asset: Asset, message: str, expected: str, impact: str, fix: str,
             **details: Any) -> Finding:
    return Finding(rule=rule, severity=RULES[rule][0], asset=asset, message=message, owner=OWNER,
                   impacts=IMPACTS, expected=expected, impact=impact, fix=fix, details=details)


# -- per-asset checks ----------------------------------------------------------------------------

@hookimpl
def check(asset: Asset, history: History, config: Config) -> list[Finding] | None:
    cfg = _cfg(config)
    if not applies(asset.relpath, asset.volume, cfg.volumes, cfg.globs):
        return None
    out: list[Finding] = []
    if cfg.mhl:
        out += _check_mhl(asset, history, cfg)
    if cfg.manifests:
        out += _check_manifests(asset, history, cfg)
    return out


def _check_mhl(asset: Asset, history: History, cfg: IntegrityConfig) -> list[Finding]:
    where, bad = mhl_mismatches(asset, history.file_hash, cfg.algorithms)
    if not bad:
        return []
    return [_mhl_mismatch(asset, where or "the volume root", bad)]


def _mhl_mismatch(asset: Asset, where: str, bad: list[Mismatch]) -> Finding:
    """One finding for the files of an asset that do not match their ASC MHL history."""
    name = asset.sequence.pattern if asset.sequence else asset.name
    return _finding(
        "mhl.hash_mismatch", asset,
        _mismatch_text(name, OFFLOADED, bad, asset.sequence is not None),
        f"every file matches the checksum in the ASC MHL history of {where}",
        "editorial and VFX would cut or pull from a damaged camera original; once the card is formatted "
        "the shot cannot be recovered",
        f"re-copy {name} from the camera card or the other offload copy and verify it again; {KEEP_CARD}",
        history=where, files=[b[0] for b in bad], algo=bad[0][1], actual=bad[0][2], recorded=bad[0][3])


def _check_manifests(asset: Asset, history: History, cfg: IntegrityConfig) -> list[Finding]:
    bad, sources = manifest_mismatches(asset, history.file_hash, cfg.algorithms)
    if not bad:
        return []
    return [_manifest_finding("manifest.mismatch", asset, list(bad), sorted(sources), list(bad.values()))]


# -- folder-level checks -------------------------------------------------------------------------

@hookimpl
def batch_done(assets: Sequence[Asset], history: History, config: Config) -> list[Finding]:
    cfg = _cfg(config)
    out: list[Finding] = []
    by_volume: dict[tuple[str, str], list[Asset]] = defaultdict(list)
    for a in assets:
        by_volume[(a.volume, a.root)].append(a)
    for (volume, root), items in by_volume.items():
        in_batch = {rel for a in items for _, rel in member_files(a)}
        tops = {a.relpath.split("/", 1)[0] if "/" in a.relpath else "" for a in items}
        if cfg.mhl:
            out += _batch_mhl(volume, root, items, tops, in_batch, history, cfg)
        if cfg.manifests:
            out += _batch_manifests(volume, root, tops, in_batch, history, cfg)
    return [f for f in out if applies(f.asset.relpath, f.asset.volume, cfg.volumes, cfg.globs)]


def _batch_mhl(volume: str, root: str, items: list[Asset], tops: set[str], in_batch: set[str],
               history: History, cfg: IntegrityConfig) -> list[Finding]:
    out: list[Finding] = []
    for hroot in history_roots(root, items, tops):
        prefix = volume_relpath(hroot, root)
        where = prefix or "the volume root"
        join = (lambda r, p=prefix: f"{p}/{r}") if prefix else (lambda r: r)
        try:
            report = verify(hroot, hasher=history.file_hash, algorithms=cfg.algorithms, history=cached_tree(hroot),
                            skip_hashes=frozenset(r[len(prefix) + 1:] if prefix else r for r in in_batch))
        except (MHLError, OSError) as exc:
            out.append(_finding("mhl.unreadable", asset_at(volume, root, join(FOLDER)),
                                f"the ASC MHL history of {where} cannot be read: {exc}",
                                "a readable ASC MHL history", "the copy cannot be verified",
                                "re-copy the ascmhl folder from the other offload copy"))
            continue
        out += _mhl_findings(volume, root, prefix, join, report.problems)
    return out


def _mhl_findings(volume: str, root: str, prefix: str, join: Callable[[str], str],
                  problems: Iterable[Discrepancy]) -> list[Finding]:
    out: list[Finding] = []
    kinds: dict[tuple[str, str], list[Discrepancy]] = defaultdict(list)
    for p in problems:
        kinds[(p.kind, join(p.history) if p.history else prefix)].append(p)
    for (kind, hist), items in sorted(kinds.items()):
        where = hist or "the volume root"
        rels = {join(p.path): (join(p.path), p.algo, p.actual, p.expected) for p in items}
        if kind == "hash_mismatch":
            out += [_mhl_mismatch(asset, where, [rels[m] for m in members])
                    for asset, members in group_assets(volume, root, rels)]
        elif kind == "missing_file":
            out += [_finding(
                "mhl.missing_file", asset, f"{_subject(asset, members, hist)} {_is(members)} listed in the ASC MHL "
                f"history of {where} but {_is(members)} not on the volume",
                "every file recorded at offload is present in every copy",
                "editorial and VFX are missing camera originals; once the card is formatted they are lost",
                f"copy {_subject(asset, members, hist)} again from the camera card or the other offload copy; "
                f"{KEEP_CARD}", history=where, files=members) for asset, members in group_assets(volume, root, rels)]
        elif kind == "new_file":
            out += [_finding(
                "mhl.new_file", asset, f"{_subject(asset, members, hist)} {_is(members)} in {where} but not in its "
                "ASC MHL history", "a sealed camera folder holds exactly the files recorded at offload",
                "nobody can prove these files came from the camera card: they may be stray or edited copies",
                "check where the file came from; move it out of the card folder, or seal the folder again with "
                "a new ASC MHL generation if it belongs there", history=where, files=members)
                for asset, members in group_assets(volume, root, rels)]
        else:
            out += _structure_findings(volume, root, kind, where, join, items)
    return out


def _structure_findings(volume: str, root: str, kind: str, where: str, join: Callable[[str], str],
                        items: list[Discrepancy]) -> list[Finding]:
    """A chain or manifest of a history that is missing, changed or unreadable."""
    out = []
    for p in items:
        shown = p.path[len(p.history) + 1:] if p.history else p.path
        out.append(_finding(
            f"mhl.{kind}", asset_at(volume, root, join(p.path)), _structure_text(kind, shown, where, p.detail),
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


def _batch_manifests(volume: str, root: str, tops: set[str], in_batch: set[str], history: History,
                     cfg: IntegrityConfig) -> list[Finding]:
    problems: dict[tuple[str, str], list[tuple[str, Discrepancy]]] = defaultdict(list)
    out: list[Finding] = []
    for mpath in manifests_below(root, tops):
        mrel = volume_relpath(mpath, root)
        manifest = cached_manifest(mpath)
        if manifest is None or isinstance(manifest, NotLegacyMHL):
            continue
        if isinstance(manifest, ManifestError) or not manifest.entries or manifest.bad_lines:
            n = len(manifest.bad_lines) if isinstance(manifest, Manifest) else 0
            why = (f"{n} of {n + len(manifest.entries)} lines not understood" if isinstance(manifest, Manifest)
                   and manifest.entries else str(manifest) if isinstance(manifest, ManifestError) else "no entries")
            out.append(_finding("manifest.unreadable", asset_at(volume, root, mrel),
                                f"{mpath.name} cannot be read as a checksum list ({why})",
                                "every checksum manifest can be read in full",
                                "the files it covers cannot be verified", "ask whoever wrote it for a clean copy",
                                manifest=mrel))
            if not isinstance(manifest, Manifest) or not manifest.entries:
                continue
        base = volume_relpath(mpath.parent, root)
        join = (lambda r, b=base: f"{b}/{r}") if base else (lambda r: r)
        skip = frozenset(r[len(base) + 1:] if base else r for r in in_batch)
        for p in verify_manifest(manifest, hasher=history.file_hash, algorithms=cfg.algorithms,
                                 skip_hashes=skip, within=root):
            problems[(p.kind, join(p.path))].append((mrel, p))
    for kind, rule in (("mismatch", "manifest.mismatch"), ("missing", "manifest.missing_file"),
                       ("unlisted", "manifest.unlisted")):
        rels = sorted(r for k, r in problems if k == kind)
        for asset, members in group_assets(volume, root, rels):
            srcs = sorted({m for r in members for m, _ in problems[(kind, r)]})
            bad = [(r, p.algo, p.actual, p.expected) for r in members for _, p in problems[(kind, r)][:1]]
            out.append(_manifest_finding(rule, asset, members, srcs, bad))
    return out


def _manifest_finding(rule: str, asset: Asset, members: list[str], srcs: list[str],
                      bad: list[Mismatch]) -> Finding:
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
