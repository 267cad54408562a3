"""Offload mirrors: "can I format this card?"

A mirror set names two or more copies of the same media, e.g. a camera card offloaded to
RAID A and to a shuttle drive. Whenever a batch touches a copy, every card (a first-level
folder under each copy's folder, such as ``A002R2EC``) whose findings live in a scope the
batch touched is compared across all copies: the file lists first, then sizes, and only when
names and sizes agree, checksums through ``history.file_hash`` (cached in the state database
against size and mtime, so each file version is read once). The verdict is a finding on the
card folder of the *first* copy: ``mirror.safe_to_format``, ``mirror.mismatch``,
``mirror.incomplete`` or ``mirror.missing_copy`` (see docs/rules/mirrors.md).

Left out of the comparison: OS litter and the temp names of copies in flight (the builtin
ignore rules), ASC MHL history folders (``ascmhl/``: each destination's history differs in
generation names and dates by design), symlinks, the set's own ``ignore`` globs, and files
changed within the volume's ``settle`` seconds (still being written: counted as not there yet).

Every verdict depends only on what is on disk, so the same state gives the same message and
the store keeps one open finding. Every finding carries ``details["batch_scope"]``: the scope
(volume + top folder) whose mirror findings this plugin has fully re-judged.

The listing and comparing of copies is :mod:`reelwatch.mirrorset`; this module holds the
configuration, the hooks and the wording of the findings.
"""

from __future__ import annotations

import difflib
import glob
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from reelwatch import Asset, Finding, RuleInfo, Severity, hookimpl
from reelwatch.config import Config, drive_volume_name
from reelwatch.hashing import normalize_algo
from reelwatch.hookspecs import History
from reelwatch.mirrorset import Place, Slot, compare, gather, join, odd_copies, unit_of, units
from reelwatch.store import scope_of

NAME = "mirrors"
OWNER = "dit"
GLOB_CHARS = frozenset("*?[")
SHOWN = 3
"""File names quoted in a message; ``details`` keeps up to ``KEPT``."""
KEPT = 20

RULES = {
    "mirror.safe_to_format": RuleInfo(
        "mirror.safe_to_format", "Every copy of a card holds the same files with the same checksums.",
        Severity.INFO, OWNER, ("supervisor",),
        "Card A002R2EC is safe to format: all 42 files (118.3 GB) match on raid_a and shuttle (xxh128)"),
    "mirror.mismatch": RuleInfo(
        "mirror.mismatch", "Copies of a card differ: a file differs in size or checksum, or cannot be read.",
        Severity.ERROR, OWNER, ("supervisor", "editorial"),
        "Do not format card A002R2EC: 1 file does not match between raid_a and shuttle "
        "(A002C006_141024_R2EC.mov), and the shuttle copy is missing 3 files (A002C007_141024_R2EC.mov, "
        "A002C008_141024_R2EC.mov, A002C009_141024_R2EC.mov)"),
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
    """Two or more; the first must be a fixed volume (it holds the findings)."""
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
        if len(self.copies) < 2:
            raise ValueError(f"mirror set {self.name!r} needs at least 2 copies to compare; found {len(self.copies)}")
        seen: list[MirrorCopy] = []
        for c in self.copies:
            for s in seen:
                if s.volume == c.volume and (s.folder == c.folder or not s.folder or not c.folder
                                             or c.folder.startswith(s.folder + "/")
                                             or s.folder.startswith(c.folder + "/")):
                    raise ValueError(f"mirror set {self.name!r}: copies {s.volume}:{s.folder or '/'} and "
                                     f"{c.volume}:{c.folder or '/'} overlap; each copy must be a separate folder")
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
    """Every copy must name a configured volume; the first one a fixed volume, not a mount root."""
    problems = []
    known = [v.name for v in config.volumes]
    for i, mset in enumerate(_cfg(config).sets):
        for j, copy in enumerate(mset.copies):
            where = f"rules.mirrors.sets[{i}].copies[{j}].volume"
            vol = config.volume(copy.volume)
            if vol is None:
                close = difflib.get_close_matches(copy.volume, known, n=1, cutoff=0.6)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                problems.append(f"{where}: no volume named {copy.volume!r}{hint}; volumes: {', '.join(known) or 'none'}")
            elif j == 0 and GLOB_CHARS & set(vol.path):
                problems.append(f"{where}: the first copy holds the findings and must be a fixed volume, "
                                f"not the mount root {vol.name!r}")
    if problems:
        raise ValueError("; ".join(problems))


# -- where the copies are -----------------------------------------------------------------------

def _slot(copy: MirrorCopy, config: Config) -> Slot:
    vol = config.volume(copy.volume)
    if vol is None:
        return Slot(copy.volume, (), f"{copy.volume} is not a configured volume")
    if GLOB_CHARS & set(vol.path):
        pattern = str(config.resolve(vol.path))
        drives = sorted(p for p in glob.glob(pattern) if os.path.isdir(p))
        places = tuple(Place(drive_volume_name(vol.name, p), Path(p), copy.folder, vol.settle) for p in drives)
        return Slot(vol.name, places, "" if places else f"no drive is mounted at {pattern}")
    root = config.resolve(vol.path)
    if not root.is_dir():
        return Slot(vol.name, (Place(vol.name, root, copy.folder, available=False),),
                    f"{vol.name} is not available at {root}")
    return Slot(vol.name, (Place(vol.name, root, copy.folder, vol.settle),))


def _unit_relpath(mset: MirrorSet, unit: str) -> str:
    """Relative path of the card folder on the first copy. A card at the volume root gets a trailing
    ``/`` (so does a one-level folder compared whole) so that its scope (volume + top folder) is the
    scope of its own files."""
    rel = join(mset.copies[0].folder, unit)
    return rel if "/" in rel else f"{rel}/"


# -- judging ---------------------------------------------------------------------------------------

def _and(labels: Sequence[str]) -> str:
    labels = list(labels)
    return labels[0] if len(labels) == 1 else f"{', '.join(labels[:-1])} and {labels[-1]}"


def _files(n: int) -> str:
    return f"{n} file" if n == 1 else f"{n:,} files"


def _names(rels: Sequence[str]) -> str:
    shown = ", ".join(rels[:SHOWN])
    return f"{shown} and {len(rels) - SHOWN} more" if len(rels) > SHOWN else shown


def _size(n: int) -> str:
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} bytes"


def _mismatch_parts(cmp: dict[str, Any]) -> list[str]:
    parts = []
    ties = [n for n, v in cmp["differ"].items() if odd_copies(v) == sorted(v)]
    if ties:
        labels = [lab for lab in cmp["order"] if any(lab in cmp["differ"][n] for n in ties)]
        verb = "does" if len(ties) == 1 else "do"
        parts.append(f"{_files(len(ties))} {verb} not match between {_and(labels)} ({_names(ties)})")
    odd: dict[str, list[str]] = {}
    for n, v in cmp["differ"].items():
        if n not in ties:
            for lab in odd_copies(v):
                odd.setdefault(lab, []).append(n)
    order = cmp["order"]
    for lab, ns in sorted(odd.items(), key=lambda kv: order.index(kv[0])):
        parts.append(f"the {lab} copy has {_files(len(ns))} that {'does' if len(ns) == 1 else 'do'} not match the "
                     f"other copies ({_names(ns)})")
    for lab, ns in sorted(cmp["missing"].items(), key=lambda kv: order.index(kv[0])):
        parts.append(f"the {lab} copy is missing {_files(len(ns))} ({_names(ns)})")
    for lab, ns in sorted(cmp["unreadable"].items(), key=lambda kv: order.index(kv[0])):
        dirs = sum(n.endswith("/") for n in ns)
        noun = "folder" if dirs == len(ns) else "file" if not dirs else "item"
        parts.append(f"{len(ns)} {noun}{'s' if len(ns) > 1 else ''} cannot be read on {lab} ({_names(ns)})")
    return parts


def _judge(mset: MirrorSet, slots: Sequence[Slot], unit: str, history: History, now: float) -> list[Finding]:
    unit_rel = _unit_relpath(mset, unit)
    lists, absent = gather(slots, unit if mset.unit == "card" else None, mset.ignore, now)
    if not lists or not any(x.files or x.arriving or x.unreadable for x in lists.values()):
        return []
    root = str(slots[0].places[0].root) if slots[0].places else ""
    what = f"card {unit}" if mset.unit == "card" else mset.copies[0].folder
    what_cap = what[0].upper() + what[1:]
    asset = Asset(volume=mset.copies[0].volume, root=root, relpath=unit_rel,
                  size=max(x.bytes for x in lists.values()),
                  mtime_ns=max(x.newest_mtime_ns for x in lists.values()))
    scope = scope_of(asset.volume, asset.relpath)
    base = {"batch_scope": scope, "set": mset.name, "unit": unit, "algo": mset.algo}
    out: list[Finding] = []
    newest = max(x.newest_ctime for x in lists.values())
    if absent and (not mset.pending_hours or now - newest < mset.pending_hours * 3600):
        gone = [lab for lab, why in absent if not why]
        down = [(lab, why) for lab, why in absent if why]
        clauses = [f"is not on {_and(gone)} yet"] if gone else []
        clauses += [f"cannot be compared with {lab} ({why})" for lab, why in down]
        until = ("until it has been copied there" if not down else "until it can be" if not gone
                 else "until it is on every copy")
        out.append(_finding(
            "mirror.missing_copy", asset, f"{what_cap} {', and '.join(clauses)}: do not format it {until}",
            f"{what} is on every copy: {_and([s.label for s in slots])}",
            "until it is, its media exists in fewer copies than the production requires",
            f"copy {what} to {_and([lab for lab, _ in absent])} (or mount that drive), then wait for reelwatch to "
            "say it is safe to format", base, absent=dict(absent), present=list(lists)))
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
        out.append(_finding(
            "mirror.mismatch", asset, f"Do not format {what}: " + ", and ".join(_mismatch_parts(cmp)),
            f"every copy of {what} holds the same files, byte for byte",
            "formatting now could leave takes only in a damaged or incomplete copy, and editorial would cut from it",
            f"keep the card; copy the files that are missing or do not match again from the card itself (not from "
            f"another copy), make unreadable files readable, and wait until reelwatch says {what} is safe to format",
            details))
    elif cmp["missing"]:
        out.append(_finding(
            "mirror.incomplete", asset,
            f"Do not format {what} yet: the cop{'y' if len(cmp['missing']) == 1 else 'ies'} on "
            f"{_and([lab for lab in labels if lab in cmp['missing']])} "
            f"{'is' if len(cmp['missing']) == 1 else 'are'} incomplete",
            f"every copy of {what} holds every file",
            "formatting now would leave the missing files in fewer copies than the production requires",
            "let the copy finish, or copy the card there again; reelwatch compares the copies again as files land",
            details))
    elif not absent and cmp["hashed"] and cmp["names"]:
        out.append(_finding(
            "mirror.safe_to_format", asset,
            f"{what_cap} is safe to format: "
            + (f"all {_files(len(cmp['names']))} ({_size(asset.size)}) match" if len(cmp["names"]) > 1
               else f"its only file ({_size(asset.size)}) matches") + f" on {_and(labels)} ({mset.algo})",
            f"every copy of {what} holds the same files, byte for byte",
            f"the media of {what} exists in {len(labels)} verified copies",
            "nothing to fix: the card may be formatted and go back to the camera", details))
    return out


def _finding(rule: str, asset: Asset, message: str, expected: str, impact: str, fix: str,
             details: dict[str, Any], **extra: Any) -> Finding:
    info = RULES[rule]
    return Finding(rule=rule, severity=info.severity, asset=asset, message=message, owner=OWNER,
                   impacts=info.impacts, expected=expected, impact=impact, fix=fix, details={**details, **extra})


@hookimpl
def batch_done(assets: Sequence[Asset], history: History, config: Config) -> list[Finding]:
    """Re-judge every card whose findings live in a scope this batch touched (or that it touched on
    any copy), so that a finding not raised again is really resolved."""
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
                out += _judge(mset, slots, unit, history, now)
    return out
