"""Naming diagnosis: how a name breaks its convention, field by field, and the corrected name.

A loose matcher (:attr:`~reelwatch.naming.template.Shape.loose`) aligns a failed name with each
shape of the convention, separators and letter case tolerated; every part that breaks the
strict pattern becomes a :class:`NameProblem` with a correction where one can be derived (zero
padding, case). A name that cannot be aligned at all is told how far it follows the
convention. Names are data only: no regex is ever built from one.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from .presets import FIELDS
from .template import SEPARATORS, Field, Shape

__all__ = ["LEGAL", "Diagnosis", "NameProblem", "diagnose", "quote", "sanitize"]

LEGAL = re.compile(r"[A-Za-z0-9._-]")


class ConventionView(Protocol):
    """What diagnosing needs of a :class:`reelwatch.naming.Convention` (declared here, so that
    this module does not import the package that imports it)."""

    @property
    def shapes(self) -> tuple[Shape, ...]: ...

    @property
    def case_sensitive(self) -> bool: ...

    @property
    def flags(self) -> int: ...

    def match(self, name: str) -> tuple[Shape, dict[str, str]] | None: ...


@dataclass(frozen=True, slots=True)
class NameProblem:
    """One part of a name that breaks the convention."""

    field: str | None
    message: str
    category: str = "field"
    """``field``, ``version_padding`` or ``frame_padding``."""


@dataclass(frozen=True, slots=True)
class Diagnosis:
    """The verdict on one name."""

    ok: bool
    fields: Mapping[str, str] = field(default_factory=dict)
    problems: tuple[NameProblem, ...] = ()
    corrected: str | None = None
    mismatch: str | None = None
    """Set when the name cannot be aligned with the convention at all: why, in plain words."""
    shape: Shape | None = None


def quote(text: str) -> str:
    """A name part for a message: quoted, control and non-printable characters escaped."""
    return "'" + "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in text) + "'"


def sanitize(name: str) -> tuple[str, tuple[str, ...]]:
    """Legal-character form of a name (accents dropped, other runs of illegal characters
    become one ``_``), and the illegal characters found, in order of appearance."""
    bad = tuple(dict.fromkeys(c for c in name if not LEGAL.match(c)))
    if not bad:
        return name, ()
    plain = "".join(c for c in unicodedata.normalize("NFKD", name) if not unicodedata.combining(c))
    return re.sub(r"[^A-Za-z0-9._-]+", "_", plain), bad


# -- diagnosis ----------------------------------------------------------------------------------

def diagnose(conv: ConventionView, name: str) -> Diagnosis:
    """Explain, field by field, how ``name`` breaks the convention."""
    found = conv.match(name)
    if found:
        return Diagnosis(ok=True, fields={k: v for k, v in found[1].items() if k in FIELDS},
                         shape=found[0])
    best: tuple[tuple[bool, int, int], Shape, list[NameProblem], str | None] | None = None
    for order, shape in enumerate(conv.shapes):
        m = shape.loose.match(name)
        if not m:
            continue
        problems, corrected = _explain(conv, shape, m)
        # an alignment with many parts wrong and no correction is a guess, not a diagnosis
        fields = sum(1 for e in shape.elements if isinstance(e, Field))
        if not problems or (corrected is None and len(problems) > max(1, fields // 2)):
            continue
        rank = (corrected is None, len(problems), order)
        if best is None or rank < best[0]:
            best = (rank, shape, problems, corrected)
    if best is None:
        return Diagnosis(ok=False, mismatch=_progress(conv, name))
    return Diagnosis(ok=False, problems=tuple(best[2]), corrected=best[3], shape=best[1])


def _correct(value: str, f: Field, flags: int) -> str | None:
    """A corrected value for a field (case, zero padding), or None."""
    candidates = [value.lower(), value.upper()]
    for base in (value, value.upper(), value.lower()):
        m = re.fullmatch(r"([^0-9]*)([0-9]+)", base)
        if m:
            digits = m.group(2).lstrip("0") or "0"
            candidates += [m.group(1) + digits.zfill(w) for w in range(1, 13)]
    return next((c for c in candidates if c != value and re.fullmatch(f.regex, c, flags)), None)


def _explain(conv: ConventionView, shape: Shape, m: re.Match[str]) -> tuple[list[NameProblem], str | None]:
    flags, els = conv.flags, shape.elements
    actual = [m.group(f"e{i}") for i in range(len(els))]
    fixed = list(actual)
    problems: list[tuple[int, NameProblem]] = []
    first: dict[str, str] = {}
    for i, el in enumerate(els):
        if not isinstance(el, str):
            continue
        same = actual[i] == el or (not conv.case_sensitive and actual[i].lower() == el.lower())
        fixed[i] = el
        nxt = els[i + 1] if i + 1 < len(els) else None
        tail = len(re.search(r"[A-Za-z]*\Z", el).group())  # type: ignore[union-attr]
        if same or (isinstance(nxt, Field) and tail and actual[i][:-tail] == el[:-tail]
                    and actual[i].lower() == el.lower()):
            continue  # a letter-case slip just before a field is reported with that field
        prev = els[i - 1] if i else None
        where = f" after {prev.label} {quote(actual[i - 1])}" if isinstance(prev, Field) else ""
        what = "separator" if all(c in SEPARATORS for c in el) else "text"
        problems.append((i, NameProblem(None, f"{what} {quote(actual[i])}{where} must be {quote(el)}")))
    for i, el in enumerate(els):
        if isinstance(el, str):
            continue
        value, reasons = actual[i], []
        lit = els[i - 1] if i and isinstance(els[i - 1], str) else ""
        letters = re.search(r"[A-Za-z]*\Z", lit).group()  # type: ignore[union-attr]
        shown_prefix = actual[i - 1][len(actual[i - 1]) - len(letters):] if letters else ""
        if i and not lit and isinstance(els[i - 1], Field) and actual[i - 1].isalpha() and len(actual[i - 1]) <= 2:
            letters = shown_prefix = actual[i - 1]
        if letters and shown_prefix != letters and conv.case_sensitive:
            case = " lowercase" if letters.islower() else " uppercase" if letters.isupper() else ""
            reasons.append(f"must begin with{case} {quote(letters)}")
        if el.name in first:
            if value != first[el.name]:
                problems.append((i, NameProblem(el.name, f"{el.label} {quote(value)} appears twice and must "
                                                     f"be the same both times: {first[el.name]}")))
                fixed[i] = first[el.name]
            continue
        if not re.fullmatch(el.regex, value, flags):
            better = _correct(value, el, flags)
            reasons.append(f"must be {el.help}")
            fixed[i] = better or value
        first[el.name] = fixed[i]
        if reasons:
            category = "field"
            if len(reasons) == 1 and el.name in ("version", "frame") and value.isdigit() and fixed[i] != value:
                category = f"{el.name}_padding"
            shown = shown_prefix + value
            good = f": {letters}{fixed[i]}" if fixed[i] != value or shown_prefix != letters else ""
            problems.append((i, NameProblem(el.name, f"{el.label} {quote(shown)} {' and '.join(reasons)}{good}",
                                        category)))
    corrected = "".join(fixed)
    ordered = [p for _, p in sorted(problems, key=lambda item: item[0])]
    return ordered, (corrected if shape.strict.match(corrected) else None)


def _what(els: Sequence[str | Field], k: int) -> str:
    el = els[k]
    if isinstance(el, Field):
        return f"the {el.label} ({el.help})"
    nxt = els[k + 1] if k + 1 < len(els) else None
    return quote(el) + (f" and the {nxt.label}" if isinstance(nxt, Field) else "")


def _progress(conv: ConventionView, name: str) -> str:
    """How far a name follows the convention before it goes wrong, in plain words."""
    best = (-1, -1, conv.shapes[0])
    for shape in conv.shapes:
        for k in range(len(shape.exact), 0, -1):
            m = re.compile("".join(shape.exact[:k]), conv.flags).match(name)
            if m:
                if (m.end(), k) > best[:2]:
                    best = (m.end(), k, shape)
                break
        else:
            best = max(best, (0, 0, shape), key=lambda b: b[:2])
    end, k, shape = best
    end = max(end, 0)
    rest = name[end:end + 24]
    if k >= len(shape.elements):
        return f"it has extra text {quote(name[end:])} after {quote(name[:end])}"
    nxt = _what(shape.elements, max(k, 0))
    if not rest:
        return f"it ends after {quote(name)}, where {nxt} should follow"
    if end == 0:
        return f"it does not start with {nxt}"
    return f"it follows the convention up to {quote(name[:end])}, then has {quote(rest)} where {nxt} should be"
