"""Preparing FCPXML for OpenTimelineIO's FCPXML reader, which loses what editors rely on.

Measured with otio-fcpx-xml-adapter 1.0 on an FCPXML 1.9 export at 23.976:

- it takes a format's rate as ``int(24000 / 1001)`` = 23, so source ranges and durations come
  out in frames of 23 fps (an event of 96 frames reads as 92);
- it reads a media path only from ``<asset src=...>``; FCPXML 1.9 and later put it in
  ``<media-rep kind="original-media" src=...>``, so every clip is offline;
- it ignores the asset's own metadata (reel, scene, take).

When every picture format of the file is an NTSC rate, every time value is scaled by
1000/1001 (``1001/24000s`` frames become ``1/24s``), so that the reader counts whole frames at
24 and the frames are relabelled 24000/1001 afterwards: exact, not rounded. A file that
mixes NTSC and whole rates is read as it is, with a note. ``media-rep`` paths are copied to
the asset's ``src``, and the reel, scene and take are returned by media path.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from fractions import Fraction

from .timecode import nominal

TIME_ATTRS = ("offset", "start", "duration", "tcStart")
_TIME = re.compile(r"^(-?\d+)(?:/(\d+))?s$")
_MD = {"com.apple.proapps.studio.reel": "reel", "com.apple.proapps.studio.scene": "scene",
       "com.apple.proapps.studio.shot": "take", "com.apple.proapps.studio.take": "take"}


def _time(text: str | None) -> Fraction | None:
    m = _TIME.match(text or "")
    return Fraction(int(m[1]), int(m[2] or 1)) if m else None


def _text(value: Fraction) -> str:
    return f"{value.numerator}s" if value.denominator == 1 else f"{value.numerator}/{value.denominator}s"


def prepare(data: bytes) -> tuple[str, dict[Fraction, Fraction], dict[str, dict[str, str]], str]:  # noqa: C901 -- one pass over the XML, a case per element kind
    """(XML for the reader, reader rate -> exact rate, media path -> {reel, scene, take}, note)."""
    root = ET.fromstring(data)
    rates = set()
    for fmt in root.iter("format"):
        fd = _time(fmt.get("frameDuration"))
        if fd:
            rates.add(1 / fd)
    extra: dict[str, dict[str, str]] = {}
    by_id: dict[str, str] = {}
    for asset in root.iter("asset"):
        if not asset.get("src"):
            reps = list(asset.iter("media-rep"))
            rep = next((r for r in reps if r.get("kind", "original-media") == "original-media"),
                       reps[0] if reps else None)
            if rep is not None and rep.get("src"):
                asset.set("src", rep.get("src", ""))
        src = asset.get("src") or ""
        if asset.get("id"):
            by_id[asset.get("id", "")] = src
        found = {_MD[m.get("key", "")]: (m.get("value") or "").strip() for m in asset.iter("md") if m.get("key") in _MD}
        if src and any(found.values()):
            extra[src] = found
    for clip in root.iter("asset-clip"):  # metadata set on the clip in the project wins
        src = by_id.get(clip.get("ref", ""), "")
        found = {_MD[m.get("key", "")]: (m.get("value") or "").strip() for m in clip.iter("md") if m.get("key") in _MD}
        if src and any(found.values()):
            extra[src] = {**extra.get(src, {}), **{k: v for k, v in found.items() if v}}
    relabel: dict[Fraction, Fraction] = {}
    note = ""
    ntsc = {r for r in rates if r.denominator == 1001}
    if ntsc and ntsc == rates:
        scale = Fraction(1000, 1001)
        for el in root.iter():
            for attr in TIME_ATTRS:
                t = _time(el.get(attr))
                if t is not None:
                    el.set(attr, _text(t * scale))
            fd = _time(el.get("frameDuration")) if el.tag == "format" else None
            if fd is not None:
                el.set("frameDuration", _text(fd * scale))
        relabel = {Fraction(nominal(r)): r for r in ntsc}
    elif ntsc:
        note = ("the file mixes NTSC rates (" + ", ".join(sorted(f"{float(r):.3f}" for r in ntsc)) + ") with whole "
                "rates; the FCPXML reader rounds NTSC rates down, so its times may be off by a frame")
    return ET.tostring(root, encoding="unicode"), relabel, extra, note
