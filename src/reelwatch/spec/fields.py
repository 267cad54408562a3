"""Reading technical facts the way spec profiles and MediaConch policies need them.

Facts keep pymediainfo's ``to_data()`` keys (``format``, ``framerate_num``, ``channel_s``,
``color_primaries`` ...). MediaConch policies name fields as MediaInfo's XML prints them
(``Format``, ``FrameRate_Num``, ``Channels``, ``colour_primaries`` ...), with durations in
seconds where pymediainfo gives milliseconds. :func:`mediainfo_value` bridges the two; the
mapping was checked field by field against ``MediaInfo --Output=XML`` on the real-world
corpus (MOV, MP4, MKV, MXF, WAV, DPX, EXR) with libmediainfo 24.12. The ``spec.*`` rule
defaults are :mod:`reelwatch.spec.rules` (``FAMILIES`` and ``Family`` are re-exported here).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from fractions import Fraction
from typing import Any

from ..core.model import Asset, Facts, parse_rate
from .rules import FAMILIES, Family

__all__ = ["COMPLETE_ONLY", "FAMILIES", "Family", "Sample", "UnsupportedField", "codec_names", "codec_text",
           "exact_rate", "lower", "mediainfo_value", "nominal_bit_depth", "or_list", "pictures", "profile_names",
           "timecode_start", "to_int", "track_index", "where"]


class UnsupportedField(Exception):
    """A MediaInfo field that reelwatch's facts cannot provide; the message says why."""


def _norm(key: str) -> str:
    return key.replace("_", "").lower()


def exact_rate(track: Mapping[str, Any] | None) -> tuple[Fraction | None, str]:
    """The exact frame rate of a track and how it was stored (``24000/1001``, ``23.976``).

    ``framerate_num``/``framerate_den`` win when present. A stored ratio within 0.0006 of
    an NTSC rate (QuickTime's 23976/1000) is taken as that NTSC rate, like
    :func:`reelwatch.core.model.parse_rate` does for decimals; 23.98 stays 23.98.
    """
    if not track:
        return None, ""
    num = track.get("framerate_num", track.get("frame_rate_num"))
    den = track.get("framerate_den", track.get("frame_rate_den"))
    try:
        if num not in (None, "") and den not in (None, "") and float(den) != 0:
            stored = Fraction(str(num)) / Fraction(str(den))
            rate = stored
            if rate.denominator != 1 and rate.denominator != 1001:
                rate = parse_rate(f"{float(rate):.6f}") or rate
            return rate, f"{num}/{den}"
        text = track.get("frame_rate")
        if text in (None, ""):
            return None, ""
        return parse_rate(str(text).split()[0]), str(text)
    except (ValueError, ZeroDivisionError, TypeError):
        return None, str(track.get("frame_rate", ""))


# ProRes carries no bit depth in MOV; Apple's white paper gives the nominal depth per profile.
_PRORES_BITS = {"422 proxy": 10, "422 lt": 10, "422": 10, "422 hq": 10, "4444": 12, "4444 xq": 12}


def nominal_bit_depth(track: Mapping[str, Any]) -> tuple[int | None, str]:
    """Bit depth of a picture track, derived from the ProRes profile when MediaInfo has none."""
    bits = track.get("bit_depth")
    try:
        if bits not in (None, ""):
            return int(str(bits).split()[0]), ""
    except ValueError:
        pass
    if str(track.get("format", "")).lower() == "prores":
        profile = str(track.get("format_profile", "")).lower()
        if profile in _PRORES_BITS:
            return _PRORES_BITS[profile], f"nominal for ProRes {track.get('format_profile')}"
    return None, ""


def codec_names(track: Mapping[str, Any]) -> set[str]:
    """Lower-case names a codec answers to: format, commercial name and its family."""
    names = {str(track.get(k, "")).strip().lower() for k in ("format", "commercial_name")}
    commercial = str(track.get("commercial_name", "")).strip()
    if " " in commercial:
        names.add(commercial.split()[0].lower())  # "DNxHR HQX" -> "dnxhr"
    return names - {""}


def profile_names(track: Mapping[str, Any]) -> set[str]:
    """Lower-case names a codec profile answers to: ``422 HQ``, ``RI@HQX``, ``HQX``, ``DNxHR HQX``."""
    names: set[str] = set()
    profile = str(track.get("format_profile", "")).strip()
    if profile:
        names.add(profile)
        names.update(p for p in profile.split("@") if p)
    commercial = str(track.get("commercial_name", "")).strip()
    if commercial and commercial != str(track.get("format", "")):
        names.add(commercial)
        if " " in commercial:
            names.add(commercial.split(None, 1)[1])
    return {n.lower() for n in names}


_TC_FORMATS = {"quicktime tc", "mxf tc", "smpte tc"}


def timecode_start(facts: Facts, rate: Fraction | None = None) -> tuple[str | None, str]:
    """Start timecode of a clip and where it came from (``(None, "")`` when there is none).

    Looks at Other tracks of type "Time code" (QuickTime TC, MXF TC, SMPTE TC), then any
    track with ``time_code_of_first_frame``. A Broadcast WAV has no timecode track: its bext
    time reference (MediaInfo's audio ``delay``, in ms) is converted at ``rate``. A timecode
    track whose start MediaInfo did not read gives ``(None, "<format> track")``.
    """
    unread = ""
    for track in facts.other:
        kind = str(track.get("type", "")).lower()
        if kind == "time code" or str(track.get("format", "")).lower() in _TC_FORMATS:
            source = f"{track.get('format') or 'timecode'} track"
            if track.get("time_code_of_first_frame"):
                return str(track["time_code_of_first_frame"]), source
            unread = unread or source
    for group in (facts.video, facts.image, (facts.general,)):
        for track in group:
            if track.get("time_code_of_first_frame"):
                return str(track["time_code_of_first_frame"]), "picture track"
    if not facts.picture and rate:
        for track in facts.audio:
            if "bext" in str(track.get("delay__origin", "")).lower():
                try:
                    seconds = Fraction(str(track.get("delay"))) / 1000
                except (ValueError, ZeroDivisionError):
                    continue
                return frames_to_timecode(round(seconds * rate), rate), "bext time reference"
    return None, unread


def frames_to_timecode(frames: int, rate: Fraction) -> str:
    """Non-drop-frame timecode of a frame count at ``rate`` (23.976 counts in 24s)."""
    fps = -(-rate.numerator // rate.denominator)
    s, ff = divmod(frames, fps)
    m, ss = divmod(s, 60)
    hh, mm = divmod(m, 60)
    return f"{hh % 24:02d}:{mm:02d}:{ss:02d}:{ff:02d}"


# -- wording and sampling helpers for the checks ---------------------------------------------

Sample = tuple[str, Mapping[str, Any]]


def pictures(asset: Asset, facts: Facts) -> list[Sample]:
    """Picture tracks with a label: ``frame 1005`` for sampled sequence frames, ``video track 2``."""
    if facts.kind == "image_sequence" and asset.sequence is not None:
        frames = asset.sequence.frames
        out = []
        for t in facts.image:
            idx = t.get("frame_index")
            out.append((f"frame {frames[idx]}" if isinstance(idx, int) and 0 <= idx < len(frames) else "", t))
        return out
    tracks = facts.video or facts.image
    kind = "video" if facts.video else "image"
    return [("" if len(tracks) == 1 else f"{kind} track {i + 1}", t) for i, t in enumerate(tracks)]


def or_list(items: Any) -> str:
    """``a``, ``a or b``, ``a, b or c``."""
    items = [str(i) for i in items]
    return ", ".join(items[:-1]) + " or " + items[-1] if len(items) > 1 else "".join(items)


def where(bad: dict[str, list[str]]) -> str:
    """``25 fps``, or ``128x72 in frame 1004, frame 1006`` when the samples are labelled."""
    parts = []
    for value, labels in bad.items():
        named = [x for x in labels if x]
        more = f" and {len(named) - 4} more" if len(named) > 4 else ""
        parts.append(f"{value} in {', '.join(named[:4])}{more}" if named else value)
    return "; ".join(parts)


def lower(items: Any) -> set[str]:
    return {str(i).strip().lower() for i in items}


def to_int(value: Any) -> int | None:
    try:
        return int(float(str(value).split()[0]))
    except (ValueError, IndexError):
        return None


def codec_text(t: Mapping[str, Any]) -> str:
    fmt, commercial = str(t.get("format", "unknown")), str(t.get("commercial_name", ""))
    if commercial and commercial != fmt:
        return commercial
    return f"{fmt} {t.get('format_profile', '')}".strip()


# -- MediaInfo XML field names -> pymediainfo keys ----------------------------------------------

_ALIASES = {
    "videocount": "count_of_video_streams", "audiocount": "count_of_audio_streams",
    "textcount": "count_of_text_streams", "imagecount": "count_of_image_streams",
    "menucount": "count_of_menu_streams", "streamcount": "count_of_stream_of_this_kind",
    "id": "track_id", "samplingcount": "samples_count", "streamsizeproportion": "proportion_of_this_stream",
    "delaysource": "delay__origin", "formatcommercial": "commercial_name",
    "encodedlibrary": "writing_library", "encodedapplication": "writing_application",
    "encodedlibrarysettings": "encoding_settings", "formatsettingswrapping": "format_settings__wrapping_mode",
    "formatsettingsrefframes": "format_settings__reference_frames",
    "formatextensions": "format_extensions_usually_used", "formatcompression": "compression",
    "timecodefirstframe": "time_code_of_first_frame", "timecodelastframe": "time_code_of_last_frame",
    "colourprimaries": "color_primaries", "colourrange": "color_range", "bitratemaximum": "maximum_bit_rate",
    "track": "track_name", "elementcount": "count_of_elements", "widthoriginal": "original_width",
    "heightoriginal": "original_height", "widthcleanaperture": "clean_aperture_width",
    "heightcleanaperture": "clean_aperture_height", "streamkind": "track_type", "streamkindid": "stream_identifier",
    "videodelay": "delay_relative_to_video", "audiocodeclist": "audio_codecs", "videocodeclist": "codecs_video",
    "imagecodeclist": "codecs_image", "textcodeclist": "text_codecs",
}
_MS_FIELDS = {"duration", "delay", "sourceduration", "durationfirstframe", "durationlastframe",
              "videodelay", "sourcedelay", "sourcedurationfirstframe", "sourcedurationlastframe"}
_DROPPED = {"filemodifieddate", "filemodifieddatelocal", "filecreateddate", "filecreateddatelocal",
            "completename", "foldername", "filename", "filenameextension"}
"""Not kept in facts (they describe the copy, not the content): ``mediaconch.file_fields``
supplies name, folder and modification date from the file; creation dates depend on the OS."""
COMPLETE_ONLY = {"formatcommercial", "streamcount", "streamkind", "streamkindid", "streamkindpos", "count",
                 "streamsizeproportion", "formatinfo", "formaturl", "codecidurl", "codecidinfo", "codecidhint",
                 "bitspixelframe", "timecodedropframe", "audiochannelstotal", "formatextensions"}
"""Fields MediaInfo prints only in its complete report, which MediaConch requests only for
policies that name a ``_String``, ``TimeCode`` or ``_Total`` field."""
_LIST_SUFFIXES = ("codeclist", "formatlist", "formatwithhintlist", "languagelist")
_STRING_N = re.compile(r"^(?P<base>.+)_String(?P<n>\d*)$")


def track_index(track: Mapping[str, Any]) -> dict[str, str]:
    """Normalised key (no underscores, lower case) -> the track's own key."""
    index: dict[str, str] = {}
    for key in track:
        if not key.startswith("other_"):
            index.setdefault(_norm(key), key)
    return index


def _seconds(value: Any) -> str | None:
    """Milliseconds as pymediainfo stores them -> seconds as MediaInfo's XML prints them."""
    text = str(value).strip()
    try:
        ms = Fraction(text)
    except ValueError:
        return None
    decimals = len(text.partition(".")[2]) + 3 if "." in text else 3
    return f"{float(ms / 1000):.{decimals}f}"


def _clock(value: Any) -> str | None:
    """Milliseconds -> ``HH:MM:SS.mmm`` (MediaInfo's ``_String3``)."""
    try:
        ms = round(Fraction(str(value).strip()))
    except ValueError:
        return None
    sign, ms = ("-" if ms < 0 else ""), abs(ms)
    s, milli = divmod(ms, 1000)
    m, ss = divmod(s, 60)
    hh, mm = divmod(m, 60)
    return f"{sign}{hh:02d}:{mm:02d}:{ss:02d}.{milli:03d}"


def mediainfo_value(track: Mapping[str, Any], field: str, index: Mapping[str, str] | None = None,
                    complete: bool = True) -> str | None:
    """The value MediaInfo's XML would print for ``field`` in this track, or None if absent.

    Raises :class:`UnsupportedField` for fields the facts cannot provide (nested MediaTrace
    paths, display strings other than ``_String3`` durations, file dates).
    """
    index = track_index(track) if index is None else index
    name = re.sub(r"^extra(\[\d+\])?/", "", field.strip())  # pymediainfo flattens <extra>
    if "/" in name or not name:
        raise UnsupportedField(f"field path {field!r} is not a MediaInfo field reelwatch reads")
    norm = _norm(name)
    if norm in _DROPPED or (norm.startswith("other") and norm.endswith(_LIST_SUFFIXES)):
        raise UnsupportedField(f"field {field!r} is not kept in reelwatch's facts")
    if not complete and (norm in COMPLETE_ONLY or norm.endswith(_LIST_SUFFIXES)):
        return None
    string = _STRING_N.match(name)
    if string:
        base = _norm(string["base"])
        if string["n"] == "3" and base in _MS_FIELDS:
            raw = _lookup(track, index, base)
            return None if raw is None else _clock(raw)
        raise UnsupportedField(f"display field {field!r} is not kept in reelwatch's facts (only values and "
                               "*_String3 durations are)")
    if norm in ("formatprofile", "formatlevel", "formattier"):
        raw = _lookup(track, index, "formatprofile")
        if raw is None:
            return None
        parts = str(raw).split("@")
        pos = ("formatprofile", "formatlevel", "formattier").index(norm)
        if pos >= len(parts):
            return None
        part = parts[pos]
        return part[1:] if pos == 1 and re.fullmatch(r"L\d.*", part) else part
    raw = _lookup(track, index, norm)
    if raw is None:
        if norm == "formatcommercialifany":
            commercial = _lookup(track, index, "commercialname")
            fmt = _lookup(track, index, "format")
            return str(commercial).removeprefix(f"{fmt} ") if commercial not in (None, fmt) else None
        return None
    if norm in _MS_FIELDS:
        return _seconds(raw)
    if norm == "formatversion":
        return str(raw).removeprefix("Version ")
    if isinstance(raw, list | tuple):
        return " / ".join(map(str, raw))
    return str(raw)


def _lookup(track: Mapping[str, Any], index: Mapping[str, str], norm: str) -> Any:
    key = _ALIASES.get(norm)
    if key is not None and key in track:
        return track[key]
    key = index.get(norm)
    if key is None:
        return None
    value = track[key]
    return None if value in (None, "") else value
