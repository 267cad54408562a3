"""Version sequences: v001, v002, v003 ... of one shot/task, as the naming fields say.

A *line* is the set of naming fields that identify what is being versioned (show, episode,
seq, scene, shot, task, vendor, plate: whichever the name has); the naming plugin's
``collect`` puts them, with ``version`` (digits as written), into ``facts.derived["fields"]``.
History (the state database) remembers every version seen, across restarts.

- ``version.padding``, ``version.duplicate`` and ``version.regression`` judge one arriving
  asset against history (``check``).
- ``version.gap`` and ``version.jump`` are decided in ``batch_done``, once the queue has
  drained, so a version that is only late within the same copy is never reported. Each is
  attached to the version right after the hole, with a message that depends only on the hole,
  so the same hole is reported once however many batches see it again.

The decisions are pure functions over :class:`Entry` lists, testable without a database.
"""

from __future__ import annotations

import math
import os
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from reelwatch.api import (Asset, Facts, Finding, RuleInfo, Severity, applies, hookimpl, human_size, is_delivery,
                           normalize_algo, scope_of, volume_of)

NAME = "versions"
Line = tuple[tuple[str, str], ...]


class VersionsConfig(BaseModel):
    """``[rules.versions]``."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    volumes: tuple[str, ...] = ()
    globs: tuple[str, ...] = ()
    key_fields: tuple[str, ...] = ("show", "episode", "seq", "scene", "shot", "task", "vendor", "plate")
    """Naming fields that identify a line of versions (those present in a name are used)."""
    distinct_fields: tuple[str, ...] = ("ext",)
    """Fields that tell renditions of one version apart: a v002 .mov next to a v002 .exr is no duplicate."""
    max_step: int = Field(default=5, ge=1)
    """Versions may skip up to ``max_step - 1`` numbers (reported as ``version.gap``); a bigger step is a jump."""
    padding: int | None = Field(default=None, ge=1, le=6)
    """Digits of the version number; unset: the width most versions of the line already have."""
    hash_algo: str = "xxh128"

    @field_validator("hash_algo")
    @classmethod
    def _algo(cls, v: str) -> str:
        return normalize_algo(v)


RULES = (
    RuleInfo("version.gap", "Versions are missing between two versions of a shot/task (decided once the batch "
             "has drained).", Severity.WARNING, "vfx", ("editorial",),
             "v003 of AGM_104_065_010_comp is missing: the versions go from v002 to v004"),
    RuleInfo("version.jump", "The version number jumps by more than max_step.", Severity.WARNING, "vfx",
             ("editorial",), "v012 of AGM_104_065_010_comp follows v002: a jump of 10 versions"),
    RuleInfo("version.duplicate", "The same version exists twice with different content.", Severity.ERROR,
             "vfx", ("editorial",),
             "v002 of AGM_104_065_010_comp exists twice with different content: this file (1.2 MB) and "
             "VFX/0115/AGM_104_065_010_comp_v002.mov (1.4 MB)"),
    RuleInfo("version.regression", "An older version arrived after a newer one was already delivered in an "
             "earlier batch.", Severity.ERROR, "vfx", ("editorial",),
             "v003 of AGM_104_065_010_comp arrived after v004 was already delivered "
             "(VFX/0115/AGM_104_065_010_comp_v004.mov)"),
    RuleInfo("version.padding", "The version number has another number of digits than configured, or than the "
             "earlier versions of its line.", Severity.WARNING, "vfx", ("editorial",),
             "version v03 has 2 digits; the earlier versions of AGM_104_065_010_comp have 3 (v003)"),
)

OUTDATED = "Editorial may cut in an outdated version"


@dataclass(frozen=True, slots=True)
class Entry:
    """One known asset of a line, reduced to what version rules need."""

    volume: str
    relpath: str
    size: int
    version: int
    text: str
    """The version digits as written (``"003"``)."""
    distinct: tuple[str, ...] = ()
    first_seen: float = 0.0
    batch: int = 0
    sequence: bool = False

    @property
    def where(self) -> tuple[str, str]:
        return (self.volume, self.relpath)


@dataclass(frozen=True, slots=True)
class Hole:
    """Versions missing between two known versions of a line."""

    before: Entry
    after: Entry
    kind: str
    """``gap`` (a step of at most max_step) or ``jump``."""

    @property
    def missing(self) -> range:
        return range(self.before.version + 1, self.after.version)


# -- pure functions -----------------------------------------------------------------------

def line_of(fields: Mapping[str, Any], key_fields: Sequence[str]) -> Line | None:
    """The line a name belongs to: its present key fields, in config order; None without any."""
    line = tuple((k, str(fields[k])) for k in key_fields if fields.get(k) not in (None, ""))
    return line or None


def version_of(fields: Mapping[str, Any]) -> tuple[int, str] | None:
    """(number, digits as written) of the ``version`` field, or None when it is not digits."""
    text = str(fields.get("version") or "")
    return (int(text), text) if text.isascii() and text.isdigit() else None


def label(line: Line) -> str:
    return "_".join(v for _, v in line)


def vtext(number: int, width: int) -> str:
    return f"v{number:0{width}d}"


def padding_ok(text: str, padding: int) -> bool:
    """``003`` fits 3; ``1000`` fits 3 too (printf's %03d overflows); ``01`` and ``0001`` do not."""
    return len(text) == padding or (len(text) > padding and not text.startswith("0"))


def entry_of(record: Any, cfg: VersionsConfig) -> tuple[Line, Entry] | None:
    """(line, entry) of a history record (an ``AssetRecord``), or None when it has no version."""
    fields = getattr(record, "fields", None)
    if not isinstance(fields, Mapping):
        return None
    line, version = line_of(fields, cfg.key_fields), version_of(fields)
    if line is None or version is None:
        return None
    relpath = str(record.relpath)
    return line, Entry(
        volume=str(record.volume), relpath=relpath, size=int(record.size or 0), version=version[0],
        text=version[1], distinct=distinct_of(fields, relpath, cfg), first_seen=float(record.first_seen or 0),
        batch=int(record.batch or 0), sequence=getattr(record, "kind", None) == "image_sequence")


def distinct_of(fields: Mapping[str, Any], relpath: str, cfg: VersionsConfig) -> tuple[str, ...]:
    out = []
    for name in cfg.distinct_fields:
        value = fields.get(name)
        if value in (None, "") and name == "ext":
            value = relpath.rpartition("/")[2].rpartition(".")[2] if "." in relpath.rpartition("/")[2] else ""
        out.append(str(value or "").lower().lstrip("."))
    return tuple(out)


def holes(entries: Iterable[Entry], max_step: int) -> list[Hole]:
    """Every step between consecutive known versions bigger than 1 (gap) or max_step (jump).
    Each hole is pinned to the first entry (by volume and path) of the version after it."""
    first: dict[int, Entry] = {}
    for e in sorted(entries, key=lambda e: (e.version, e.volume, e.relpath)):
        first.setdefault(e.version, e)
    versions = sorted(first)
    out = []
    for a, b in zip(versions, versions[1:], strict=False):
        if b - a > 1:
            out.append(Hole(first[a], first[b], "jump" if b - a > max_step else "gap"))
    return out


def regression(version: int, known_since: float, entries: Iterable[Entry], batch: int) -> Entry | None:
    """The newest higher version seen in an earlier batch, before this version was first seen."""
    higher = [e for e in entries if e.version > version and e.batch < batch and e.first_seen < known_since]
    return max(higher, key=lambda e: (e.version, -e.first_seen, e.relpath), default=None)


# -- hooks -----------------------------------------------------------------------------------

def _settings(config: Any) -> VersionsConfig:
    rules = getattr(config, "rules", None) or {}
    section = rules.get(NAME) if isinstance(rules, Mapping) else None
    return section if isinstance(section, VersionsConfig) else VersionsConfig()


def _roles(volume: str, config: Any) -> tuple[str | None, tuple[str, ...]]:
    """Delivery volumes: the VFX vendor owns it. Elsewhere the volume owner (filled in by the pipeline)."""
    return ("vfx" if is_delivery(config, volume) else None), ("editorial",)


def _root(volume: str, config: Any, known: Mapping[str, str]) -> str | None:
    if volume in known:
        return known[volume]
    vol = volume_of(config, volume)
    if vol is None:
        return None
    return str(config.resolve(vol.path)) if hasattr(config, "resolve") else vol.path


def _in_scope(cfg: VersionsConfig, volume: str, relpath: str) -> bool:
    return applies(relpath, volume, cfg.volumes, cfg.globs)


def _known(history: Any, line: Line, cfg: VersionsConfig) -> list[Entry]:
    out = []
    for record in history.with_fields(**dict(line)):
        parsed = entry_of(record, cfg)
        if parsed and parsed[0] == line and _in_scope(cfg, parsed[1].volume, parsed[1].relpath):
            out.append(parsed[1])
    return out


def _differs(asset: Asset, other: Entry, history: Any, cfg: VersionsConfig, config: Any) -> bool | None:
    """True when the other file has different content; None when it cannot be told."""
    if other.size != asset.size:
        return True
    if asset.sequence is not None or other.sequence:
        return False  # same total size: hashing every frame is not worth it here
    root = _root(other.volume, config, {asset.volume: asset.root})
    if root is None:
        return None
    try:
        return history.file_hash(asset.path, cfg.hash_algo) != history.file_hash(
            os.path.join(root, other.relpath), cfg.hash_algo)
    except OSError:
        return None


@hookimpl
def config_sections() -> Mapping[str, Any]:
    return {NAME: VersionsConfig}


@hookimpl
def rules() -> Iterable[RuleInfo]:
    return RULES


@hookimpl
def check(asset: Asset, facts: Facts, history: Any, config: Any) -> Iterable[Finding] | None:
    fields = facts.derived.get("fields")
    cfg = _settings(config)
    if not isinstance(fields, Mapping) or not _in_scope(cfg, asset.volume, asset.relpath):
        return None
    line, version = line_of(fields, cfg.key_fields), version_of(fields)
    if line is None or version is None:
        return None
    number, text = version
    owner, impacts = _roles(asset.volume, config)
    name = label(line)
    out: list[Finding] = []

    def finding(rule: str, severity: Severity, message: str, **kw: Any) -> None:
        out.append(Finding(rule=rule, severity=severity, asset=asset, message=message, owner=owner,
                           impacts=impacts, details={"line": dict(line), "version": text, **kw.pop("details", {})},
                           **kw))

    known = [] if history is None else [e for e in _known(history, line, cfg)
                                        if e.where != (asset.volume, asset.relpath)]
    widths = Counter(len(e.text) for e in known)
    want, source = cfg.padding, "the convention here is"
    if want is None and widths:
        want, source = widths.most_common(1)[0][0], f"the earlier versions of {name} have"
    if want and not padding_ok(text, want):
        finding("version.padding", Severity.WARNING,
                f"version v{text} has {len(text)} digit{'s' if len(text) != 1 else ''}; "
                f"{source} {want} ({vtext(number, want)})",
                expected=f"versions written with {want} digits, e.g. {vtext(number, want)}",
                impact=f"{OUTDATED}: version-aware tools sort and match versions by name, and v{text} will not "
                       "sort or match with the others",
                fix=f"rename it to use {vtext(number, want)}")
    if history is None:
        return out
    mine = distinct_of(fields, asset.relpath, cfg)
    dupes = []
    for other in sorted((e for e in known if e.version == number and e.distinct == mine), key=lambda e: e.where):
        if _differs(asset, other, history, cfg, config):
            dupes.append(other)
    if dupes:
        shown = " and ".join(f"{e.relpath} ({human_size(e.size)})" for e in dupes[:3])
        finding("version.duplicate", Severity.ERROR,
                f"v{text} of {name} exists twice with different content: this file ({human_size(asset.size)}) "
                f"and {shown}",
                expected="one version number for one picture: a changed file gets a new version",
                impact=f"{OUTDATED} or the wrong picture: nobody can tell which v{text} is the real one",
                fix=f"keep one v{text}; deliver the other as the next version number",
                details={"others": [f"{e.volume}:{e.relpath}" for e in dupes[:10]]})
    previous = history.previous(asset.volume, asset.relpath)
    since = [e.first_seen for e in known if e.version == number]
    if previous is not None and getattr(previous, "first_seen", None) is not None:
        since.append(float(previous.first_seen))
    newer = regression(number, min(since, default=math.inf), known, int(getattr(history, "batch", 0) or 0))
    if newer is not None:
        finding("version.regression", Severity.ERROR,
                f"v{text} of {name} arrived after v{newer.text} was already delivered ({newer.relpath})",
                expected="versions arrive in increasing order",
                impact=f"{OUTDATED}: v{text} is older than v{newer.text}, which is already in the edit's bins",
                fix=f"check whether v{text} was sent by mistake; if it is the one to use, deliver it as a "
                    f"version after v{newer.text}",
                details={"newer": f"{newer.volume}:{newer.relpath}"})
    return out


@hookimpl
def batch_done(assets: Sequence[Asset], history: Any, config: Any) -> Iterable[Finding] | None:
    """Gaps and jumps of every line with an asset in the scopes (top folders) of this batch."""
    cfg = _settings(config)
    roots = {a.volume: a.root for a in assets}
    scopes = {scope_of(a.volume, a.relpath) for a in assets}
    probes: set[tuple[str, str]] = set()
    for a in assets:
        record = history.previous(a.volume, a.relpath)
        parsed = entry_of(record, cfg) if record is not None else None
        if parsed is not None and _in_scope(cfg, a.volume, a.relpath):
            probes.add(parsed[0][0])  # widen to the most general key field: other lines in the same scopes
    lines: dict[Line, dict[tuple[str, str], Entry]] = {}
    for field, value in sorted(probes):
        for record in history.with_fields(**{field: value}):
            parsed = entry_of(record, cfg)
            if parsed and _in_scope(cfg, parsed[1].volume, parsed[1].relpath):
                lines.setdefault(parsed[0], {})[parsed[1].where] = parsed[1]
    return list(_holes(lines, scopes, roots, cfg, config))


def _holes(lines: Mapping[Line, Mapping[tuple[str, str], Entry]], scopes: set[str], roots: Mapping[str, str],
           cfg: VersionsConfig, config: Any) -> Iterator[Finding]:
    for line, by_path in sorted(lines.items()):
        entries = list(by_path.values())
        if not any(scope_of(e.volume, e.relpath) in scopes for e in entries):
            continue
        name = label(line)
        for hole in holes(entries, cfg.max_step):
            after, width = hole.after, len(hole.after.text)
            owner, impacts = _roles(after.volume, config)
            asset = Asset(volume=after.volume, root=_root(after.volume, config, roots) or "",
                          relpath=after.relpath, size=after.size, mtime_ns=0)
            gone = hole.missing
            before, nxt = vtext(hole.before.version, width), vtext(after.version, width)
            details = {"line": dict(line), "before": hole.before.text, "after": after.text,
                       "missing": [gone.start, gone.stop - 1]}
            if hole.kind == "jump":
                yield Finding(
                    rule="version.jump", severity=Severity.WARNING, asset=asset, owner=owner, impacts=impacts,
                    message=f"{nxt} of {name} follows {before}: a jump of {after.version - hole.before.version} "
                            "versions",
                    expected=f"each version at most {cfg.max_step} after the previous one",
                    impact=f"{OUTDATED}: if {nxt} is a typo, it will sort as the newest version",
                    fix=f"check that {nxt} is not a typo; if versions were skipped on purpose, raise max_step "
                        "under [rules.versions]", details=details)
                continue
            missing = (vtext(gone.start, width) if len(gone) == 1 else
                       f"{vtext(gone.start, width)}-{vtext(gone.stop - 1, width)}")
            yield Finding(
                rule="version.gap", severity=Severity.WARNING, asset=asset, owner=owner, impacts=impacts,
                message=f"{missing} of {name} {'is' if len(gone) == 1 else 'are'} missing: the versions go "
                        f"from {before} to {nxt}",
                expected="every version delivered, in order",
                impact=f"{OUTDATED}: notes given on {missing} cannot be checked, and nobody can tell whether "
                       "it was skipped on purpose or lost on the way",
                fix=f"deliver {missing} or confirm that it was skipped on purpose", details=details)
