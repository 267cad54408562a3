"""What a timeline's events are matched against: the clips reelwatch knows, by indexed keys.

A :class:`Clip` is what matching needs to know about one asset (name, size, timecode,
duration, rate, reels, scene/take), made from an :class:`~reelwatch.core.model.Asset` and its
:class:`~reelwatch.core.model.Facts` by :func:`clip_from_asset`. :func:`keys_for` lists the lookup
keys of a clip; any :class:`Catalog` (this module's :class:`MemoryCatalog`, or the state
store's indexed table) answers each lookup from those keys, so matching never scans.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Protocol

from reelwatch.core.model import Asset, Facts, parse_rate

from .names import (REEL_LIMIT, arri_tape, bext_fields, key, scene_take_key, split_frame, split_pattern,
                    stem)
from .timecode import TIMECODE, frames_to_tc, label_seconds, tc_to_frames

Span = tuple[Fraction, Fraction]
"""A source range in timecode seconds (start, end exclusive)."""

KINDS = ("name", "stem", "clip", "reel", "reel8", "seq", "scene_take")
"""Kinds of lookup key: file name, name without media extension, clip name from metadata,
reel/tape name, the first 8 characters of a longer reel or file name, image sequence
(base and extension), sound scene and take."""


@dataclass(frozen=True, slots=True)
class Clip:
    """One asset as matching sees it. ``start`` and ``duration`` are frames at ``rate``."""

    volume: str
    relpath: str
    name: str
    """File name; for an image sequence its pattern (``plate.1001-1010#.dpx``)."""
    size: int = 0
    present: bool = True
    """On a mounted volume now; False when it has gone or its volume is not mounted."""
    kind: str = "picture"
    """``picture``, ``sound`` or ``sequence``."""
    rate: Fraction | None = None
    start: int | None = None
    duration: int | None = None
    reels: tuple[str, ...] = ()
    """Tape or reel names from metadata (the name-derived ones are added by :func:`keys_for`)."""
    clip_name: str = ""
    """A clip name from metadata that differs from the file name."""
    scene: str = ""
    take: str = ""
    roll: str = ""
    frames: tuple[int, int] | None = None
    """First and last frame of an image sequence."""

    @property
    def where(self) -> str:
        return f"{self.volume}:{self.relpath}"

    def span(self) -> tuple[Fraction, Fraction] | None:
        """Start and end (exclusive) in timecode seconds, when timecode and duration are known."""
        if self.start is None or self.duration is None or not self.rate:
            return None
        return label_seconds(self.start, self.rate), label_seconds(self.start + self.duration, self.rate)

    def tc_range(self) -> str:
        if self.start is None or self.duration is None or not self.rate:
            return "timecode unknown"
        last = self.start + max(self.duration - 1, 0)
        return f"{frames_to_tc(self.start, self.rate)}-{frames_to_tc(last, self.rate)}"


def _first(*values: Any) -> str:
    return next((str(v).strip() for v in values if v not in (None, "") and str(v).strip()), "")


def _timecode(facts: Facts) -> str:
    for track in facts.other:
        if track.get("time_code_of_first_frame"):
            return str(track["time_code_of_first_frame"])
    for group in (facts.video, facts.image, (facts.general,)):
        for track in group:
            if track.get("time_code_of_first_frame"):
                return str(track["time_code_of_first_frame"])
    return ""


def _speed_rate(text: str) -> Fraction | None:
    """The timecode rate a sound recorder wrote in bext (``sSPEED=023.976-ND``, ``25.000ND``)."""
    digits = text.strip().split("-")[0].rstrip("NDFnd ").strip()
    return parse_rate(digits.lstrip("0") or None) if digits else None


def clip_from_asset(asset: Asset, facts: Facts | None, *, present: bool = True,
                    base_rate: Fraction | None = None) -> Clip:
    """A :class:`Clip` from an asset and its probed facts: timecode from a timecode track
    (QuickTime/MXF) or, for Broadcast WAV, the bext time reference at the recorder's speed
    (``sSPEED``) or ``base_rate``; duration from the frame count or the duration; reel and
    scene/take from bext (``sTAPE``, ``sSCENE``, ``sTAKE``), an ``ixml`` mapping in the derived
    facts, and the naming fields."""
    facts = facts or Facts(kind="media")
    general, pic = facts.general, facts.picture
    derived = facts.derived
    fields: Mapping[str, Any] = derived.get("fields") or {}
    ixml: Mapping[str, Any] = derived.get("ixml") or {}
    bext = bext_fields(str(general.get("description") or ""))
    seq = asset.sequence
    sound = pic is None and bool(facts.audio) and seq is None
    kind = "sequence" if seq is not None else "sound" if sound else "picture"
    rate = parse_rate(pic.get("frame_rate")) if pic is not None else None
    if sound:
        rate = _speed_rate(bext.get("speed", "")) or _speed_rate(str(ixml.get("speed", ""))) or base_rate
    start: int | None = None
    duration: int | None = None
    tc = _timecode(facts)
    if rate and tc and TIMECODE.match(tc.strip()):
        try:
            start = tc_to_frames(tc, rate)
        except ValueError:
            start = None
    if sound and rate and start is None:
        for track in facts.audio:
            if "bext" in str(track.get("delay__origin", "")).lower():
                try:
                    start = round(Fraction(str(track.get("delay"))) / 1000 * rate)
                except (ValueError, ZeroDivisionError):
                    continue
                break
    frames: tuple[int, int] | None = None
    if seq is not None and seq.frames:
        frames = (seq.frames[0], seq.frames[-1])
        duration = seq.frames[-1] - seq.frames[0] + 1
    elif rate:
        count = pic.get("frame_count") if pic is not None else None
        if isinstance(count, int | str) and str(count).isdigit():
            duration = int(count)
        else:
            ms = general.get("duration") or (facts.audio[0].get("duration") if facts.audio else None)
            try:
                duration = math.ceil(Fraction(str(ms)) / 1000 * rate) if ms not in (None, "") else None
            except (ValueError, ZeroDivisionError):
                duration = None
    tapes = [t for t in (_first(general.get("tape_name")), _first(general.get("reel_name")),
                         _first(general.get("reel")), _first(ixml.get("tape"))) if t]
    return Clip(
        volume=asset.volume, relpath=asset.relpath, name=asset.name, size=asset.size, present=present, kind=kind,
        rate=rate, start=start, duration=duration, reels=tuple(dict.fromkeys(tapes)),
        clip_name=_first(general.get("title"), general.get("movie_name"), ixml.get("clip_name")),
        scene=_first(bext.get("scene"), ixml.get("scene"), fields.get("scene") if sound else None),
        take=_first(bext.get("take"), ixml.get("take"), fields.get("take") if sound else None),
        roll=_first(bext.get("tape"), bext.get("roll"), ixml.get("tape"), fields.get("reel") if sound else None),
        frames=frames)


def sequence_key(base: str, ext: str) -> str:
    return f"{key(base)}\x1f{ext.casefold()}"


def reel_names(clip: Clip) -> list[str]:
    """Every reel or tape name a cut list may use for this clip: its metadata tapes, the ARRI
    tape name (``A004R1JL``), its sound roll, its name and stem (NLEs use the clip name as reel),
    and the folder it is in (offloads name card folders by roll, and NLEs can take the reel
    from the folder, as Resolve's "reel name from source clip path" does)."""
    folder = clip.relpath.rsplit("/", 2)[-2] if clip.relpath.count("/") else ""
    names = [*clip.reels, arri_tape(clip.name) or "", clip.roll, folder]
    if clip.kind == "sequence":
        parts = split_pattern(clip.name)
        names.append(parts[0].rstrip("._-") if parts else "")
    else:
        names += [stem(clip.name), clip.name]
    return [n for n in dict.fromkeys(names) if n]


def keys_for(clip: Clip) -> list[tuple[str, str]]:
    """The (kind, key) pairs a catalog indexes this clip under (see :data:`KINDS`)."""
    out: list[tuple[str, str]] = []
    if clip.kind == "sequence":
        parts = split_pattern(clip.name)
        if parts:
            out.append(("seq", sequence_key(parts[0], parts[1])))
            base = parts[0].rstrip("._-")
            if base:
                out.append(("stem", key(base)))
        out.append(("name", key(clip.name)))
    else:
        out.append(("name", key(clip.name)))
        if stem(clip.name) != clip.name:
            out.append(("stem", key(stem(clip.name))))
        single = split_frame(clip.name)
        if single:  # one frame file on its own is a sequence of one frame
            out.append(("seq", sequence_key(single[0], single[1])))
    if clip.clip_name:
        out.append(("clip", key(clip.clip_name)))
    for reel in reel_names(clip):
        out.append(("reel", key(reel)))
        if len(reel) > REEL_LIMIT:
            out.append(("reel8", key(reel[:REEL_LIMIT])))
    if clip.scene and clip.take:
        out.append(("scene_take", scene_take_key(clip.scene, clip.take)))
    return list(dict.fromkeys(out))


class Catalog(Protocol):
    """Indexed lookups of known clips. Every method is one index probe (no scan); keys are
    compared after :func:`~.names.key` (trimmed, case-folded). Results include clips that have
    gone (``present=False``) so that an event can say where its media was."""

    def by_name(self, name: str) -> Sequence[Clip]:
        """Clips whose file name is ``name`` (``A004C010_20100610_R1JL.mov``)."""

    def by_stem(self, stem: str) -> Sequence[Clip]:
        """Clips whose name without its media extension is ``stem`` (a sequence: its base)."""

    def by_clip_name(self, name: str) -> Sequence[Clip]:
        """Clips whose metadata clip name is ``name``."""

    def by_reel(self, reel: str, near: Span | None = None) -> Sequence[Clip]:
        """Clips with this reel or tape name; when ``reel`` has exactly 8 characters (the
        CMX 3600 limit), also those whose longer reel or file name starts with it.

        ``near`` is the event's source span in timecode seconds: a catalog may leave out clips
        whose timecode is known and ends before it or starts after it (with a margin of a
        second), so that a reel of thousands of clips costs one query, not thousands of objects.
        Clips of unknown timecode are always returned."""

    def by_sequence(self, base: str, ext: str) -> Sequence[Clip]:
        """Image sequences with this base (``plate.``) and extension (``.dpx``), any frames."""

    def by_scene_take(self, scene: str, take: str, near: Span | None = None) -> Sequence[Clip]:
        """Sound (and other) clips recorded as this scene and take (``001`` equals ``1``);
        ``near`` as for :meth:`by_reel`."""


class MemoryCatalog:
    """A :class:`Catalog` in dictionaries, for tests, ``reelwatch check`` and benchmarks.
    It keeps exactly the index the state store keeps: (kind, key) -> clips."""

    def __init__(self, clips: Iterable[Clip] = ()) -> None:
        self._index: dict[str, dict[str, Any]] = {k: {} for k in KINDS}
        self._clips: dict[tuple[str, str], Clip] = {}
        for clip in clips:
            self.add(clip)

    def __len__(self) -> int:
        return len(self._clips)

    def add(self, clip: Clip) -> None:
        """Add a clip, replacing the one at the same volume and path."""
        ident = (clip.volume, clip.relpath)
        if ident in self._clips:
            self.remove(*ident)
        self._clips[ident] = clip
        for kind, k in keys_for(clip):
            table = self._index[kind]
            have = table.get(k)
            # one clip per key is the common case: store it bare, a list only on collisions
            if have is None:
                table[k] = clip
            elif isinstance(have, list):
                have.append(clip)
            else:
                table[k] = [have, clip]

    def remove(self, volume: str, relpath: str) -> None:
        clip = self._clips.pop((volume, relpath), None)
        if clip is None:
            return
        for kind, k in keys_for(clip):
            table = self._index[kind]
            have = table.get(k)
            if isinstance(have, list):
                have[:] = [c for c in have if (c.volume, c.relpath) != (volume, relpath)]
                if len(have) == 1:
                    table[k] = have[0]
                elif not have:
                    del table[k]
            elif have is not None:
                del table[k]

    def _get(self, kind: str, k: str) -> list[Clip]:
        have = self._index[kind].get(k)
        return [] if have is None else list(have) if isinstance(have, list) else [have]

    def by_name(self, name: str) -> list[Clip]:
        return self._get("name", key(name))

    def by_stem(self, stem: str) -> list[Clip]:
        return self._get("stem", key(stem))

    def by_clip_name(self, name: str) -> list[Clip]:
        return self._get("clip", key(name))

    def by_reel(self, reel: str, near: Span | None = None) -> list[Clip]:
        k = key(reel)  # near is not needed here: these clips are already objects in memory
        found = self._get("reel", k)
        if len(reel.strip()) == REEL_LIMIT:
            seen = {(c.volume, c.relpath) for c in found}
            found += [c for c in self._get("reel8", k) if (c.volume, c.relpath) not in seen]
        return found

    def by_sequence(self, base: str, ext: str) -> list[Clip]:
        return self._get("seq", sequence_key(base, ext))

    def by_scene_take(self, scene: str, take: str, near: Span | None = None) -> list[Clip]:
        return self._get("scene_take", scene_take_key(scene, take))
