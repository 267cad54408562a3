"""Technical spec profiles: what a camera original or a delivery must be, checked over Facts.

A profile names allowed sets (container, codec, resolution, frame rate, bit depth, chroma,
colour, audio, timecode, duration) and may import a MediaConch policy. ``[[rules.spec.apply]]``
assigns profiles to volumes and path globs; the first matching entry wins. Every profile
inherits ``[production] base_frame_rate`` unless it sets ``frame_rate`` (``"any"`` opts out).
The checks read facts only and are pure: a fraction of a millisecond per file. The config
schema is :mod:`reelwatch.spec.config` (its models are re-exported here).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from ..core.model import Asset, Facts, Finding, Severity, config_rate, format_rate
from ..core.ownership import default_owner, is_delivery
from .config import SpecApply, SpecConfig, SpecProfile
from .fields import (Sample, codec_names, codec_text, exact_rate, lower, nominal_bit_depth, or_list, pictures,
                          profile_names, timecode_start, to_int, where)
from .rules import FAMILIES

__all__ = ["SpecApply", "SpecConfig", "SpecProfile", "Scope", "check_profile", "scope_for"]


@dataclass(frozen=True, slots=True)
class Scope:
    """Where a check runs: the asset, its profile and who owns what."""

    asset: Asset
    name: str
    profile: SpecProfile
    delivery: bool
    owner: str
    base_rate: Fraction | None

    def finding(self, family: str, message: str, expected: str, *, severity: Severity | None = None,
                rate: Fraction | None = None, details: Mapping[str, Any] | None = None, owner: str | None = None,
                fix: str | None = None, impact: str | None = None) -> Finding:
        fam = FAMILIES[family]
        rate_text = format_rate(rate or self.base_rate) if (rate or self.base_rate) else "the production's"
        fill = {"expected": expected, "rate": rate_text}
        return Finding(
            rule=fam.rule, severity=severity if severity is not None else fam.severity, asset=self.asset,
            message=message, owner=owner or ("supervisor" if family == "policy_unsupported" else self.owner),
            impacts=fam.delivery_impacts if self.delivery else fam.impacts,
            expected=expected,
            impact=impact or (fam.delivery_impact if self.delivery else fam.impact).format(**fill),
            fix=fix or (fam.delivery_fix if self.delivery else fam.fix).format(**fill),
            details={"profile": self.name, **(details or {})},
        )


def scope_for(asset: Asset, config: Any) -> Scope | None:
    """The profile that applies to ``asset`` under ``config`` (None when none does)."""
    section = config.rules.get("spec") if config is not None else None
    if not isinstance(section, SpecConfig):
        return None
    entry = section.match(asset)
    if entry is None:
        return None
    profile = section.resolved(entry.profile)
    base = config.production.base_frame_rate
    return Scope(asset=asset, name=entry.profile, profile=profile, delivery=is_delivery(config, asset.volume),
                 owner=entry.owner or profile.owner or default_owner(config, asset.volume),
                 base_rate=config_rate(base) if base else None)


# -- the checks ------------------------------------------------------------------------------

def _check(scope: Scope, out: list[Finding], family: str, what: str, samples: list[Sample], get: Any,
           ok: Any, expected: str, *, who: str = "", show: Any = str, rate: Fraction | None = None,
           missing: str | None = "info", verb: str = "is") -> None:
    """Check one property over samples; add a finding for bad values (or an info if unreadable)."""
    bad: dict[str, list[str]] = {}
    seen = 0
    for label, track in samples:
        value = get(track)
        if value is None:
            continue
        seen += 1
        if not ok(value):
            bad.setdefault(show(value), []).append(label)
    who = who or f"profile {scope.name!r} allows"
    if bad:
        out.append(scope.finding(family, f"{what} {verb} {where(bad)}; {who} {expected}", expected, rate=rate,
                                 details={"found": list(bad), "where": [x for v in bad.values() for x in v if x]}))
    elif not seen and samples and missing == "info":
        out.append(scope.finding(family, f"{what} could not be read, so it was not checked against {expected}",
                                 expected, severity=Severity.INFO, rate=rate))
    elif not seen and samples and missing == "finding":
        out.append(scope.finding(family, f"{what} {verb} not tagged; {who} {expected}", expected, rate=rate))


def _picture(scope: Scope, facts: Facts, out: list[Finding]) -> None:
    p, samples = scope.profile, pictures(scope.asset, facts)
    explicit_rate = p.frame_rate is not None and "any" not in p.frame_rate
    wants = (p.codec, p.codec_profile, p.resolution, p.width, p.height, p.scan_type, p.field_order, p.bit_depth,
             p.chroma_subsampling, p.colour_primaries, p.transfer, p.matrix)
    if not samples:
        if any(wants) or explicit_rate:
            expected = or_list(p.codec) if p.codec else "a picture track"
            out.append(scope.finding("codec", f"the file has no picture track; profile {scope.name!r} requires "
                                     f"{expected}", expected))
        return
    if p.codec or p.codec_profile:
        codecs, profiles = lower(p.codec), lower(p.codec_profile)
        expected = or_list(p.codec or ["any codec"]) + (f" ({or_list(p.codec_profile)})" if p.codec_profile else "")
        _check(scope, out, "codec", "codec", samples,
               lambda t: t if (t.get("format") or t.get("commercial_name")) else None,
               lambda t: (not codecs or bool(codec_names(t) & codecs))
               and (not profiles or bool(profile_names(t) & profiles)), expected, show=codec_text)
    if p.resolution or p.width or p.height:
        sizes = {tuple(int(n) for n in re.split(r"[xX×]", r.replace(" ", ""))) for r in p.resolution}
        expected = or_list([f"{w}x{h}" for w, h in sorted(sizes)] or
                       [f"width {or_list(p.width or ['any'])} and height {or_list(p.height or ['any'])}"])
        _check(scope, out, "resolution", "picture", samples,
               lambda t: (to_int(t.get("width")), to_int(t.get("height"))) if t.get("width") else None,
               lambda v: (not sizes or v in sizes) and (not p.width or v[0] in p.width)
               and (not p.height or v[1] in p.height), expected, show=lambda v: f"{v[0]}x{v[1]}")
    rates = [config_rate(r) for r in (p.frame_rate or ())] if explicit_rate else \
        ([scope.base_rate] if p.frame_rate is None and scope.base_rate else [])
    if rates:
        expected = or_list(format_rate(r) for r in rates)
        who = f"profile {scope.name!r} allows" if explicit_rate else "this production shoots"
        _check(scope, out, "frame_rate", "frame rate", samples, lambda t: exact_rate(t)[0], lambda v: v in rates,
               expected, who=who, show=lambda v: f"{format_rate(v)} fps", rate=rates[0],
               missing="info" if explicit_rate else None)
    if p.scan_type:
        scans = lower(p.scan_type)
        _check(scope, out, "scan", "scan type", samples, lambda t: t.get("scan_type"),
               lambda v: str(v).lower() in scans or ("interlaced" in scans and str(v).lower() in ("mbaff", "paff")),
               or_list(p.scan_type))
    if p.field_order:
        orders = lower(p.field_order)
        _check(scope, out, "scan", "field order", samples,
               lambda t: t.get("scan_order") if str(t.get("scan_type", "")).lower() != "progressive" else None,
               lambda v: str(v).lower() in orders, or_list(p.field_order), missing=None)
    if p.bit_depth:
        _check(scope, out, "bit_depth", "bit depth", samples,
               lambda t: nominal_bit_depth(t) if nominal_bit_depth(t)[0] is not None else None,
               lambda v: v[0] in p.bit_depth, or_list(f"{b}-bit" for b in p.bit_depth),
               show=lambda v: f"{v[0]}-bit" + (f" ({v[1]})" if v[1] else ""))
    if p.chroma_subsampling:
        _check(scope, out, "chroma", "chroma subsampling", samples, lambda t: t.get("chroma_subsampling"),
               lambda v: str(v).strip() in p.chroma_subsampling, or_list(p.chroma_subsampling))
    for allowed, key, what in ((p.colour_primaries, "color_primaries", "colour primaries"),
                               (p.transfer, "transfer_characteristics", "transfer characteristics"),
                               (p.matrix, "matrix_coefficients", "matrix coefficients")):
        if allowed:
            names = lower(allowed)
            _check(scope, out, "colour", what, samples, lambda t, k=key: t.get(k) or None,
                   lambda v, n=names: str(v).lower() in n, or_list(allowed), missing="finding", verb="are")


def _audio(scope: Scope, facts: Facts, out: list[Finding]) -> None:
    p, tracks = scope.profile, facts.audio
    wants = (p.audio_codec, p.audio_sample_rate, p.audio_bit_depth, p.audio_channels, p.audio_layout)
    if not any(wants):
        return
    if not tracks:
        if 0 not in p.audio_channels:
            # the family's impact ("convert or resample this audio") fits audio that is there, not none at all
            out.append(scope.finding(
                "audio", f"the file has no audio; profile {scope.name!r} requires audio", "audio tracks",
                impact=("The delivery has no sound: editorial and sound cannot use it as delivered" if scope.delivery
                        else "There is no sound in this clip: editorial has no camera audio to sync the production "
                             "sound by, and any sound meant to be recorded on camera is lost"),
                fix=None if scope.delivery else "Check the camera's audio inputs and recording settings before "
                                                "the next roll, and tell sound and editorial which clips have none"))
        return
    samples = [("" if len(tracks) == 1 else f"audio track {i + 1}", t) for i, t in enumerate(tracks)]
    if p.audio_codec:
        names = lower(p.audio_codec)
        _check(scope, out, "audio", "audio codec", samples, lambda t: t.get("format"),
               lambda v: str(v).lower() in names, or_list(p.audio_codec))
    if p.audio_sample_rate:
        _check(scope, out, "audio", "audio sample rate", samples, lambda t: to_int(t.get("sampling_rate")),
               lambda v: v in p.audio_sample_rate, or_list(f"{r / 1000:g} kHz" for r in p.audio_sample_rate),
               show=lambda v: f"{v / 1000:g} kHz")
    if p.audio_bit_depth:
        _check(scope, out, "audio", "audio bit depth", samples, lambda t: to_int(t.get("bit_depth")),
               lambda v: v in p.audio_bit_depth, or_list(f"{b}-bit" for b in p.audio_bit_depth),
               show=lambda v: f"{v}-bit")
    if p.audio_channels:
        counts = [to_int(t.get("channel_s")) for t in tracks]
        total = sum(c for c in counts if c) if any(counts) else None
        _check(scope, out, "audio", "the number of audio channels", [("", {"n": total})], lambda t: t["n"],
               lambda v: v in p.audio_channels, or_list(p.audio_channels))
    if p.audio_layout:
        _check(scope, out, "audio", "audio channel layout", samples, lambda t: t.get("channel_layout"),
               lambda v: str(v).strip() in p.audio_layout, or_list(repr(x) for x in p.audio_layout), show=repr)


def _tc(text: str) -> str:
    return re.sub(r"[;.]", ":", text.strip())


def _number(value: Any) -> float | None:
    try:
        return float(str(value)) if value not in (None, "") else None
    except ValueError:
        return None


def _timecode_and_duration(scope: Scope, facts: Facts, out: list[Finding]) -> None:
    p = scope.profile
    if p.timecode:
        rate = exact_rate(facts.picture)[0] or (config_rate(p.frame_rate[0]) if p.frame_rate and
                                                 p.frame_rate[0] != "any" else scope.base_rate)
        start, source = timecode_start(facts, rate)
        want = "timecode" if p.timecode == "required" else f"timecode starting at {p.timecode}"
        if start is None and source and p.timecode != "required":
            out.append(scope.finding("timecode", f"the file has a {source} but its start could not be read, so it "
                                     f"was not checked against {p.timecode}", want, severity=Severity.INFO))
        elif start is None and not source and facts.kind != "image_sequence":
            out.append(scope.finding("timecode", f"the file has no timecode; profile {scope.name!r} requires "
                                     f"{want}", want))
        elif start is not None and p.timecode != "required" and _tc(start) != _tc(p.timecode):
            out.append(scope.finding("timecode", f"timecode starts at {start} (from the {source}); profile "
                                     f"{scope.name!r} requires {want}", want, details={"found": start}))
    if facts.kind == "image_sequence" or not (facts.video or facts.audio):
        return
    seconds = next((ms / 1000 for ms in map(_number, (facts.general.get("duration"),
                    *(t.get("duration") for t in (*facts.video, *facts.audio)))) if ms is not None), None)
    if seconds is None:
        return
    if seconds <= 0:
        out.append(scope.finding("duration", "duration is 0 s: the file holds no playable frames or samples",
                                 "a duration above 0 s"))
    elif p.min_duration and seconds < p.min_duration:
        want = f"at least {p.min_duration:g} s"
        out.append(scope.finding("duration", f"duration is {seconds:.3f} s; profile {scope.name!r} requires {want}",
                                 want, details={"seconds": seconds}))


def _container(scope: Scope, facts: Facts, out: list[Finding]) -> None:
    allowed = scope.profile.container
    if not allowed:
        return
    g = facts.general
    names = lower(g.get(k) for k in ("format", "format_profile", "commercial_name") if g.get(k))
    fmt = str(g.get("format") or "unknown")
    desc = f"{fmt} ({g['format_profile']})" if g.get("format_profile") else fmt
    if not names & lower(allowed):
        out.append(scope.finding("container", f"container is {desc}; profile {scope.name!r} allows "
                                 f"{or_list(allowed)}", or_list(allowed), details={"found": desc}))


def check_profile(scope: Scope, facts: Facts) -> list[Finding]:
    """Every property finding of ``scope.profile`` for one asset (policy findings excluded)."""
    if not facts.is_media:
        return []
    out: list[Finding] = []
    _container(scope, facts, out)
    _picture(scope, facts, out)
    _audio(scope, facts, out)
    _timecode_and_duration(scope, facts, out)
    return out
