"""Exact frame rates: 23.976 is 24000/1001, and rates are compared as fractions, never as decimals.

MediaInfo prints rates as decimals (``"23.976"``) and people write them in configs; both are read
here into :class:`~fractions.Fraction` so that a 23.976 clip never equals 23.98 or 24.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

__all__ = ["config_rate", "format_rate", "parse_rate"]


def parse_rate(value: Any) -> Fraction | None:
    """Exact frame rate from MediaInfo or config text.

    ``"23.976"`` (as MediaInfo prints it) and ``"24000/1001"`` both become
    ``Fraction(24000, 1001)``; ``"24.000"`` becomes 24. A decimal is taken as an NTSC-family
    rate only when it agrees to within 0.0006, so ``"23.98"`` stays 2398/100 and never
    silently equals 23.976.
    """
    if value is None or value == "":
        return None
    if isinstance(value, Fraction):
        return value
    if isinstance(value, int):
        return Fraction(value)
    text = str(value).strip()
    if "/" in text:
        num, _, den = text.partition("/")
        return Fraction(int(num), int(den))
    try:
        approx = Fraction(text)
    except ValueError:
        return None
    for base in (24, 30, 48, 60, 120):
        ntsc = Fraction(base * 1000, 1001)
        if abs(approx - ntsc) < Fraction(6, 10000) and approx != base:
            return ntsc
    if approx.denominator != 1 and abs(approx - round(approx)) < Fraction(1, 1000):
        return Fraction(round(approx))
    return approx.limit_denominator(1001)


_NTSC_BASES = (24, 30, 48, 60, 120)


def config_rate(value: Any) -> Fraction:
    """A frame rate as a person writes it in a config, or ``ValueError`` saying what to write.

    The one parser for rates from configs (``base_frame_rate``, spec profiles). Exact forms
    are taken as written: ``"24000/1001"``, ``"25"``, ``25``. A decimal is taken only when it
    cannot be misread: ``"23.976"`` and ``"29.97"`` are the NTSC rates (as MediaInfo prints
    them), ``"12.5"`` is 25/2. A decimal near an NTSC rate but not on it (``"23.98"``) is
    refused with both exact choices, because taking it either way silently fails every clip
    of the other kind.
    """
    if isinstance(value, bool) or value is None:
        raise ValueError(f"{value!r} is not a frame rate; write it exactly, e.g. '24000/1001' or '25'")
    text = str(value).strip()
    try:
        if "/" in text:
            num, _, den = text.partition("/")
            rate = Fraction(int(num), int(den))
            if rate <= 0:
                raise ValueError
            return rate
        written = Fraction(text)
    except (ValueError, ZeroDivisionError):
        raise ValueError(f"{value!r} is not a frame rate; write it exactly, e.g. '24000/1001' or '25'") from None
    if written <= 0:
        raise ValueError(f"{value!r} is not a frame rate: it must be above 0, e.g. '24000/1001' or '25'")
    if written.denominator != 1:
        for base in _NTSC_BASES:
            ntsc = Fraction(base * 1000, 1001)
            near = abs(written - ntsc)
            if Fraction(6, 10000) <= near < Fraction(5, 100):
                digits = text.lstrip("+").lstrip("0") or "0"
                whole, _, frac = digits.partition(".")
                literal = f"{int(whole + frac)}/{10 ** len(frac)}" if frac.isdigit() and (whole + frac).isdigit() \
                    else f"{written.numerator}/{written.denominator}"
                raise ValueError(f"{text!r} is ambiguous: write {ntsc.numerator}/{ntsc.denominator} "
                                 f"({float(ntsc):.3f}) or {literal} (exactly {text} fps)")
    parsed = parse_rate(text)
    if parsed is None:
        raise ValueError(f"{value!r} is not a frame rate; write it exactly, e.g. '24000/1001' or '25'")
    return parsed


def format_rate(rate: Fraction | None) -> str:
    """Human form of an exact rate: ``23.976 (24000/1001)`` or ``25``."""
    if rate is None:
        return "unknown"
    if rate.denominator == 1:
        return str(rate.numerator)
    return f"{float(rate):.3f} ({rate.numerator}/{rate.denominator})"
