"""From an OpenTimelineIO timeline to :class:`~.values.Event` values.

What each reader leaves where (measured on OpenTimelineIO's own adapter test data):

- CMX 3600: reel in ``metadata["cmx_3600"]["reel"]``; ``* FROM CLIP NAME`` as the clip name;
  ``* FROM CLIP`` / ``* FROM FILE`` as an ``ExternalReference`` (an ``ImageSequenceReference``
  for ``[1001-1100]`` ranges); ``* SOURCE FILE`` only in ``metadata["cmx_3600"]["comments"]``;
  ``* LOC`` as markers. The record start lives in the track's negative ``source_range`` start.
- FCP 7 / Premiere XML: the file's ``pathurl`` as a ``file://`` URL; the reel in the media
  reference's ``fcp_xml.timecode.reel.name``; scene and take in ``logginginfo``.
- AAF: the master mob's ``UserComments`` (``UNC Path``, ``Tape``, ``Scene``, ``Take`` ...).

Items that are not source media (black, bars, gaps, disabled clips) are counted, not kept.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from fractions import Fraction
from types import MappingProxyType
from typing import Any

import opentimelineio as otio

from .names import path_name, readable_path, split_frame
from .timecode import exact_rate
from .values import Event, SeqRef, Timeline

_TAPE_KEYS = ("Tape", "TapeName", "Tape Name", "Reel", "Reel Name", "Camroll", "Soundroll", "Sound Roll")


def plain(value: Any) -> Any:
    """OpenTimelineIO metadata (AnyDictionary, AnyVector) as plain dicts and lists."""
    if isinstance(value, Mapping) or hasattr(value, "items"):
        try:
            return {str(k): plain(v) for k, v in value.items()}
        except Exception:
            return {}
    if isinstance(value, list | tuple) or type(value).__name__ == "AnyVector":
        return [plain(v) for v in value]
    return value


def _dig(data: Any, *keys: str) -> Any:
    for k in keys:
        if not isinstance(data, Mapping):
            return None
        data = data.get(k)
    return data


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


@dataclass(frozen=True, slots=True)
class Context:
    """How to read one file's times and metadata beyond what OpenTimelineIO says."""

    rate: Fraction
    fmt: str
    relabel: Mapping[Fraction, Fraction] = field(default_factory=dict)
    """Reader rate -> the exact rate its frames are really at (FCPXML: 24 -> 24000/1001)."""
    extra: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    """Media URL -> reel, scene and take the reader dropped (FCPXML asset metadata)."""

    def rate_of(self, rt: otio.opentime.RationalTime) -> Fraction:
        rate = exact_rate(rt.rate) or self.rate
        return self.relabel.get(rate, rate)

    def frames(self, rt: otio.opentime.RationalTime, rate: Fraction | None = None) -> int:
        """Frames of a time at ``rate`` (default: the timeline's)."""
        return round(Fraction(rt.value) * (rate or self.rate) / self.rate_of(rt)) if rt.rate else 0


def _speed(clip: otio.schema.Clip) -> Fraction:
    speed = Fraction(1)
    for effect in clip.effects:
        if isinstance(effect, otio.schema.FreezeFrame):
            return Fraction(0)
        if isinstance(effect, otio.schema.LinearTimeWarp):
            speed *= Fraction(effect.time_scalar).limit_denominator(1000)
    return abs(speed)


def _record(clip: otio.schema.Clip, top: otio.schema.Stack) -> tuple[otio.opentime.TimeRange, Any] | None:
    """The clip's visible record range in the top stack's time, clipped by every nested
    composition's trim; and how far the head was cut (None when nothing of it shows)."""
    own = clip.trimmed_range()
    rec = clip.transformed_time_range(own, top)
    head_cut = otio.opentime.RationalTime(0, rec.start_time.rate)
    node = clip.parent()
    # A top-level track's own trim is not a window: the EDL reader puts the first record in
    # there as a negative start, so only nested compositions below the tracks clip the view.
    while node is not None and node is not top and node.parent() is not top:
        if node.source_range is not None:
            vis = node.transformed_time_range(node.trimmed_range(), top)
            start = max(rec.start_time, vis.start_time)
            end = min(rec.end_time_exclusive(), vis.end_time_exclusive())
            if end <= start:
                return None
            head_cut = head_cut + (start - rec.start_time)
            rec = otio.opentime.range_from_start_end_time(start, end)
        node = node.parent()
    return rec, head_cut


def _source(clip: otio.schema.Clip, md: Mapping[str, Any]) -> tuple[str, SeqRef | None]:
    """(source path as written, image sequence) of a clip."""
    ref = clip.media_reference
    path = ""
    if isinstance(ref, otio.schema.ImageSequenceReference):
        pad = max(ref.frame_zero_padding, 0)
        base = (ref.target_url_base or "").rstrip("/\\")
        sep = "\\" if "\\" in base else "/"
        path = readable_path(f"{base}{sep if base else ''}{ref.name_prefix}{ref.start_frame:0{pad}d}{ref.name_suffix}")
        return path, SeqRef(ref.name_prefix, ref.name_suffix)
    if isinstance(ref, otio.schema.ExternalReference) and ref.target_url:
        path = readable_path(ref.target_url)
    if not path:
        for comment in _dig(md, "cmx_3600", "comments") or ():
            text = _text(comment)
            if text.upper().startswith(("SOURCE FILE:", "FROM FILE:")):
                path = text.split(":", 1)[1].strip()
                break
    if not path:
        path = _text(_dig(md, "AAF", "UserComments", "UNC Path"))
    found = split_frame(path_name(path)) if path else None
    return path, (SeqRef(found[0], found[1]) if found else None)


def _with_frames(seq: SeqRef | None, clip: otio.schema.Clip, src_in: int, src_out: int,
                 ctx: Context, rate: Fraction) -> SeqRef | None:
    ref = clip.media_reference
    if seq is None or not isinstance(ref, otio.schema.ImageSequenceReference) or ref.available_range is None:
        return seq
    first = ref.start_frame + src_in - ctx.frames(ref.available_range.start_time, rate)
    return SeqRef(seq.base, seq.ext, first, first + max(src_out - src_in, 1) - 1)


def _reel(md: Mapping[str, Any], ref_md: Mapping[str, Any], extra: Mapping[str, str]) -> str:
    reel = (_text(_dig(md, "cmx_3600", "reel")) or _text(_dig(ref_md, "fcp_xml", "timecode", "reel", "name"))
            or _text(extra.get("reel")))
    if reel:
        return reel
    comments = _dig(md, "AAF", "UserComments") or {}
    return next((_text(comments.get(k)) for k in _TAPE_KEYS if _text(comments.get(k))), "")


def _scene_take(md: Mapping[str, Any], extra: Mapping[str, str]) -> tuple[str, str]:
    comments = _dig(md, "AAF", "UserComments") or {}
    log = _dig(md, "fcp_xml", "logginginfo") or {}
    scene = _text(comments.get("Scene")) or _text(log.get("scene")) or _text(extra.get("scene"))
    take = _text(comments.get("Take")) or _text(log.get("shottake")) or _text(extra.get("take"))
    return scene, take


def events_of(tl: otio.schema.Timeline, ctx: Context) -> tuple[list[Event], Counter[str]]:
    """Events of every track, numbered in track order and record time, and what was skipped."""
    top = tl.tracks
    start = ctx.frames(tl.global_start_time) if tl.global_start_time is not None else 0
    skipped: Counter[str] = Counter()
    events: list[Event] = []
    counters: Counter[str] = Counter()
    for track in top:
        if not isinstance(track, otio.schema.Track):
            continue
        kind = "audio" if track.kind == otio.schema.TrackKind.Audio else "video"
        counters[kind] += 1
        name = track.name.strip()
        if not name or name.isdigit():  # FCPXML names tracks by lane number ("0")
            name = f"{kind[0].upper()}{counters[kind]}"
        for clip in track.find_clips(shallow_search=False):
            if not clip.enabled:
                skipped["disabled clip"] += 1
                continue
            if isinstance(clip.media_reference, otio.schema.GeneratorReference):
                skipped[clip.media_reference.generator_kind or "generator"] += 1
                continue
            try:
                event = _event(clip, top, name, kind, start, ctx)
            except Exception:  # one odd clip (a range OTIO cannot transform) must not lose the rest
                skipped["clip whose timing could not be read"] += 1
                continue
            if event is not None:
                events.append(event)
    events.sort(key=lambda e: (0 if e.kind == "video" else 1, _track_order(e.track), e.record_in))
    return [replace(e, number=i) for i, e in enumerate(events, 1)], skipped


def _track_order(name: str) -> tuple[int, str]:
    digits = "".join(c for c in name if c.isdigit())
    return (int(digits) if digits else 0, name)


def _event(clip: otio.schema.Clip, top: otio.schema.Stack, track: str, kind: str, start: int,
           ctx: Context) -> Event | None:
    placed = _record(clip, top)
    if placed is None:
        return None
    rec, head_cut = placed
    md = plain(clip.metadata)
    ref = clip.media_reference
    ref_md = plain(ref.metadata) if ref is not None else {}
    extra = ctx.extra.get(getattr(ref, "target_url", None) or "", {})
    try:
        used = clip.visible_range()  # includes the handles a transition takes
    except Exception:
        used = clip.trimmed_range()
    src_rate = ctx.rate_of(used.start_time)
    speed = _speed(clip)
    src_in = ctx.frames(used.start_time, src_rate) + ctx.frames(head_cut, src_rate) * (speed or 1)
    handles = ctx.frames(used.duration, src_rate) - ctx.frames(clip.trimmed_range().duration, src_rate)
    length = max(1, math.ceil(Fraction(ctx.frames(rec.duration, src_rate)) * speed)) if speed else 1
    src_out = int(src_in + length + max(handles, 0))
    path, seq = _source(clip, md)
    scene, take = _scene_take(md, extra)
    name = clip.name.strip()
    if ctx.fmt.startswith("CMX") and name.isdigit():
        name = ""  # the EDL reader names a clip by its event number when the EDL gives no clip name
    markers = tuple(m.name.strip() for m in clip.markers if m.name and m.name.strip())
    record_in = start + ctx.frames(rec.start_time)
    return Event(number=0, track=track, kind=kind, record_in=record_in, record_out=record_in + ctx.frames(rec.duration),
                 source_in=int(src_in), source_out=src_out, source_rate=src_rate, clip_name=name,
                 reel=_reel(md, ref_md, extra), source_path=path,
                 sequence=_with_frames(seq, clip, int(src_in), src_out, ctx, src_rate),
                 scene=scene, take=take, speed=speed, markers=markers)


def timeline_of(tl: otio.schema.Timeline, ctx: Context, *, path: str, drop_frame: bool, purpose: str) -> Timeline:
    events, skipped = events_of(tl, ctx)
    start = ctx.frames(tl.global_start_time) if tl.global_start_time is not None else 0
    if (ctx.fmt.startswith("CMX") or tl.global_start_time is None) and events:
        start = min(e.record_in for e in events)  # EDLs and FCPXML keep the record start in the events
    return Timeline(name=(tl.name or "").strip() or path_name(path), path=path, format=ctx.fmt, rate=ctx.rate,
                    start=start, drop_frame=drop_frame, events=tuple(events), purpose=purpose,
                    skipped=MappingProxyType(dict(skipped)))


def timeline_rate(tl: otio.schema.Timeline) -> Fraction | None:
    """The rate a timeline runs at, exactly: its start time's rate, else its first track's."""
    if tl.global_start_time is not None:
        rate = exact_rate(tl.global_start_time.rate)
        if rate:
            return rate
    for track in tl.tracks:
        try:
            rate = exact_rate(track.duration().rate)
        except Exception:
            continue
        if rate and rate != 1:
            return rate
    return None


def drop_frame_of(tl: otio.schema.Timeline) -> bool:
    """Whether the sequence counts drop-frame timecode, where the reader says so (FCP XML)."""
    md = plain(tl.metadata)
    display = _dig(md, "fcp_xml", "timecode", "displayformat") or _dig(md, "fcp_xml", "media", "video", "format",
                                                                          "samplecharacteristics", "displayformat")
    return str(display or "").upper() == "DF"
