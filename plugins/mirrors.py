"""Offload mirrors: "can I format this card?"

A mirror set names two or more copies of the same media, e.g. a camera card offloaded to
RAID A and to a shuttle drive, or to two shuttle drives under one mount root. A card (a
first-level folder under each copy's folder, such as ``A002R2EC``) is judged as a whole, again
whenever anything that feeds the verdict changes: a file lands, changes or disappears on any
copy (the daemon puts deleted files in the batch), ``reelwatch rehash`` finds a silent change,
or an ASC MHL history or checksum manifest arrives (its folder is checked again). The copies are
compared file lists first, then sizes, and only when names and sizes agree, checksums through
``history.file_hash`` (cached in the state database against size and mtime, so each file version
is read once); then, when every copy agrees, each copy is compared with the card's seal
(:mod:`reelwatch.integrity.cardseal`: its ASC MHL history, checksum manifests, and the checksums reelwatch
recorded). The verdict is a finding on the card folder of the first copy:
``mirror.safe_to_format`` only when every copy is complete, identical and matches the seal
where there is one; otherwise ``mirror.mismatch``, ``mirror.seal_mismatch``,
``mirror.incomplete`` or ``mirror.missing_copy``, saying why (see docs/rules.md).

"Safe to format" is good news, marked ``details["positive"]``: the outbox sends it as a message
of its own, and when the verdict stops holding it sends a loud retraction ("Card A002R2EC is NO
LONGER safe to format") with the reason. A verdict against that only repeats problems already
reported on the files it names (a truncated clip, a checksum mismatch) names them in
``details["consequence_of"]``: it is then recorded, and nobody is told twice.

Left out of the comparison: OS litter and the temp names of copies in flight (the builtin
ignore rules), ASC MHL history folders (``ascmhl/``: each destination's history differs in
generation names and dates by design), symlinks, the set's own ``ignore`` globs, and files
changed within the volume's ``settle`` seconds (still being written: counted as not there yet).

Every verdict depends only on what is on disk, so the same state gives the same message and
the store keeps one open finding. Every finding carries ``details["batch_scope"]``: the scope
(volume + top folder) whose mirror findings this plugin has fully re-judged.

In a fleet (nodes sharing one PostgreSQL state) a copy may name the node whose volume it is
(``node = "lab"``): this node publishes what its own copies hold and reads what the others
published (:mod:`reelwatch.integrity.fleetcopy`); a copy whose node is not running and heard from
counts as a copy that cannot be compared, never as a verified one (docs/deploy.md, section 10).

The listing and comparing of copies is :mod:`reelwatch.integrity.mirrorset`, the wording of the reasons
:mod:`reelwatch.integrity.mirror_wording`; this module holds the configuration, the hooks and the verdict.
"""

from __future__ import annotations

import difflib
import glob
import os
import socket
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from reelwatch.api import (Asset, Config, Finding, History, RuleInfo, Severity, drive_volume_name, hookimpl, human_size,
                           match, normalize_algo, scope_of)
from reelwatch.api.mirrors import (SILENT_CHANGE, Listing, Place, SealCheck, Slot, both, check_copy, compare, files,
                                   fleet_view, gather, join, mismatch_parts, odd_copies, seal_parts, unit_of, units)

NAME = "mirrors"
OWNER = "dit"
GLOB_CHARS = frozenset("*?[")
KEPT = 20
"""File names kept per problem in ``details``."""

RULES = {
    "mirror.safe_to_format": RuleInfo(
        "mirror.safe_to_format", "Every copy of a card is complete, holds the same files with the same checksums, "
        "and matches the card's seal (ASC MHL history, checksum manifest, recorded checksums) where there is one.",
        Severity.INFO, OWNER, ("supervisor",),
        "Card A002R2EC is safe to format: all 42 files (118.3 GB) match on raid_a and shuttle (xxh128)"),
    "mirror.mismatch": RuleInfo(
        "mirror.mismatch", "Copies of a card differ: a file differs in size or checksum, or cannot be read.",
        Severity.ERROR, OWNER, ("supervisor", "editorial"),
        "Do not format card A002R2EC: 1 file does not match between raid_a and shuttle "
        "(A002C006_141024_R2EC.mov), and the shuttle copy is missing 3 files (A002C007_141024_R2EC.mov, "
        "A002C008_141024_R2EC.mov, A002C009_141024_R2EC.mov)"),
    "mirror.seal_mismatch": RuleInfo(
        "mirror.seal_mismatch", "Every copy of a card agrees, but not with the card's seal: a file differs from "
        "its recorded checksum, a sealed file is missing everywhere, a file is not in the seal, or the seal is "
        "damaged.", Severity.ERROR, OWNER, ("supervisor", "editorial"),
        "Do not format card A002R2EC: 1 file does not match the checksum in the card's ASC MHL seal on both "
        "copies (Clips/A002C006_141024_R2EC.mov)"),
    "mirror.incomplete": RuleInfo(
        "mirror.incomplete", "A copy of a card lacks files that another copy has; nothing present differs.",
        Severity.WARNING, OWNER, ("supervisor",),
        "Do not format card A002R2EC yet: the copy on shuttle is incomplete"),
    "mirror.missing_copy": RuleInfo(
        "mirror.missing_copy", "A card is not on one of its copies at all (yet), or that copy is not mounted.",
        Severity.INFO, OWNER, (),
        "Card A002R2EC is not on shuttle yet: do not format it until it has been copied there"),
}


class MirrorCopy(BaseModel):
    """One copy: a folder on a volume (``""`` is the volume root)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    volume: str
    folder: str = ""
    drives: int = Field(default=1, ge=1)
    """For a mount root (``path = "/media/dit/*"``): how many of the drives under it must each hold the
    card, each one a copy of its own (a cart without a RAID offloads to two shuttles: ``drives = 2``)."""
    node: str = ""
    """In a fleet: the node whose volume this is (its ``[state] node``); ``""`` or this node's own name
    is a volume here. A copy on another node is judged from what that node publishes about it."""

    @field_validator("folder")
    @classmethod
    def _folder(cls, v: str) -> str:
        v = v.strip().strip("/")
        parts = v.split("/") if v else []
        if any(p in ("", ".", "..") for p in parts) or "\\" in v:
            raise ValueError(f"{v!r} must be a plain folder inside the volume, written with '/', e.g. 'Camera Media'")
        return "/".join(parts)


class MirrorSet(BaseModel):
    """``[[rules.mirrors.sets]]``: copies that must hold the same media."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(min_length=1)
    copies: tuple[MirrorCopy, ...]
    """Two or more (counting ``drives``); the findings live on the first."""
    unit: Literal["card", "folder"] = "card"
    """``card``: compare each first-level folder (a card or roll) on its own; ``folder``: the whole folder."""
    algo: str = "xxh128"
    ignore: tuple[str, ...] = ()
    """Globs, relative to the card folder, of files that may differ between copies (e.g. ``**/*.pdf``)."""
    pending_hours: float = Field(default=48, ge=0)
    """How long after a card last changed reelwatch reports it missing from a copy; later, the copy that
    lacks it is taken to have moved on (a swapped shuttle drive). 0 keeps reporting it forever."""

    @field_validator("algo")
    @classmethod
    def _algo(cls, v: str) -> str:
        return normalize_algo(v)

    @model_validator(mode="after")
    def _copies(self) -> MirrorSet:
        count = sum(c.drives for c in self.copies)
        if count < 2:
            raise ValueError(f"mirror set {self.name!r} needs at least 2 copies to compare; found {count} (two "
                             "shuttle drives under one mount root are one entry with drives = 2)")
        seen: list[MirrorCopy] = []
        for c in self.copies:
            for s in seen:
                if s.volume == c.volume and (s.folder == c.folder or not s.folder or not c.folder
                                             or c.folder.startswith(s.folder + "/")
                                             or s.folder.startswith(c.folder + "/")):
                    raise ValueError(f"mirror set {self.name!r}: copies {s.volume}:{s.folder or '/'} and "
                                     f"{c.volume}:{c.folder or '/'} overlap; each copy must be a separate folder "
                                     "(several drives under one mount root: give that copy once, with drives = N)")
            seen.append(c)
        if self.unit == "folder" and any(not c.folder for c in self.copies):
            raise ValueError(f"mirror set {self.name!r}: unit = 'folder' needs a folder on every copy, "
                             "not a whole volume")
        return self


class MirrorsConfig(BaseModel):
    """``[rules.mirrors]``."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    sets: tuple[MirrorSet, ...] = ()

    @model_validator(mode="after")
    def _unique(self) -> MirrorsConfig:
        names = [s.name for s in self.sets]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"mirror set names must be unique; repeated: {', '.join(dupes)}")
        return self


@hookimpl
def config_sections() -> dict[str, Any]:
    return {NAME: MirrorsConfig}


@hookimpl
def rules() -> list[RuleInfo]:
    return list(RULES.values())


def _cfg(config: Config | None) -> MirrorsConfig:
    section = config.rules.get(NAME) if config is not None else None
    return section if isinstance(section, MirrorsConfig) else MirrorsConfig()


@hookimpl
def configure(config: Config) -> None:
    """Every copy must name a configured volume; ``drives`` above 1 needs a mount root."""
    problems = []
    known = [v.name for v in config.volumes]
    for i, mset in enumerate(_cfg(config).sets):
        for j, copy in enumerate(mset.copies):
            where = f"rules.mirrors.sets[{i}].copies[{j}]"
            vol = config.volume(copy.volume)
            if _elsewhere(copy, config):
                if not config.state.url:
                    problems.append(f"{where}.node: a copy on node {copy.node!r} needs the state the fleet shares "
                                    f"([state] url = \"postgresql://...\"); this node ({_me(config)!r}) keeps its own")
                if copy.drives > 1:
                    problems.append(f"{where}.drives: give each drive on node {copy.node!r} as a copy of its own")
            elif vol is None:
                close = difflib.get_close_matches(copy.volume, known, n=1, cutoff=0.6)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                problems.append(f"{where}.volume: no volume named {copy.volume!r}{hint}; "
                                f"volumes: {', '.join(known) or 'none'}")
            elif copy.drives > 1 and not GLOB_CHARS & set(vol.path):
                problems.append(f"{where}.drives: {copy.drives} drives need a mount root (a volume whose path has "
                                f"a '*', like \"/media/dit/*\"); volume {vol.name!r} is the one folder {vol.path}")
    if problems:
        raise ValueError("; ".join(problems))


# -- where the copies are -----------------------------------------------------------------------

def _me(config: Config) -> str:
    return config.state.node or socket.gethostname()


def _elsewhere(copy: MirrorCopy, config: Config) -> bool:
    return bool(copy.node) and copy.node != _me(config)


def _slot(copy: MirrorCopy, config: Config) -> Slot:
    if _elsewhere(copy, config):  # read from what its node publishes (reelwatch.integrity.fleetcopy)
        return Slot(copy.volume, (Place(copy.volume, Path("/"), copy.folder, node=copy.node),),
                    where=f"{copy.node}:{copy.volume}")
    vol = config.volume(copy.volume)
    if vol is None:
        return Slot(copy.volume, (), f"{copy.volume} is not a configured volume")
    if GLOB_CHARS & set(vol.path):
        pattern = str(config.resolve(vol.path))
        drives = sorted(p for p in glob.glob(pattern) if os.path.isdir(p))
        places = tuple(Place(drive_volume_name(vol.name, p), Path(p), copy.folder, vol.settle) for p in drives)
        return Slot(vol.name, places, "" if places else f"no drive is mounted at {pattern}", copy.drives, pattern)
    root = config.resolve(vol.path)
    if not root.is_dir():
        return Slot(vol.name, (Place(vol.name, root, copy.folder, available=False),),
                    f"{vol.name} is not available at {root}", where=str(root))
    return Slot(vol.name, (Place(vol.name, root, copy.folder, vol.settle),), where=str(root))


def _unit_relpath(mset: MirrorSet, unit: str) -> str:
    """Relative path of the card folder on the first copy. A card at the volume root gets a trailing
    ``/`` (so does a one-level folder compared whole) so that its scope (volume + top folder) is the
    scope of its own files."""
    rel = join(mset.copies[0].folder, unit)
    return rel if "/" in rel else f"{rel}/"


# -- judging ---------------------------------------------------------------------------------------

def _places(slots: Sequence[Slot]) -> dict[str, Place]:
    return {p.label: p for s in slots for p in s.places}


def _seal(mset: MirrorSet, unit: str, place: Place, listing: Listing, history: History) -> SealCheck:
    """One copy here compared with the card's seal (its ASC MHL history, manifests and recorded checksums)."""
    card = join(place.folder, unit if mset.unit == "card" else "")
    paths = {rel: path for rel, (_, path) in listing.files.items()}
    silent = [rel for rel in paths if any(r == SILENT_CHANGE for r, _ in history.open_findings(
        place.label, join(card, rel)))]
    return check_copy(place.root / card, place.root, paths, history.file_hash, changed=silent,
                      skip=lambda rel: any(match(rel, g) for g in mset.ignore))


def _seals(mset: MirrorSet, slots: Sequence[Slot], unit: str, lists: dict[str, Listing],
           history: History, known: dict[str, SealCheck]) -> dict[str, SealCheck]:
    """Each copy compared with the card's seal; copies on other nodes as their nodes checked them."""
    places = _places(slots)
    return {lab: known[lab] if lab in known else _seal(mset, unit, places[lab], listing, history)
            for lab, listing in lists.items()}


def _located(slots: Sequence[Slot], mset: MirrorSet, unit: str,
             pairs: Sequence[tuple[str, str]]) -> list[list[list[str]]]:
    """For ``details["consequence_of"]``: per card file, the [volume, volume-relative path] of its copies
    named here. The verdict only repeats what is reported when, for every file, one of them has a problem."""
    places = _places(slots)
    groups: dict[str, list[list[str]]] = {}
    for lab, rel in pairs:
        if lab in places and not rel.endswith("/"):
            groups.setdefault(rel, []).append([lab, join(places[lab].folder, unit if mset.unit == "card" else "",
                                                         rel)])
    return list(groups.values())


def _absent_finding(what: str, asset: Asset, slots: Sequence[Slot], absent: list[tuple[str, str]],
                    short: list[tuple[Slot, list[str]]], present: list[str], base: dict[str, Any]) -> Finding:
    gone = [lab for lab, why in absent if not why]
    down = [(lab, why) for lab, why in absent if why]
    clauses = [f"is not on {both(gone)} {'yet' if present else 'any more'}"] if gone else []
    clauses += [f"cannot be compared with {lab} ({why})" for lab, why in down]
    clauses += [f"is on only {len(found)} of the {slot.need} {slot.label} drives it must be on ({both(found)})"
                for slot, found in short]
    kinds = [k for k, v in (("gone", gone), ("down", down), ("short", short)) if v]
    until = {"gone": "until it has been copied there", "down": "until it can be",
             "short": f"until it is on {short[0][0].need if short else 2} of them"}.get(
        kinds[0] if len(kinds) == 1 else "", "until it is on every copy")
    targets = [lab for lab, _ in absent] + [f"another {slot.label} drive" for slot, _ in short]
    return _finding(
        "mirror.missing_copy", asset, f"{what[0].upper() + what[1:]} {', and '.join(clauses)}: do not format it "
        f"{until}", f"{what} is on every copy: {both([s.label for s in slots])}",
        "until it is, its media exists in fewer copies than the production requires",
        f"copy {what} to {both(targets)} (or mount that drive), then wait for reelwatch to say it is safe to "
        "format", base, absent=dict(absent), present=present,
        short={slot.label: found for slot, found in short})


def _judge(mset: MirrorSet, slots: Sequence[Slot], unit: str, history: History, now: float,
           me: str = "") -> list[Finding]:
    unit_rel = _unit_relpath(mset, unit)
    here = [s for s in slots if not any(p.node for p in s.places)]
    lists, absent, short = gather(here, unit if mset.unit == "card" else None, mset.ignore, now)
    lists, absent, known, history = fleet_view(  # copies on other nodes of a fleet, as they published them
        slots, lists, absent, history, mset.algo, me, lambda p: join(p.folder, unit if mset.unit == "card" else ""),
        lambda p, listing: _seal(mset, unit, p, listing, history), {"set": mset.name, "unit": unit})
    what = f"card {unit}" if mset.unit == "card" else mset.copies[0].folder
    empty = not any(x.files or x.arriving or x.unreadable for x in lists.values())
    asset = Asset(volume=mset.copies[0].volume, root=slots[0].where, relpath=unit_rel,
                  size=max((x.bytes for x in lists.values()), default=0),
                  mtime_ns=max((x.newest_mtime_ns for x in lists.values()), default=0))
    base = {"batch_scope": scope_of(asset.volume, asset.relpath), "set": mset.name, "unit": unit, "algo": mset.algo}
    if empty:  # on no copy (deleted everywhere, or never copied): say so, which also retracts a verdict
        return [_absent_finding(what, asset, slots, absent + [(lab, "") for lab in lists], [], [], base)]
    out: list[Finding] = []
    newest = max(x.newest_ctime for x in lists.values())
    if (absent or short) and (not mset.pending_hours or now - newest < mset.pending_hours * 3600):
        out.append(_absent_finding(what, asset, slots, absent, short, list(lists), base))
    if len(lists) < 2:
        return out
    cmp = compare(lists, history, mset.algo)
    labels = list(lists)
    details = {**base, "copies": labels, "files": len(cmp["names"]), "bytes": asset.size,
               "missing": {k: v[:KEPT] for k, v in cmp["missing"].items()},
               "missing_count": {k: len(v) for k, v in cmp["missing"].items()},
               "different": [{"file": n, "copies": v} for n, v in list(cmp["differ"].items())[:KEPT]],
               "different_count": len(cmp["differ"]),
               "unreadable": {k: v[:KEPT] for k, v in cmp["unreadable"].items()}}
    if cmp["differ"] or cmp["unreadable"]:
        odd = [(lab, n) for n, v in cmp["differ"].items() for lab in odd_copies(v)]
        odd += [(lab, n) for lab, ns in cmp["unreadable"].items() for n in ns]
        out.append(_finding(
            "mirror.mismatch", asset, f"Do not format {what}: " + ", and ".join(mismatch_parts(cmp)),
            f"every copy of {what} holds the same files, byte for byte",
            "formatting now could leave takes only in a damaged or incomplete copy, and editorial would cut from it",
            f"keep the card; copy the files that are missing or do not match again from the card itself (not from "
            f"another copy), make unreadable files readable, and wait until reelwatch says {what} is safe to format",
            details, consequence_of=_located(slots, mset, unit, odd)))
    elif cmp["missing"]:
        out.append(_finding(
            "mirror.incomplete", asset,
            f"Do not format {what} yet: the cop{'y' if len(cmp['missing']) == 1 else 'ies'} on "
            f"{both([lab for lab in labels if lab in cmp['missing']])} "
            f"{'is' if len(cmp['missing']) == 1 else 'are'} incomplete",
            f"every copy of {what} holds every file",
            "formatting now would leave the missing files in fewer copies than the production requires",
            "let the copy finish, or copy the card there again; reelwatch compares the copies again as files land",
            details))
    elif not absent and not short and cmp["hashed"] and cmp["names"]:
        out += _sealed(mset, slots, unit, what, asset, lists, history, details, cmp, known)
    return out


def _sealed(mset: MirrorSet, slots: Sequence[Slot], unit: str, what: str, asset: Asset, lists: dict[str, Listing],
            history: History, details: dict[str, Any], cmp: dict[str, Any],
            known: dict[str, SealCheck]) -> list[Finding]:
    """Every copy agrees: safe to format when they match the card's seal too, else why not."""
    checks = _seals(mset, slots, unit, lists, history, known)
    labels = list(lists)
    kinds = sorted({k for c in checks.values() for k in c.seals})
    details = {**details, "seals": {lab: c.seals for lab, c in checks.items()}}
    bad = {lab: c for lab, c in checks.items() if not c.ok}
    if bad:
        seal = {kind: sorted({r for c in bad.values() for r in getattr(c, kind)})[:KEPT]
                for kind in ("differ", "changed", "missing", "unlisted", "broken")}
        named = [(lab, r) for lab, c in bad.items() for r in (*c.differ, *c.changed, *c.missing)]
        return [_finding(
            "mirror.seal_mismatch", asset, f"Do not format {what}: " + ", and ".join(seal_parts(checks)),
            f"every copy of {what} matches what was recorded from the card when it was offloaded",
            "the copies agree with each other but not with the card: formatting now would lose the real takes",
            f"keep the card; copy the files named here again from the card itself, verify them against the seal, "
            f"and wait until reelwatch says {what} is safe to format",
            {**details, "seal": {k: v for k, v in seal.items() if v}},
            consequence_of=_located(slots, mset, unit, named) if not seal["unlisted"] and not seal["broken"] else [])]
    n = len(cmp["names"])
    against = f", and match the card's {both(kinds)}" if kinds else ""
    card = unit if mset.unit == "card" else what
    return [_finding(
        "mirror.safe_to_format", asset,
        f"{what[0].upper() + what[1:]} is safe to format: "
        + (f"all {files(n)} ({human_size(asset.size)}) match" if n > 1 else f"its only file ({human_size(asset.size)}) matches")
        + f" on {both(labels)} ({mset.algo}){against}",
        f"every copy of {what} is complete, identical, and matches the card's seal where there is one",
        f"the media of {what} exists in {len(labels)} verified copies", "", details,
        positive={"headline": f"{card} is safe to format", "retraction": f"{card} is NO LONGER safe to format",
                  "places": [[lab, join(place.folder, unit if mset.unit == "card" else "")]
                             for lab, place in _places(slots).items() if lab in lists]})]


def _finding(rule: str, asset: Asset, message: str, expected: str, impact: str, fix: str,
             details: dict[str, Any], **extra: Any) -> Finding:
    info = RULES[rule]
    return Finding(rule=rule, severity=info.severity, asset=asset, message=message, owner=OWNER,
                   impacts=info.impacts, expected=expected, impact=impact, fix=fix, details={**details, **extra})


@hookimpl
def batch_done(assets: Sequence[Asset], history: History, config: Config) -> list[Finding]:
    """Re-judge every card whose findings live in a scope this batch touched (or that it touched on
    any copy, deleted files included), so that a finding not raised again is really resolved."""
    cfg = _cfg(config)
    if not cfg.sets:
        return []
    now = time.time()
    wanted = {scope_of(a.volume, a.relpath) for a in assets}
    jobs = []
    for mset in cfg.sets:
        slots = [_slot(c, config) for c in mset.copies]
        whole = mset.unit == "folder"
        touched = {u for a in assets for s in slots for p in s.places
                   if (u := unit_of(p, whole, mset.ignore, a)) is not None}
        wanted |= {scope_of(mset.copies[0].volume, _unit_relpath(mset, u)) for u in touched}
        jobs.append((mset, slots, touched))
    out: list[Finding] = []
    for mset, slots, touched in jobs:
        whole = mset.unit == "folder"
        cards = set(touched).union(*(units(p, whole, mset.ignore) for s in slots for p in s.places))
        for unit in sorted(cards):
            if scope_of(mset.copies[0].volume, _unit_relpath(mset, unit)) in wanted:
                out += _judge(mset, slots, unit, history, now, _me(config))
    return out
