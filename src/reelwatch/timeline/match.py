"""Matching events to clips the way an assistant editor relinks: by name first, then by
reel and source timecode, then sound by scene and take; ambiguous matches are listed.

The steps, in order (the first that finds exactly one clip wins):

1. the source file name (``* FROM CLIP``, a file URL, ``* SOURCE FILE``), compared by name
   whatever the path (a Windows path is compared by its last part);
2. an image sequence by its base and extension (frames checked later, by conform);
3. the source name without its extension (a proxy ``.mov`` relinks to the ``.mxf`` original);
4. the clip name, as written and without Avid's decorations (``ZZ100_501 (LAY3)``);
5. the reel or tape (exact, or the 8-character EDL cut of a longer name), decided by the
   clip whose timecode covers the event's source range;
6. sound by scene and take (bext/iXML), decided by timecode (the roll is a reel name: step 5).

Copies of one clip on several volumes (same name, same start timecode, or a copy whose
timecode could not be read) are one clip: the match lists every copy. Steps 1-4 are decisive
on a single clip even when its timecode does not cover the event (conform then reports the
range); steps 5-6 need timecode evidence, because a reel or a scene holds many clips. Where
several *different* clips remain after timecode, the event is ``ambiguous`` and every candidate
is listed; a later step may break the tie, but only among those candidates.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from .catalog import Catalog, Clip, keys_for, reel_names, sequence_key
from .names import (REEL_LIMIT, clip_names, key, path_name, scene_take_key, sound_name, split_frame,
                    split_pattern, stem)
from .timecode import nominal
from .values import Event, SeqRef, Timeline

NO_REEL = frozenset({"ax", "bl", "black", "bars", "aux", "blk"})
"""Reel names that are no source: Premiere's unknown ``AX``, black, bars, auxiliary."""


@dataclass(frozen=True, slots=True)
class Match:
    """How one event was matched."""

    event: Event
    status: str
    """``matched``, ``ambiguous`` or ``unmatched``."""
    method: str = ""
    """How, in plain words: ``file name``, ``reel and source timecode`` ..."""
    clips: tuple[Clip, ...] = ()
    """``matched``: every copy of the one clip; ``ambiguous``: every candidate copy."""
    note: str = ""
    """Why an event is ambiguous or unmatched, or a caveat on a match."""

    @property
    def clip(self) -> Clip | None:
        """The copy to judge by: the first one present on a volume, else the first."""
        return next((c for c in self.clips if c.present), self.clips[0] if self.clips else None)

    @property
    def candidates(self) -> list[list[Clip]]:
        """The clips behind the match, copies grouped (one group for a match)."""
        return _group(self.clips)


def _name_of(clip: Clip) -> str:
    if clip.kind == "sequence":
        parts = split_pattern(clip.name)
        return sequence_key(parts[0], parts[1]) if parts else key(clip.name)
    return key(clip.name)


def _start_of(clip: Clip) -> tuple[int, int] | None:
    """The start timecode as a reduced fraction of seconds (integers: this runs per candidate)."""
    if clip.start is None or not clip.rate:
        return None
    nom = nominal(clip.rate)
    g = math.gcd(clip.start, nom) or 1
    return clip.start // g, nom // g


def _group(clips: Iterable[Clip]) -> list[list[Clip]]:
    """Copies of one clip together: same name (or sequence base) and same start timecode.

    A copy whose timecode could not be read (a truncated copy often has none) joins the one
    clip of its name whose timecode is known; it is never left out of the match, so its
    problems count against the events. Only when several clips of that name have different
    timecode does it stay apart."""
    by_name: dict[str, dict[tuple[int, int] | None, list[Clip]]] = {}
    seen: set[tuple[str, str]] = set()
    for clip in clips:
        if (clip.volume, clip.relpath) in seen:
            continue
        seen.add((clip.volume, clip.relpath))
        by_name.setdefault(_name_of(clip), {}).setdefault(_start_of(clip), []).append(clip)
    groups: list[list[Clip]] = []
    for starts in by_name.values():
        unknown = starts.pop(None, [])
        if unknown and len(starts) == 1:
            (known,) = starts.values()
            known.extend(unknown)
            unknown = []
        groups.extend(starts.values())
        if unknown:
            groups.append(unknown)
    return groups


def fit(clip: Clip, event: Event) -> str:
    """Whether the clip holds the event's source range: ``inside``, ``overlap``, ``outside``
    or ``unknown`` (no timecode or frame range to compare).

    Timecode is compared by label (see :func:`~.timecode.label_seconds`), in integers: both
    ranges are scaled to a common denominator. Between different nominal rates one frame of
    the coarser rate is allowed either way."""
    seq = event.sequence
    if seq is not None and seq.first is not None and seq.last is not None and clip.frames:
        a, b = clip.frames
        lo, hi = seq.first, seq.last
        if a <= lo and hi <= b:
            return "inside"
        return "overlap" if lo <= b and a <= hi else "outside"
    if clip.start is None or clip.duration is None or not clip.rate:
        return "unknown"
    nc, ne = nominal(clip.rate), nominal(event.source_rate)
    slack = max(nc, ne) if nc != ne else 0
    a, b = clip.start * ne - slack, (clip.start + clip.duration) * ne + slack  # ends exclusive
    lo, hi = event.source_in * nc, event.source_out * nc
    if a <= lo and hi <= b:
        return "inside"
    return "overlap" if lo < b and a < hi else "outside"


def _reel_ok(group: list[Clip], reel: str) -> bool:
    k = key(reel)
    for clip in group:
        for name in reel_names(clip):
            nk = key(name)
            if nk == k or (len(reel) == REEL_LIMIT and nk[:REEL_LIMIT] == k):
                return True
    return False


def _usable(event: Event, clips: Sequence[Clip]) -> list[Clip]:
    # picture events never relink to sound-only files; sound events may use a camera file's sound
    return [c for c in clips if not (event.kind == "video" and c.kind == "sound")]


def _tc_note(event: Event, subject: str, extra: str = "") -> str:
    return f"no known clip {subject} covers source {event.source_tc()}{extra}"


def _decide(event: Event, found: list[Clip], method: str, decisive: bool, subject: str) -> Match | str | None:
    """A Match, or a note on why this step did not decide (None: nothing found)."""
    usable = _usable(event, found)
    if not decisive:
        return _by_timecode(event, usable, method, subject)
    if not usable:
        return None
    groups = _group(usable)
    if event.reel and key(event.reel) not in NO_REEL and len(groups) > 1:
        narrowed = [g for g in groups if _reel_ok(g, event.reel)]
        if narrowed and len(narrowed) < len(groups):
            groups, method = narrowed, f"{method} and reel"
    if len(groups) == 1:
        return Match(event, "matched", method, tuple(groups[0]))
    fits = [(g, fit(g[0], event)) for g in groups]
    for wanted in ("inside", "overlap"):
        chosen = [g for g, how in fits if how == wanted]
        if len(chosen) == 1:
            return Match(event, "matched", f"{method} and source timecode", tuple(chosen[0]))
        if len(chosen) > 1:
            return _ambiguous(event, chosen, method)
    return _ambiguous(event, groups, method)


def _by_timecode(event: Event, usable: list[Clip], method: str, subject: str) -> Match | str:
    """A reel or a scene holds many clips: only timecode that covers the event decides, or one
    clip overlapping it (conform then reports the frames it lacks). Clips are judged one by
    one before grouping (a reel can hold thousands); a copy with unknown timecode still joins
    the clip of its name."""
    how = {(c.volume, c.relpath): fit(c, event) for c in usable}
    fitting = [c for c in usable if how[(c.volume, c.relpath)] in ("inside", "overlap")]
    if not fitting:
        unknown = [c.name for c in usable if how[(c.volume, c.relpath)] == "unknown"]
        extra = f" ({', '.join(sorted(set(unknown))[:3])}: timecode unknown)" if unknown else ""
        return _tc_note(event, subject, extra)
    wanted = {_name_of(c) for c in fitting}
    groups = _group(fitting + [c for c in usable if c.start is None and _name_of(c) in wanted])
    for kind in ("inside", "overlap"):
        chosen = [g for g in groups if how[(g[0].volume, g[0].relpath)] == kind]
        if len(chosen) == 1:
            suffix = "" if kind == "inside" else " (partly covered)"
            return Match(event, "matched", f"{method} and source timecode{suffix}", tuple(chosen[0]))
        if len(chosen) > 1 and kind == "inside":
            return _ambiguous(event, chosen, f"{method} and source timecode")
    return _tc_note(event, subject, " in full (several cover parts of it)")


def _ambiguous(event: Event, groups: list[list[Clip]], method: str) -> Match:
    shown = ", ".join(f"{g[0].where} ({g[0].tc_range()})" for g in groups[:6])
    more = f" and {len(groups) - 6} more" if len(groups) > 6 else ""
    return Match(event, "ambiguous", method, tuple(c for g in groups for c in g),
                 f"one of {len(groups)} different clips (found by {method}): {shown}{more}")


Step = tuple[str, bool, Callable[[], list[Clip]], str]
"""(method, decisive, lookup, what was looked up in words)."""


def _steps(event: Event, catalog: Catalog) -> Iterable[Step]:
    name = path_name(event.source_path) if event.source_path else ""
    if name:
        yield "file name", True, lambda: list(catalog.by_name(name)), ""
    seqs = [event.sequence] if event.sequence else []
    for variant in clip_names(event.clip_name) if event.clip_name else ():
        frame = split_frame(variant)
        if frame:
            seqs.append(SeqRef(frame[0], frame[1]))
    for seq in seqs:
        yield "image sequence", True, lambda seq=seq: list(catalog.by_sequence(seq.base, seq.ext)), ""
    if name:
        yield "file name without extension", True, lambda: list(catalog.by_stem(stem(name))), ""
    for v in clip_names(event.clip_name) if event.clip_name else ():
        yield "clip name", True, lambda v=v: [*catalog.by_name(v), *catalog.by_stem(v), *catalog.by_clip_name(v)], ""
    near = event.source_span()  # lets a catalog leave out, in its own query, clips far from the event
    if event.reel and key(event.reel) not in NO_REEL:
        yield "reel", False, lambda: list(catalog.by_reel(event.reel, near)), f"on reel {event.reel!r}"
    scene, take = event.scene, event.take
    if not (scene and take) and event.kind == "audio" and event.clip_name:
        scene, take = sound_name(event.clip_name) or ("", "")
    if scene and take:
        yield ("scene and take", False, lambda: list(catalog.by_scene_take(scene, take, near)),
               f"of scene {scene} take {take}")


def match_event(event: Event, catalog: Catalog) -> Match:
    """Match one event (a handful of index lookups, whatever the catalog's size)."""
    notes: list[str] = []
    tied: Match | None = None
    for method, decisive, lookup, subject in _steps(event, catalog):
        outcome = _decide(event, lookup(), method, decisive, subject)
        if isinstance(outcome, Match):
            if outcome.status == "matched" and tied is None:
                return outcome
            if outcome.status == "matched" and tied is not None:
                # a later step may break a tie, but only between the clips already in it
                if {(c.volume, c.relpath) for c in outcome.clips} <= {(c.volume, c.relpath) for c in tied.clips}:
                    return Match(event, "matched", f"{tied.method}, then {outcome.method}", outcome.clips)
                continue
            tied = tied or outcome
        elif outcome:
            notes.append(outcome)
    if tied is not None:
        return tied
    looked = _looked_for(event)
    if looked:
        notes.insert(0, f"nothing is known by {looked}")
    if not notes:
        notes.append("the cut list names no source (no file, clip or reel name)")
    return Match(event, "unmatched", "", (), "; ".join(notes))


def _looked_for(event: Event) -> str:
    """The names the event was looked up by (reels and takes speak for themselves, by timecode)."""
    parts = []
    if event.source_path:
        parts.append(f"file name {path_name(event.source_path)!r}")
    if event.clip_name:
        parts.append(f"clip name {event.clip_name!r}")
    return " or ".join(parts)


def match_timeline(timeline: Timeline, catalog: Catalog) -> tuple[Match, ...]:
    """Match every event of a timeline, in event order."""
    return tuple(match_event(e, catalog) for e in timeline.events)


def wanted_keys(event: Event) -> list[tuple[str, str]]:
    """The catalog keys (see :data:`~.catalog.KINDS`) of clips that could match this event.

    The state store keeps them for events that are unmatched or ambiguous; a new clip whose
    :func:`~.catalog.keys_for` shares a key with an event is a reason to match it again."""
    out: list[tuple[str, str]] = []
    name = path_name(event.source_path) if event.source_path else ""
    if name:
        out += [("name", key(name)), ("stem", key(stem(name)))]
    if event.sequence:
        out.append(("seq", sequence_key(event.sequence.base, event.sequence.ext)))
    for variant in clip_names(event.clip_name) if event.clip_name else ():
        out += [("name", key(variant)), ("stem", key(variant)), ("clip", key(variant))]
        frame = split_frame(variant)
        if frame:
            out.append(("seq", sequence_key(frame[0], frame[1])))
    if event.reel and key(event.reel) not in NO_REEL:
        out.append(("reel", key(event.reel)))
        if len(event.reel.strip()) == REEL_LIMIT:
            out.append(("reel8", key(event.reel)))
    scene, take = event.scene, event.take
    if not (scene and take) and event.kind == "audio" and event.clip_name:
        scene, take = sound_name(event.clip_name) or ("", "")
    if scene and take:
        out.append(("scene_take", scene_take_key(scene, take)))
    return list(dict.fromkeys(out))


def relevant(clip: Clip, event: Event) -> bool:
    """Whether a new clip shares a lookup key with an event (so the event is matched again)."""
    return bool(set(keys_for(clip)) & set(wanted_keys(event)))
