"""Rules for image sequences seen as one asset (``plate.1001-1010#.dpx``).

Every rule is a pure function of the asset, its probed facts and this plugin's config: the
watcher only hands over sequences whose frames have stopped arriving, so a sequence still
being copied is never judged. The ``collect`` hook lists the sequence's own folder once, to
notice runs of the same name written with another padding (``plate.999.dpx`` next to
``plate.1000.dpx``).

Missing frames: the builtin ``sanity.sequence_gap`` reports gaps with no configuration.
``sequence.missing_frames`` is the configurable version (allow-list, stepped renders): it
reports only when a ``[rules.sequences]`` section exists, and then the builtin stays silent.
"""

from __future__ import annotations

import math
import os
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from statistics import median
from types import MappingProxyType
from typing import Any

from fileseq import FrameSet
from fileseq.exceptions import FileSeqException
from pydantic import BaseModel, ConfigDict, Field, field_validator

from reelwatch.api import Asset, Facts, Finding, RuleInfo, Severity, applies, hookimpl, human_size, is_delivery, match
from reelwatch.api.sequences import (count_in, describe_ranges, frame_ranges, group_names, missing_ranges,
                                     related_runs, sequence_key)

NAME = "sequences"
MAX_MEMBERSHIP_TESTS = 200_000


class AllowGap(BaseModel):
    """A deliberate gap: frames that may be missing from sequences whose path matches ``glob``."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    glob: str = "**"
    frames: str = "*"
    """fileseq frame range: ``1005-1010``, ``1005-1010,1020``, ``1001-1100x2``; ``*`` for any frame."""
    reason: str = ""

    @field_validator("frames")
    @classmethod
    def _frames(cls, v: str) -> str:
        v = v.strip()
        if v == "*":
            return v
        try:
            if not v or FrameSet(v).frameRange() == "":
                raise ValueError
        except (FileSeqException, ValueError):
            raise ValueError(f"{v!r} is not a frame range; write it like '1005-1010', '1005-1010,1020' "
                             "or '*' for any frame") from None
        return v


class SequencesConfig(BaseModel):
    """``[rules.sequences]``."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    volumes: tuple[str, ...] = ()
    globs: tuple[str, ...] = ()
    allow_gaps: tuple[AllowGap, ...] = ()
    allow_steps: bool = True
    """A sequence whose frames are all evenly spaced (1001, 1003, 1005 ...) is a stepped render, not gapped."""
    padding: int | None = Field(default=None, ge=1, le=10)
    """Digits every frame number must have (4 means plate.1001.dpx, plate.0001.dpx); unset: any fixed width."""
    short_frame_ratio: float = Field(default=0.5, gt=0, lt=1)
    exact_size_ratio: float = Field(default=0.99, gt=0, le=1)
    exact_size_formats: tuple[str, ...] = ("dpx", "cin", "ari")
    """Uncompressed formats whose frames all have the same size: any frame smaller than
    ``exact_size_ratio`` of its neighbours is cut off."""
    short_frame_window: int = Field(default=4, ge=1, le=50)


RULES = (
    RuleInfo("sequence.missing_frames", "Frames are missing from an image sequence (gaps on the allow-list "
             "and stepped renders excepted).", Severity.ERROR, "dit", ("vfx", "colour"),
             "frames 1004-1006 and 1009 are missing from plate.1001-1010#.dpx"),
    RuleInfo("sequence.short_frame", "A frame is much smaller than its neighbours: it was probably cut off "
             "while being written or copied.", Severity.ERROR, "dit", ("vfx", "colour"),
             "frame 1005 of plate.1001-1010#.dpx is 57.0 KB while its neighbours are about 149.1 KB"),
    RuleInfo("sequence.mixed_format", "Frames of one sequence differ in resolution, bit depth, colour "
             "channels or file format.", Severity.ERROR, "dit", ("vfx", "colour"),
             "frame 1005 is 128x72 while the rest of plate.1001-1010#.dpx is 256x144"),
    RuleInfo("sequence.padding", "Frame numbers do not have the agreed number of digits, or the same run is "
             "written with two different paddings in one folder.", Severity.WARNING, "dit", ("vfx", "colour"),
             "plate.990-999@@@.dpx (3-digit frame numbers) and plate.1000-1010#.dpx (4-digit) in one folder"),
)


def _settings(config: Any) -> tuple[SequencesConfig, bool]:
    """This plugin's config, and whether the production configured it explicitly."""
    rules = getattr(config, "rules", None) or {}
    section = rules.get(NAME) if isinstance(rules, Mapping) else None
    if isinstance(section, SequencesConfig):
        return section, True
    return SequencesConfig(), section is not None


def _roles(asset: Asset, config: Any) -> tuple[str, tuple[str, ...], bool]:
    """(owner, impacted roles, is delivery) for the volume the asset is on: the DIT (whoever owns
    the volume), or the vendor (``vfx``) on a delivery volume."""
    if is_delivery(config, asset.volume):
        return "vfx", ("editorial", "colour"), True
    return "dit", ("vfx", "colour"), False


def _ext(asset: Asset) -> str:
    names = asset.sequence.frame_names if asset.sequence else ()
    return (names[0] if names else asset.name).rpartition(".")[2].lower()


def _frames_words(frames: Iterable[int]) -> tuple[str, int]:
    ranges = frame_ranges(frames)
    n = count_in(ranges)
    return f"{'frame' if n == 1 else 'frames'} {describe_ranges(ranges)}", n


_ATTRIBUTES: Mapping[str, Any] = MappingProxyType({
    "resolution": lambda t: f"{t.get('width')}x{t.get('height')}",
    "bit depth": lambda t: f"{t['bit_depth']}-bit" if t.get("bit_depth") else None,
    "file format": lambda t: str(t["format"]) if t.get("format") else None,
    "colour channels": lambda t: str(t["color_space"]) if t.get("color_space") else None,
})
"""What must not change inside a sequence, read from each sampled frame's image track."""


class _Rules:
    """The checks of one sequence asset under one config."""

    def __init__(self, asset: Asset, facts: Facts, cfg: SequencesConfig, config: Any) -> None:
        assert asset.sequence is not None
        self.asset, self.facts, self.cfg = asset, facts, cfg
        self.seq = asset.sequence
        self.owner, self.impacts, self.delivery = _roles(asset, config)

    def finding(self, rule: str, severity: Severity, message: str, **kw: Any) -> Finding:
        return Finding(rule=rule, severity=severity, asset=self.asset, message=message, owner=self.owner,
                       impacts=self.impacts, **kw)

    # -- missing frames ----------------------------------------------------------------
    def step(self) -> int:
        frames = self.seq.frames
        if not self.cfg.allow_steps or len(frames) < 3:
            return 1
        step = 0
        for a, b in zip(frames, frames[1:], strict=False):
            step = math.gcd(step, b - a)
        return step if step > 1 and all(b - a == step for a, b in zip(frames, frames[1:], strict=False)) else 1

    def allowed(self) -> list[FrameSet | None]:
        paths = (self.asset.relpath, f"{self.asset.folder}/{self.seq.pattern}".lstrip("/"))
        out: list[FrameSet | None] = []
        for gap in self.cfg.allow_gaps:
            if any(match(p, gap.glob) for p in paths):
                out.append(None if gap.frames == "*" else FrameSet(gap.frames))
        return out

    def missing_frames(self) -> Iterator[Finding]:
        step = self.step()
        ranges = missing_ranges(self.seq.frames, step)
        allowed = self.allowed() if ranges else []
        if any(a is None for a in allowed):
            return
        if allowed:
            kept: list[tuple[int, int]] = []
            budget = MAX_MEMBERSHIP_TESTS
            for lo, hi in ranges:
                size = (hi - lo) // step + 1
                if size > budget:  # too large to test frame by frame: keep it whole
                    kept.append((lo, hi))
                    continue
                budget -= size
                kept += frame_ranges((f for f in range(lo, hi + 1, step) if not any(f in a for a in allowed)), step)
            ranges = kept
        if not ranges:
            return
        n = count_in(ranges, step)
        words = describe_ranges(ranges, step)
        where = f"{'frame' if n == 1 else 'frames'} {words}"
        first, last = self.seq.frames[0], self.seq.frames[-1]
        grid = f" in steps of {step}" if step > 1 else ""
        yield self.finding(
            "sequence.missing_frames", Severity.ERROR,
            f"{where} {'is' if n == 1 else 'are'} missing from {self.seq.pattern}"
            + (f" ({n} frames in all)" if len(ranges) > 8 else ""),
            expected=f"every frame from {first} to {last}{grid}",
            impact=(f"the conform and the grade will show black frames at {words}; "
                    f"{'editorial' if self.delivery else 'VFX'} cannot use this range as delivered"),
            fix=((f"ask the vendor to re-deliver {where}" if self.delivery else
                  f"copy {where} again from the source and verify them")
                 + "; if the gap is deliberate, add it to allow_gaps under [rules.sequences]"),
            details={"missing": [list(r) for r in ranges[:500]], "missing_count": n, "step": step})

    # -- short frames ------------------------------------------------------------------
    def odd_format_frames(self) -> set[int]:
        return {f for _, odd in self._format_outliers().values() for frames in odd.values() for f in frames}

    def short_frame(self) -> Iterator[Finding]:
        sizes = self.seq.frame_sizes
        if len(sizes) < 3 or len(sizes) != len(self.seq.frames) or not any(sizes):
            return
        exact = _ext(self.asset) in {e.lower().lstrip(".") for e in self.cfg.exact_size_formats}
        ratio = self.cfg.exact_size_ratio if exact else self.cfg.short_frame_ratio
        skip = self.odd_format_frames()
        w = self.cfg.short_frame_window
        short: dict[int, tuple[int, float]] = {}
        for i, size in enumerate(sizes):
            frame = self.seq.frames[i]
            neighbours = sizes[max(0, i - w):i] + sizes[i + 1:i + 1 + w]
            ref = median(neighbours) if neighbours else 0
            if ref > 0 and size < ratio * ref and frame not in skip:
                short[frame] = (size, ref)
        if not short:
            return
        where, n = _frames_words(short)
        first = min(short)
        size, ref = short[first]
        sizes_words = (f"is {human_size(size)} while its neighbours are about {human_size(ref)}" if n == 1 else
                       f"are much smaller than their neighbours (frame {first}: {human_size(size)} against "
                       f"about {human_size(ref)})")
        yield self.finding(
            "sequence.short_frame", Severity.ERROR,
            f"{where} of {self.seq.pattern} {sizes_words}",
            expected=("every frame the same size, as this format is uncompressed" if exact else
                      f"no frame smaller than {ratio:.0%} of its neighbours"),
            impact=f"{'this frame was' if n == 1 else 'these frames were'} probably cut off while being written "
                   "or copied and will show as black, torn or corrupt in VFX, the conform and the grade",
            fix=(f"ask the vendor to re-deliver {where}" if self.delivery else
                 f"copy {where} again from the source and verify the checksums"),
            details={"short": {str(f): {"size": s, "neighbours": r} for f, (s, r) in sorted(short.items())[:200]}})

    # -- mixed format ------------------------------------------------------------------
    def _samples(self) -> list[tuple[int, Mapping[str, Any]]]:
        out = []
        for track in self.facts.image or ():
            idx = track.get("frame_index")
            if not isinstance(idx, int) or not 0 <= idx < len(self.seq.frames):
                continue
            if track.get("frame_kind") not in (None, "media") or not track.get("width"):
                continue
            out.append((self.seq.frames[idx], track))
        return out

    def _format_outliers(self) -> dict[str, tuple[str, dict[str, list[int]]]]:
        """attribute -> (the usual value, {odd value -> frames}) over the sampled frames."""
        samples = self._samples()
        out: dict[str, tuple[str, dict[str, list[int]]]] = {}
        for attr, get in _ATTRIBUTES.items():
            values = [(f, v) for f, v in ((f, get(t)) for f, t in samples) if v is not None]
            counts = Counter(v for _, v in values)
            if len(counts) < 2:
                continue
            order = {v: i for i, (_, v) in reversed(list(enumerate(values)))}
            usual = max(counts, key=lambda v: (counts[v], -order[v]))  # most frequent; ties: first seen
            odd: dict[str, list[int]] = {}
            for f, v in values:
                if v != usual:
                    odd.setdefault(v, []).append(f)
            out[attr] = (usual, odd)
        return out

    def mixed_format(self) -> Iterator[Finding]:
        outliers = self._format_outliers()
        if not outliers:
            return
        parts = []
        for usual, odd in outliers.values():
            for value, frames in odd.items():
                where, n = _frames_words(frames)
                parts.append(f"{where} {'is' if n == 1 else 'are'} {value} while the rest is {usual}")
        yield self.finding(
            "sequence.mixed_format", Severity.ERROR,
            f"{self.seq.pattern} mixes formats: " + "; ".join(parts),
            expected="one resolution, bit depth, channel layout and file format for every frame of a sequence",
            impact="VFX and the conform will see a jump in size or colour precision at these frames, "
                   "or fail to load the sequence as one clip",
            fix=("ask the vendor to re-render the whole sequence with one output setting" if self.delivery else
                 "check the scanner or camera export settings and re-create the odd frames to match the rest"),
            details={"sampled_frames": len(self._samples()),
                     **{attr: {"usual": usual, **odd} for attr, (usual, odd) in outliers.items()}})

    # -- padding -----------------------------------------------------------------------
    def padding(self) -> Iterator[Finding]:
        want = self.cfg.padding
        pad = self.seq.padding
        natural = [len(str(f)) for f in (self.seq.frames[0], self.seq.frames[-1])]
        if want and (pad < want or (pad > want and min(natural) < pad)):
            example = self.seq.frame_names[0] if self.seq.frame_names else self.seq.pattern
            yield self.finding(
                "sequence.padding", Severity.WARNING,
                f"frame numbers of {self.seq.pattern} have {pad} digit{'s' if pad != 1 else ''} ({example}); "
                f"the convention here is {want}",
                expected=f"frame numbers written with {want} digits, e.g. {self.seq.frames[0]:0{want}d}",
                impact="templates in Nuke, Resolve and the conform expect a fixed number of digits and will not "
                       "find these frames",
                fix=f"rename the frames with {want}-digit frame numbers (or re-render with %0{want}d)",
                details={"padding": pad, "expected": want})
        siblings = self.facts.derived.get("sequence_siblings") or ()
        if siblings:
            others = [s for s in siblings if isinstance(s, Mapping) and isinstance(s.get("pattern"), str)
                      and isinstance(s.get("first"), int) and isinstance(s.get("last"), int)]
            if not others:
                return
            lo, hi = self.seq.frames[0], self.seq.frames[-1]
            overlap = any(s["first"] <= hi and s["last"] >= lo for s in others)
            listed = " and ".join(f"{s['pattern']} ({s.get('padding')}-digit)" for s in others[:4])
            yield self.finding(
                "sequence.padding", Severity.WARNING,
                f"{self.seq.pattern} ({self.seq.padding}-digit frame numbers) sits next to {listed} in the same "
                f"folder: {'the same frames exist with two paddings' if overlap else 'the padding changes inside one run'}",
                expected="every frame of a sequence written with the same number of digits",
                impact=("tools will pick one of the copies and miss or double-count the others" if overlap else
                        "Nuke, Resolve and the conform read a fixed number of digits, so they will see two "
                        "separate sequences and drop the frames at the change"),
                fix=("keep one copy of these frames, the one with the agreed padding, and remove the other"
                     if overlap else "rename the frames so that all of them have the same number of digits"),
                details={"siblings": [dict(s) for s in others[:10]]})


@hookimpl
def config_sections() -> Mapping[str, Any]:
    return {NAME: SequencesConfig}


@hookimpl
def rules() -> Iterable[RuleInfo]:
    return RULES


@hookimpl
def collect(asset: Asset, config: Any) -> Mapping[str, Any] | None:
    """Other runs of the same name and extension with another padding, in the same folder."""
    if asset.sequence is None:
        return None
    cfg, _ = _settings(config)
    if not applies(asset.relpath, asset.volume, cfg.volumes, cfg.globs):
        return None
    key = sequence_key(asset.sequence)
    if key is None:
        return None
    try:  # only names that share the base can be another run of it
        with os.scandir(Path(asset.root) / asset.folder) as it:
            names = [e.name for e in it if e.name.startswith(key[0]) and e.is_file()]
    except OSError:
        return None
    _, runs = group_names(names)
    related = related_runs(asset.sequence, runs)
    if not related:
        return None
    return {"sequence_siblings": [{"pattern": r.pattern, "padding": r.padding, "first": r.frames[0],
                                   "last": r.frames[-1], "count": len(r.frames)} for r in related[:10]]}


@hookimpl
def check(asset: Asset, facts: Facts, config: Any) -> Iterable[Finding] | None:
    if asset.sequence is None or not asset.sequence.frames:
        return None
    cfg, configured = _settings(config)
    if not applies(asset.relpath, asset.volume, cfg.volumes, cfg.globs):
        return None
    r = _Rules(asset, facts, cfg, config)
    out: list[Finding] = []
    if configured:
        out += r.missing_frames()
    out += r.short_frame()
    out += r.mixed_format()
    out += r.padding()
    return out
