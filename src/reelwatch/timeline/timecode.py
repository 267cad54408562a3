"""Exact frame rates and SMPTE timecode, without OpenTimelineIO's floats.

OpenTimelineIO keeps rates as floats (``23.976023976023978``, ``29.97``); every rate that
leaves this package is an exact :class:`~fractions.Fraction` (``24000/1001``). Timecode is
counted in frames at the rate's nominal frame count (24 for 23.976, 30 for 29.97), and
drop-frame timecode (``;``) is supported for the 29.97 and 59.94 families.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction

from reelwatch.core.model import format_rate, parse_rate

__all__ = ["exact_rate", "format_rate", "frames_to_tc", "label_seconds", "nominal", "tc_to_frames", "TIMECODE"]

TIMECODE = re.compile(r"^(\d{1,2})[:;.](\d\d)[:;.](\d\d)([:;.,])(\d\d)$")


def exact_rate(value: float | int | str | Fraction | None) -> Fraction | None:
    """The exact rate behind an OpenTimelineIO float or a written rate: 23.976... and 23.976
    become 24000/1001, 29.97 becomes 30000/1001, 25.0 becomes 25. None or <= 0 gives None."""
    if value is None:
        return None
    if isinstance(value, float):
        if not math.isfinite(value) or value <= 0:
            return None
        value = repr(value)
    rate = parse_rate(value)
    return rate if rate is not None and rate > 0 else None


def nominal(rate: Fraction) -> int:
    """Frames per timecode second: 24 for 24000/1001, 30 for 30000/1001, 25 for 25."""
    return max(1, -(-rate.numerator // rate.denominator))  # integer ceiling: called per candidate clip


def _drop_frames(rate: Fraction) -> int:
    """Frame numbers dropped each minute in drop-frame timecode (0 where none is defined)."""
    if rate.denominator == 1001 and rate.numerator % 30000 == 0:
        return 2 * (rate.numerator // 30000)
    return 0


def tc_to_frames(tc: str, rate: Fraction, drop: bool | None = None) -> int:
    """Frame count of a timecode at ``rate``. ``;`` before the frames means drop-frame (for
    29.97 and 59.94) unless ``drop`` says otherwise. Raises ValueError for a malformed
    timecode or a frame number the rate does not have (``01:00:01:24`` at 24)."""
    m = TIMECODE.match(tc.strip())
    if not m:
        raise ValueError(f"{tc!r} is not a timecode (HH:MM:SS:FF)")
    hh, mm, ss, sep, ff = int(m[1]), int(m[2]), int(m[3]), m[4], int(m[5])
    fps = nominal(rate)
    if mm > 59 or ss > 59:
        raise ValueError(f"{tc!r} is not a timecode: minutes and seconds run 00-59")
    if ff >= fps:
        raise ValueError(f"timecode {tc} has frame {ff:02d}, which a {format_rate(rate)} fps timecode does not have "
                         f"(its frames run 00-{fps - 1:02d})")
    total = (hh * 3600 + mm * 60 + ss) * fps + ff
    dropped = _drop_frames(rate)
    if dropped and (drop if drop is not None else sep in ";,"):
        minutes = hh * 60 + mm
        total -= dropped * (minutes - minutes // 10)
    return total


def frames_to_tc(frames: int, rate: Fraction, drop: bool = False) -> str:
    """Timecode of a frame count at ``rate`` (drop-frame with ``;`` where the rate has it).
    Negative counts and counts past 24 hours wrap around the clock, as decks do."""
    fps = nominal(rate)
    dropped = _drop_frames(rate) if drop else 0
    day = 24 * 3600 * fps
    if dropped:
        per_10min = 10 * 60 * fps - 9 * dropped
        day = 144 * per_10min
        frames %= day
        tens, rest = divmod(frames, per_10min)
        extra = 0 if rest < dropped else dropped * ((rest - dropped) // (60 * fps - dropped))
        frames += 9 * dropped * tens + extra
        frames = frames % (24 * 3600 * fps)
    else:
        frames %= day
    s, ff = divmod(frames, fps)
    m, ss = divmod(s, 60)
    hh, mm = divmod(m, 60)
    sep = ";" if dropped else ":"
    return f"{hh:02d}:{mm:02d}:{ss:02d}{sep}{ff:02d}"


def label_seconds(frames: int, rate: Fraction) -> Fraction:
    """Where a frame count sits on the timecode clock, in timecode seconds: 86400 frames is
    01:00:00:00 both at 24 and at 24000/1001. Source timecode of clips at different rates
    is compared this way, as decks and NLEs compare it (by label, not by wall-clock time)."""
    return Fraction(frames, nominal(rate))
