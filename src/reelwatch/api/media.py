"""Typed, unit-carrying reading of :class:`~reelwatch.core.model.Facts`.

Facts keep MediaInfo's own field names and units (durations in milliseconds, rates as text such
as ``"23.976"``, bit depth missing for ProRes) so that MediaConch policies can address them. A
rule wants numbers with units instead: :func:`media` reads them once into a :class:`Media`,
with the same exact readers the shipped spec rules use (frame rates as a :class:`~fractions.Fraction`,
ProRes bit depth from its profile, timecode from the timecode track or a BWF time reference).

Every field is ``None`` when MediaInfo did not report it (a broken file, an image sequence has
no duration): a rule must treat unknown as unknown, never as a pass or a zero.

For an image sequence MediaInfo reads the first frame (and samples others, in ``Facts.image``):
``size``, ``bit_rate`` and ``picture`` are the first frame's. The whole run's size is
``Asset.size`` and its frames are ``Asset.sequence``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from ..core.model import Facts
from ..spec.fields import exact_rate, nominal_bit_depth, timecode_start

__all__ = ["Media", "Picture", "Sound", "media"]


def _number(value: Any) -> Fraction | None:
    """MediaInfo's number (int, float or text such as ``"25.000"`` or ``"500 ms"``), exactly."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        return Fraction(str(value).split()[0])
    except (ValueError, ZeroDivisionError, IndexError):
        return None


def _int(value: Any) -> int | None:
    number = _number(value)
    return int(number) if number is not None else None


def _seconds(track: Mapping[str, Any]) -> float | None:
    """MediaInfo stores durations in milliseconds; rules speak seconds."""
    ms = _number(track.get("duration"))
    return float(ms / 1000) if ms is not None else None


@dataclass(frozen=True, slots=True)
class Picture:
    """The first video (or image) track of an asset, with units."""

    codec: str
    """MediaInfo's format name: ``ProRes``, ``AVC``, ``DPX``, ``OpenEXR`` ... ('' when unknown)."""
    profile: str
    """The codec profile as MediaInfo names it: ``422 HQ``, ``High@L4`` ... ('' when none)."""
    width: int | None
    """Width in pixels."""
    height: int | None
    """Height in pixels."""
    frame_rate: Fraction | None
    """Exact frames per second: 23.976 is ``Fraction(24000, 1001)``; compare rates as fractions."""
    frame_rate_text: str
    """The frame rate as the file stores it (``24000/1001``, ``23.976``), for messages."""
    bit_depth: int | None
    """Bits per sample; for ProRes, which stores none, the nominal depth of its profile (10 or 12)."""
    bit_depth_note: str
    """Why :attr:`bit_depth` is nominal (``nominal for ProRes 422 HQ``), '' when the file stores it."""
    scan: str
    """``Progressive``, ``Interlaced`` or ``MBAFF`` as MediaInfo says ('' when unknown)."""
    frame_count: int | None
    """Number of frames in the track."""
    duration: float | None
    """Length of the track in seconds."""


@dataclass(frozen=True, slots=True)
class Sound:
    """One audio track, with units."""

    codec: str
    """MediaInfo's format name: ``PCM``, ``AAC`` ... ('' when unknown)."""
    sample_rate: int | None
    """Samples per second, in Hz (``48000`` for 48 kHz)."""
    bit_depth: int | None
    """Bits per sample (``24``)."""
    channels: int | None
    """Number of channels in this track."""
    duration: float | None
    """Length of the track in seconds."""


@dataclass(frozen=True, slots=True)
class Media:
    """What a rule usually wants to know about an asset, in plain units; built by :func:`media`."""

    kind: str
    """The :attr:`Facts.kind <reelwatch.core.model.Facts.kind>`: ``media``, ``image_sequence``,
    ``empty``, ``unreadable``, ``missing`` or ``sidecar``."""
    container: str
    """MediaInfo's container format: ``QuickTime``, ``MPEG-4``, ``MXF``, ``Wave`` ... ('' when unknown)."""
    duration: float | None
    """Length in seconds (MediaInfo's ``duration`` is in milliseconds; this is not)."""
    size: int | None
    """File size in bytes as MediaInfo read it (for an image sequence: its first frame's; the run's
    total is ``Asset.size``)."""
    bit_rate: int | None
    """Overall bit rate in bits per second."""
    picture: Picture | None
    """The first video or image track (an image sequence: its first frame), or None for sound-only
    files and unreadable ones."""
    sound: tuple[Sound, ...]
    """Every audio track, in file order."""
    timecode: str | None
    """Start timecode ``HH:MM:SS:FF`` (``;`` before frames when drop-frame), from the timecode track,
    the picture track, or a Broadcast WAV time reference; None when the file has none."""
    timecode_source: str
    """Where :attr:`timecode` came from (``QuickTime TC track``, ``bext time reference``), for messages."""
    truncated: bool
    """MediaInfo found the file shorter than its header says (``IsTruncated``): cut off in a copy."""

    @property
    def frame_rate(self) -> Fraction | None:
        """Exact frames per second of the picture (a :class:`~fractions.Fraction`), None without one."""
        return self.picture.frame_rate if self.picture else None

    @property
    def bit_depth(self) -> int | None:
        """Bits per sample of the picture (nominal for ProRes), None without one."""
        return self.picture.bit_depth if self.picture else None

    @property
    def width(self) -> int | None:
        """Picture width in pixels."""
        return self.picture.width if self.picture else None

    @property
    def height(self) -> int | None:
        """Picture height in pixels."""
        return self.picture.height if self.picture else None


def _picture(track: Mapping[str, Any]) -> Picture:
    rate, rate_text = exact_rate(track)
    bits, note = nominal_bit_depth(track)
    return Picture(codec=str(track.get("format") or ""), profile=str(track.get("format_profile") or ""),
                   width=_int(track.get("width")), height=_int(track.get("height")), frame_rate=rate,
                   frame_rate_text=rate_text, bit_depth=bits, bit_depth_note=note,
                   scan=str(track.get("scan_type") or ""), frame_count=_int(track.get("frame_count")),
                   duration=_seconds(track))


def _sound(track: Mapping[str, Any]) -> Sound:
    return Sound(codec=str(track.get("format") or ""), sample_rate=_int(track.get("sampling_rate")),
                 bit_depth=_int(track.get("bit_depth")), channels=_int(track.get("channel_s")),
                 duration=_seconds(track))


def media(facts: Facts, rate: Fraction | None = None) -> Media:
    """Read ``facts`` into a :class:`Media`: frame rate as a Fraction, durations in seconds, sizes in
    bytes, sample rates in Hz, bit depth in bits, start timecode as text.

    ``rate`` is the production's frame rate, used only to turn a sound file's Broadcast WAV time
    reference (a sample count) into timecode; a picture's own rate is used when it has one.

    >>> m = media(facts)
    >>> m.frame_rate == Fraction(24000, 1001), m.duration, [s.sample_rate for s in m.sound]
    (True, 4.004, [48000])
    """
    general = facts.general
    picture = _picture(facts.picture) if facts.picture else None
    timecode, source = timecode_start(facts, (picture.frame_rate if picture else None) or rate)
    return Media(kind=facts.kind, container=str(general.get("format") or ""), duration=_seconds(general),
                 size=_int(general.get("file_size")), bit_rate=_int(general.get("overall_bit_rate")),
                 picture=picture, sound=tuple(_sound(t) for t in facts.audio), timecode=timecode,
                 timecode_source=source, truncated=str(general.get("istruncated", "")).lower() == "yes")
