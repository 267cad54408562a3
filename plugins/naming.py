"""Naming conventions: every file name on a volume follows its convention, field by field.

``[rules.naming]`` attaches conventions to volumes and path globs::

    [[rules.naming.apply]]
    volume = "ingest"
    glob = "Camera Media/**"
    preset = "arri"

    [[rules.naming.apply]]
    volume = "delivery"
    glob = "VFX/**"
    template = "{show}_{seq}_{shot}_{task}_v{version:03d}.{ext}"
    fields = { shot = "[0-9]{4}" }

The first entry whose volume, glob and extensions fit a file decides its convention. ``collect``
turns a matching name into facts (``fields``: show, shot, version ... as written, and
``naming``: template and version padding) for other rules; ``check`` explains a failing name
field by field, with the corrected name where one can be derived.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from pathlib import PurePosixPath
from typing import Any

import fileseq
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationInfo, field_validator, model_validator

from reelwatch.api import Asset, Finding, RuleInfo, Severity, applies, hookimpl, is_delivery, volume_owner
from reelwatch.api.naming import (CAMERA_IMPACT, FIELDS, PRESETS, Convention, Diagnosis, TemplateError,
                                  compile_convention, field_pattern, preset_convention, quote, sanitize)

NAME = "naming"
LEGAL_TEXT = "only letters a-z and A-Z, digits 0-9, '.', '_' and '-' (no spaces or other symbols)"
VFX_IMPACT = "Editorial cannot cut this version in by shot name, and version tracking per shot will miss it"
EDIT_IMPACT = ("The receiving facility can reject or mis-file this delivery, and VFX and editorial cannot find "
               "it by name")

RULES = (
    RuleInfo("naming.mismatch", "The name does not follow the convention of its folder at all.", Severity.ERROR,
             "dit", ("editorial", "vfx"),
             "'clip_1.mov' does not follow the ARRI clip naming: it does not start with the camera letter "
             "(one uppercase letter)"),
    RuleInfo("naming.field", "One or more parts of the name are wrong (digits, letter case, separator); the "
             "corrected name is given when it can be derived.", Severity.ERROR, "dit", ("editorial", "vfx"),
             "clip number 'C03' must be 3 digits: C003"),
    RuleInfo("naming.version_padding", "The version number has another number of digits than the convention "
             "fixes ({version:03d}).", Severity.ERROR, "vfx", ("editorial",), "version 'v01' must be 3 digits: v001"),
    RuleInfo("naming.frame_padding", "The frame numbers of an image sequence (or frame file) are padded to "
             "another number of digits than the convention needs.", Severity.ERROR, "editorial", ("vfx",),
             "frame number '101' must be 4 or more digits: 0101 (every frame of this sequence is named so)"),
    RuleInfo("naming.characters", "The name contains spaces or symbols outside a-z A-Z 0-9 . _ -; what else is "
             "wrong with the name is said in the same finding.",
             Severity.ERROR, "dit", ("editorial", "vfx"),
             "'A101 4.wav' contains a space, which file names must not use"),
    RuleInfo("naming.path_length", "The path (folders, name and extension) is longer than max_path_length.",
             Severity.ERROR, "editorial", ("supervisor",),
             "the path is 263 characters long, over the limit of 256: 'Deliveries/AGM/...'"),
)


class NamingRule(BaseModel):
    """One ``[[rules.naming.apply]]`` entry: where a convention applies, and which one."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    volume: str | None = None
    volumes: tuple[str, ...] = ()
    glob: str | None = None
    globs: tuple[str, ...] = ()
    fields: Mapping[str, str] = Field(default_factory=dict)
    """Field -> pattern (a regex, or ``03d`` for fixed zero padding); overrides template and preset."""
    case_sensitive: bool = True
    preset: str | None = None
    template: str | tuple[str, ...] | None = None
    """One template, or a list tried in order; ``[...]`` marks an optional part."""
    extensions: tuple[str, ...] | None = None
    """Only files with these extensions are checked; unset: the preset's media types (all for templates)."""
    check_characters: bool = True
    max_path_length: int | None = Field(default=None, ge=1)
    owner: str | None = None
    impacts: tuple[str, ...] | None = None
    originals: bool | None = None
    """True: names are camera/sound originals that must never be renamed; unset: by preset or volume kind."""
    _convention: Convention | None = PrivateAttr(default=None)

    @field_validator("fields")
    @classmethod
    def _fields(cls, value: Mapping[str, str]) -> Mapping[str, str]:
        for key, spec in value.items():
            try:
                field_pattern(key, spec)
            except TemplateError as exc:
                raise ValueError(str(exc)) from None
        return value

    @field_validator("preset")
    @classmethod
    def _preset(cls, value: str | None) -> str | None:
        if value is not None and value not in PRESETS:
            hint = difflib.get_close_matches(value, PRESETS, n=1)
            did = f" (did you mean {hint[0]!r}?)" if hint else ""
            raise ValueError(f"unknown preset {value!r}{did}; known presets: {', '.join(PRESETS)}")
        return value

    @field_validator("template")
    @classmethod
    def _template(cls, value: str | tuple[str, ...] | None, info: ValidationInfo) -> Any:
        if value is not None:
            try:
                compile_convention(value, fields=info.data.get("fields") or {},
                                   case_sensitive=info.data.get("case_sensitive", True))
            except TemplateError as exc:
                raise ValueError(str(exc)) from None
        return value

    @model_validator(mode="after")
    def _compile(self) -> NamingRule:
        if (self.preset is None) == (self.template is None):
            raise ValueError("give either preset = \"<name>\" or template = \"...\" (exactly one); presets: "
                             + ", ".join(PRESETS))
        try:
            if self.preset:
                conv = preset_convention(self.preset, fields=self.fields, case_sensitive=self.case_sensitive)
            else:
                conv = compile_convention(self.template or (), fields=self.fields,
                                          case_sensitive=self.case_sensitive)
        except TemplateError as exc:
            raise ValueError(str(exc)) from None
        self._convention = conv
        return self

    @property
    def convention(self) -> Convention:
        assert self._convention is not None
        return self._convention

    @property
    def label(self) -> str:
        """The preset name or template text, for facts and details."""
        if self.preset:
            return self.preset
        return self.template if isinstance(self.template, str) else " | ".join(self.template or ())

    def covers(self, asset: Asset) -> bool:
        volumes = ((self.volume,) if self.volume else ()) + self.volumes
        globs = ((self.glob,) if self.glob else ()) + self.globs
        if not applies(asset.relpath, asset.volume, volumes, globs) or "ascmhl" in asset.relpath.split("/")[:-1]:
            return False  # ASC MHL generations are named by the MHL tool, not by the production
        exts = self.extensions if self.extensions is not None else (
            PRESETS[self.preset].extensions if self.preset else ())
        suffix = PurePosixPath(asset.name).suffix.lstrip(".").lower()
        return not exts or suffix in {e.lower().lstrip(".") for e in exts}


class NamingConfig(BaseModel):
    """``[rules.naming]``: the list of ``[[rules.naming.apply]]`` entries, first match wins."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    apply: tuple[NamingRule, ...] = ()

    def rule_for(self, asset: Asset) -> NamingRule | None:
        return next((r for r in self.apply if r.covers(asset)), None)


def _rule(asset: Asset, config: Any) -> NamingRule | None:
    section = config.rules.get(NAME) if config is not None else None
    # duck-typed: the same plugin file may be loaded twice (shipped and by path) with two classes
    return section.rule_for(asset) if callable(getattr(section, "rule_for", None)) else None


def subject(asset: Asset, conv: Convention) -> str:
    """The name to judge: the file name, or for an image sequence its first frame's name
    (or, when the convention has no frame field, the base name with the extension)."""
    seq = asset.sequence
    if seq is None:
        return asset.name
    try:
        fs = fileseq.FileSequence(seq.pattern)
        first = seq.frame_names[0] if seq.frame_names else fs.frame(fs.start())
        if conv.has_frame:
            return PurePosixPath(first).name
        return PurePosixPath(fs.basename().rstrip("._-") + fs.extension()).name
    except Exception:  # an odd pattern: judge what is on disk
        return PurePosixPath(seq.frame_names[0]).name if seq.frame_names else asset.name


def _roles(rule: NamingRule, config: Any, asset: Asset) -> tuple[str, tuple[str, ...], str, bool]:
    """Owner, impacted roles, impact text and "originals" for a rule on this asset's volume."""
    if rule.preset:
        p = PRESETS[rule.preset]
        owner, impacts, impact, originals = p.owner, p.impacts, p.impact, p.originals
    else:
        names = {f.name for s in rule.convention.shapes for f in s.elements if not isinstance(f, str)}
        if is_delivery(config, asset.volume):
            vfx = bool(names & {"task", "vendor", "plate"})
            owner, impacts = ("vfx", ("editorial",)) if vfx else ("editorial", ("vfx",))
            impact, originals = (VFX_IMPACT if vfx else EDIT_IMPACT), False
        else:
            owner = volume_owner(config, asset.volume)
            impacts, impact, originals = ("editorial", "vfx"), CAMERA_IMPACT, True
    if rule.owner:
        owner = rule.owner
    if rule.originals is not None:
        originals = rule.originals
    return owner, rule.impacts if rule.impacts is not None else impacts, impact, originals


def _fix(conv: Convention, corrected: str | None, originals: bool, sequence: bool) -> str:
    if originals:
        note = f"; note for editorial that it should have been named {corrected}" if corrected else ""
        return ("Do not rename an original: renaming breaks its checksum history and relinking. Correct the "
                "camera or recorder naming settings (camera index, reel or roll, clip, scene and take "
                f"counters) before the next card{note}")
    what = "every frame of the sequence" if sequence else "it"
    if corrected:
        example = f"the same way, e.g. the first frame to {corrected}," if sequence else f"to {corrected}"
        return f"Rename {what} {example} and deliver it again"
    return f"Rename {what} to follow the {conv.expected}, and deliver it again"


def _describe(chars: Iterable[str]) -> str:
    names = {" ": "a space", "\t": "a tab"}
    found = [names.get(c, quote(c)) for c in chars]
    return ", ".join(found[:-1]) + " and " + found[-1] if len(found) > 1 else found[0]


@hookimpl
def config_sections() -> Mapping[str, Any]:
    return {NAME: NamingConfig}


@hookimpl
def rules() -> Iterable[RuleInfo]:
    return RULES


@hookimpl
def collect(asset: Asset, config: Any) -> Mapping[str, Any] | None:
    rule = _rule(asset, config)
    if rule is None:
        return None
    conv = rule.convention
    found = conv.match(subject(asset, conv))
    shape = found[0] if found else None
    out: dict[str, Any] = {"naming": {"template": rule.label, "version_padding": conv.version_padding(shape)}}
    if found:
        skip = {"frame"} if asset.sequence is not None else set()
        out["fields"] = {k: v for k, v in found[1].items() if k in FIELDS and k not in skip}
    return out


@hookimpl
def check(asset: Asset, config: Any) -> list[Finding] | None:
    rule = _rule(asset, config)
    if rule is None:
        return None
    conv = rule.convention
    owner, impacts, impact, originals = _roles(rule, config, asset)
    name, seq = subject(asset, conv), asset.sequence is not None
    findings: list[Finding] = []

    def add(rule_id: str, message: str, expected: str, fix: str, corrected: str | None = None,
            why: str = impact, **extra: Any) -> None:
        severity = next(r.severity for r in RULES if r.id == rule_id)
        details = {"convention": rule.label, "name": name, "corrected": corrected, **extra}
        findings.append(Finding(rule=rule_id, severity=severity, asset=asset, message=message, owner=owner,
                                impacts=tuple(impacts), expected=expected, impact=why, fix=fix, plugin=NAME,
                                details=details))

    if rule.max_path_length and len(asset.relpath) > rule.max_path_length:
        add("naming.path_length", f"the path is {len(asset.relpath)} characters long, over the limit of "
            f"{rule.max_path_length}: {quote(asset.relpath[:60])}{'...' if len(asset.relpath) > 60 else ''}",
            f"paths (folders, name and extension) of at most {rule.max_path_length} characters",
            "Shorten folder names or the file name (keep the convention's fields) and deliver it again",
            why="Delivery and archive tools refuse or cut paths this long, so the file can be lost in transfer")
    clean, bad = sanitize(name) if rule.check_characters else (name, ())
    diag: Diagnosis = conv.diagnose(clean)
    final = diag.corrected if diag.problems else (clean if diag.ok else None)
    if bad:  # one name, one finding: what else is wrong with it is said here, not in another finding
        rest = ("" if diag.ok else f"; read as {quote(clean)}, it does not follow the {conv.title}: {diag.mismatch}"
                if diag.mismatch else f"; read as {quote(clean)}: " + "; ".join(x.message for x in diag.problems))
        add("naming.characters", f"{quote(name)} contains {_describe(bad)}, which file names must not use{rest}",
            LEGAL_TEXT if diag.ok else f"{LEGAL_TEXT}; {conv.expected}", _fix(conv, final, originals, seq), final,
            characters=list(bad), why="Transfers, scripts and the receiving facility's ingest can fail on, or "
            "silently change, names with spaces or symbols")
        return findings
    if diag.ok:
        return findings
    if diag.mismatch:
        read = f"{quote(name)} (read as {quote(clean)})" if clean != name else quote(name)
        add("naming.mismatch", f"{read} does not follow the {conv.title}: {diag.mismatch}",
            conv.expected, _fix(conv, None, originals, seq))
        return findings
    groups: dict[str, list[str]] = {}
    for problem in diag.problems:
        category = "frame_padding" if seq and problem.field == "frame" else problem.category
        groups.setdefault(f"naming.{category}", []).append(problem.message)
    for rule_id, messages in groups.items():
        message = "; ".join(messages)
        if rule_id == "naming.frame_padding" and seq:
            message += " (every frame of this sequence is named so)"
        add(rule_id, message, conv.expected, _fix(conv, diag.corrected, originals, seq), diag.corrected)
    return findings
