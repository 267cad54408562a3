"""Naming conventions: templates with named fields, compiled to strict anchored matchers.

A template such as ``{show}_{seq}_{shot}_{task}_v{version:03d}.{ext}`` is literal text with
named fields. Each field has a kind with a default pattern (``shot``: 3 or 4 digits, ``task``:
lowercase letters ...); ``{version:03d}`` fixes the padding to 3 digits and ``{shot:[0-9]{4}}``
overrides the pattern. ``[...]`` marks an optional part (``[_{task}]``); a template expands
to one *shape* per combination, "present" first. Fields outside :data:`FIELDS` are private
(e.g. an ARRI camera id) and need an explicit pattern.

Besides matching, :meth:`Convention.diagnose` explains a failed name field by field: a loose
matcher aligns the name with each shape (separators and letter case tolerated) and every
part that breaks the strict pattern becomes a :class:`Problem` with a correction where one
can be derived (zero padding, case). Names are data only: no regex is ever built from one.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from .naming_presets import FIELDS, KINDS, PRESETS, Preset

__all__ = ["FIELDS", "KINDS", "PRESETS", "Convention", "Diagnosis", "Problem", "TemplateError",
           "compile_convention", "preset_convention", "sanitize", "quote"]

_GENERIC = r"[^_\-. /]+"
_SEPARATORS = "_- "
LEGAL = re.compile(r"[A-Za-z0-9._-]")
MAX_SHAPES = 256
_NAME = re.compile(r"[a-z][a-z0-9_]*\Z")
_PAD = re.compile(r"(0?)([0-9]*)d\Z")


class TemplateError(ValueError):
    """A template (or field pattern) that cannot be compiled; the message says why."""


@dataclass(frozen=True, slots=True)
class Field:
    """One compiled field of a template."""

    name: str
    regex: str
    help: str
    label: str
    loose: str | None
    sample: str | None
    width: int | None = None
    """Fixed number of digits (``{version:03d}``), else None."""


@dataclass(frozen=True, slots=True)
class Shape:
    """One concrete alternative of a template: literals (str) and fields, in order."""

    elements: tuple[str | Field, ...]
    strict: re.Pattern[str]
    pieces: tuple[str, ...]
    """Loose regex piece per element (group ``e<i>``): separators and letter case tolerated."""
    loose: re.Pattern[str]
    exact: tuple[str, ...]
    """Strict regex piece per element, for "follows the convention up to ..." explanations."""

    def field(self, name: str) -> Field | None:
        return next((e for e in self.elements if isinstance(e, Field) and e.name == name), None)


@dataclass(frozen=True, slots=True)
class Problem:
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
    problems: tuple[Problem, ...] = ()
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


# -- template parsing -----------------------------------------------------------------------
_TOKEN = re.compile(r"\{\{|\}\}|\{(?:[^{}\\]|\\.|\{[^{}]*\})*\}|[\[\]{}]|[^\[\]{}]+")


def _parse(text: str) -> list[object]:
    """Template text -> nodes: literal str, ("field", name, spec) or ("opt", [nodes])."""
    stack: list[list[object]] = [[]]
    for tok in _TOKEN.finditer(text):
        t, node = tok.group(), None
        if t in ("{{", "}}"):
            node = t[0]
        elif t == "[":
            stack.append([])
        elif t == "]":
            if len(stack) == 1:
                raise TemplateError(f"unmatched ']' at position {tok.start() + 1}")
            node = ("opt", stack.pop())
        elif t == "{":
            raise TemplateError(f"field starting at position {tok.start() + 1} is not closed with '}}'")
        elif t == "}":
            raise TemplateError(f"unmatched '}}' at position {tok.start() + 1} (write '}}}}' for a literal brace)")
        elif t.startswith("{"):
            name, colon, spec = t[1:-1].partition(":")
            node = ("field", name.strip(), spec if colon else None)
        else:
            node = t
        if node is not None:
            nodes = stack[-1]
            if isinstance(node, str) and nodes and isinstance(nodes[-1], str):
                nodes[-1] += node
            else:
                nodes.append(node)
    if len(stack) > 1:
        raise TemplateError("an optional part opened with '[' is not closed with ']'")
    return stack[0]


def _expand(nodes: list[object]) -> list[list[object]]:
    shapes: list[list[object]] = [[]]
    for node in nodes:
        if isinstance(node, tuple) and node[0] == "opt":
            options = _expand(node[1]) + [[]]
            shapes = [s + o for s in shapes for o in options]
        else:
            shapes = [s + [node] for s in shapes]
        if len(shapes) > MAX_SHAPES:
            raise TemplateError(f"too many optional parts: more than {MAX_SHAPES} combinations")
    return shapes


def field_pattern(name: str, spec: str | None) -> tuple[str, int | None]:
    """The regex and fixed width of a field spec; raises TemplateError.

    ``03d`` is zero padding as printf writes it (``001`` ... ``999``, then ``1000``); ``d`` is
    any digits; anything else is a regular expression for the whole field.
    """
    if spec is None:
        if name not in KINDS:
            hint = difflib.get_close_matches(name, FIELDS, n=2)
            did = f" (did you mean {' or '.join(map(repr, hint))}?)" if hint else ""
            raise TemplateError(f"unknown field {name!r}{did}; known fields: {', '.join(FIELDS)}; "
                                f"give any other field a pattern, e.g. {{{name}:[A-Z0-9]{{4}}}}")
        return KINDS[name].regex, None
    pad = _PAD.match(spec)
    if pad:
        zero, width = pad.groups()
        if not width:
            return "[0-9]+", None
        if not zero:
            raise TemplateError(f"field {name!r}: write 0{width}d for {width} zero-padded digits "
                                f"(found {spec!r})")
        if not 0 < int(width) <= 12:
            raise TemplateError(f"field {name!r}: padding {spec!r} must be 1 to 12 digits")
        n = int(width)  # printf semantics: 03d writes 001 ... 999, then 1000
        return f"[0-9]{{{n}}}|[1-9][0-9]{{{n},}}", n
    if "(?P" in spec or re.search(r"\\[1-9]", spec):
        raise TemplateError(f"field {name!r}: pattern {spec!r} must not use named groups or "
                            "back-references; write (?:...) for grouping")
    try:
        compiled = re.compile(spec)
    except re.error as exc:
        raise TemplateError(f"field {name!r}: pattern {spec!r} is not a valid regular expression: {exc}") from None
    if compiled.fullmatch(""):
        raise TemplateError(f"field {name!r}: pattern {spec!r} matches an empty name part")
    return spec, None


def _make_field(name: str, spec: str | None, overrides: Mapping[str, str],
                helps: Mapping[str, str]) -> Field:
    if not _NAME.match(name):
        raise TemplateError(f"field name {name!r} must be lowercase letters, digits and '_', "
                            "starting with a letter")
    spec = overrides.get(name, spec)
    regex, width = field_pattern(name, spec)
    kind = KINDS.get(name)
    default = spec is None
    if width:
        help_text, sample = f"{width} digits", ((kind.sample if kind else "1").zfill(width)[-width:])
    elif default and kind:
        help_text, sample = kind.help, kind.sample
    else:
        help_text, sample = f"written to match the pattern {spec}", None
    digits = bool(width) or regex == "[0-9]+"
    help_text = "digits" if regex == "[0-9]+" else help_text
    loose = kind.loose if kind and (default or digits) else "[0-9]+" if digits else None
    return Field(name=name, regex=regex, help=helps.get(name, help_text),
                 label=kind.label if kind else name.replace("_", " "), loose=loose,
                 sample=sample, width=width)


def _literal_piece(text: str) -> str:
    return "".join("[_\\- ]" if c in _SEPARATORS else re.escape(c) for c in text)


def _shape(elements: list[object], overrides: Mapping[str, str], helps: Mapping[str, str],
           flags: int) -> Shape:
    built: list[str | Field] = []
    for node in elements:
        if isinstance(node, str):
            if built and isinstance(built[-1], str):
                built[-1] += node
            else:
                built.append(node)
        else:
            built.append(_make_field(node[1], node[2], overrides, helps))  # type: ignore[index]
    strict, pieces, seen = [], [], set()
    for i, el in enumerate(built):
        if isinstance(el, str):
            strict.append(re.escape(el))
            pieces.append(f"(?P<e{i}>{_literal_piece(el)})")
            continue
        if el.name in seen:
            strict.append(f"(?P=f_{el.name})")
        else:
            strict.append(f"(?P<f_{el.name}>{el.regex})")
            seen.add(el.name)
        follower = built[i + 1] if i + 1 < len(built) else None
        alt = el.loose if isinstance(follower, Field) else _GENERIC
        pieces.append(f"(?P<e{i}>(?:{el.regex})|{alt})" if alt else f"(?P<e{i}>(?:{el.regex}))")
    try:
        pattern = re.compile("".join(strict) + r"\Z", flags)
    except re.error as exc:
        raise TemplateError(f"does not compile: {exc}") from None
    loose = re.compile("".join(pieces) + r"\Z", re.IGNORECASE)
    return Shape(elements=tuple(built), strict=pattern, pieces=tuple(pieces), loose=loose, exact=tuple(strict))


@dataclass(frozen=True, slots=True)
class Convention:
    """A compiled naming convention: one or more templates, each expanded to shapes."""

    name: str
    title: str
    shapes: tuple[Shape, ...]
    case_sensitive: bool = True
    form: str = ""
    example: str | None = None

    @property
    def flags(self) -> int:
        return 0 if self.case_sensitive else re.IGNORECASE

    @property
    def has_frame(self) -> bool:
        return any(s.field("frame") for s in self.shapes)

    def version_padding(self, shape: Shape | None = None) -> int | None:
        """Fixed version padding of the matched shape, or the one all shapes agree on."""
        shapes = (shape,) if shape else self.shapes
        widths = {f.width for s in shapes if (f := s.field("version")) is not None}
        return widths.pop() if len(widths) == 1 else None

    @property
    def expected(self) -> str:
        example = f", e.g. {self.example}" if self.example else ""
        return f"{self.title}: {self.form}{example}"

    def match(self, name: str) -> tuple[Shape, dict[str, str]] | None:
        """First shape that matches strictly, with every field value (private ones too)."""
        for shape in self.shapes:
            m = shape.strict.match(name)
            if m:
                return shape, {k[2:]: v for k, v in m.groupdict().items() if v is not None}
        return None

    def fields(self, name: str) -> dict[str, str] | None:
        """The exported fields of a matching name, as written; None when it does not match."""
        found = self.match(name)
        return None if found is None else {k: v for k, v in found[1].items() if k in FIELDS}

    def diagnose(self, name: str) -> Diagnosis:
        """Explain, field by field, how ``name`` breaks the convention."""
        found = self.match(name)
        if found:
            return Diagnosis(ok=True, fields={k: v for k, v in found[1].items() if k in FIELDS},
                             shape=found[0])
        best: tuple[tuple[bool, int, int], Shape, list[Problem], str | None] | None = None
        for order, shape in enumerate(self.shapes):
            m = shape.loose.match(name)
            if not m:
                continue
            problems, corrected = _explain(self, shape, m)
            # an alignment with many parts wrong and no correction is a guess, not a diagnosis
            fields = sum(1 for e in shape.elements if isinstance(e, Field))
            if not problems or (corrected is None and len(problems) > max(1, fields // 2)):
                continue
            rank = (corrected is None, len(problems), order)
            if best is None or rank < best[0]:
                best = (rank, shape, problems, corrected)
        if best is None:
            return Diagnosis(ok=False, mismatch=_progress(self, name))
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


def _explain(conv: Convention, shape: Shape, m: re.Match[str]) -> tuple[list[Problem], str | None]:
    flags, els = conv.flags, shape.elements
    actual = [m.group(f"e{i}") for i in range(len(els))]
    fixed = list(actual)
    problems: list[tuple[int, Problem]] = []
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
        what = "separator" if all(c in _SEPARATORS for c in el) else "text"
        problems.append((i, Problem(None, f"{what} {quote(actual[i])}{where} must be {quote(el)}")))
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
                problems.append((i, Problem(el.name, f"{el.label} {quote(value)} appears twice and must "
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
            problems.append((i, Problem(el.name, f"{el.label} {quote(shown)} {' and '.join(reasons)}{good}",
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


def _progress(conv: Convention, name: str) -> str:
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


def compile_convention(templates: str | Sequence[str], *, name: str | None = None, title: str = "",
                       form: str = "", example: str | None = None,
                       fields: Mapping[str, str] | None = None, case_sensitive: bool = True,
                       helps: Mapping[str, str] | None = None) -> Convention:
    """Compile templates (tried in order) into a :class:`Convention`; raises TemplateError."""
    texts = (templates,) if isinstance(templates, str) else tuple(templates)
    if not texts:
        raise TemplateError("no template given")
    overrides = dict(fields or {})
    for key, spec in overrides.items():
        if not _NAME.match(key):
            raise TemplateError(f"field name {key!r} must be lowercase letters, digits and '_'")
        field_pattern(key, spec)
    flags = 0 if case_sensitive else re.IGNORECASE
    shapes: dict[str, Shape] = {}
    for text in texts:
        if not text.strip():
            raise TemplateError("the template is empty")
        try:
            nodes = _parse(text)
            for elements in _expand(nodes):
                if not elements:
                    continue
                shape = _shape(elements, overrides, helps or {}, flags)
                shapes.setdefault(shape.strict.pattern, shape)
        except TemplateError as exc:
            raise TemplateError(f"template {text!r}: {exc}") from None
    conv = Convention(name=name or texts[0], title=title or "naming convention", shapes=tuple(shapes.values()),
                      case_sensitive=case_sensitive, form=form or " or ".join(texts), example=example)
    if example is None:
        sample = "".join(e if isinstance(e, str) else (e.sample or "\0") for e in conv.shapes[0].elements)
        if conv.match(sample):
            conv = Convention(conv.name, conv.title, conv.shapes, case_sensitive, conv.form, sample)
    return conv


def preset_convention(preset: str | Preset, *, fields: Mapping[str, str] | None = None,
                      case_sensitive: bool = True) -> Convention:
    """Compile a preset (by name or object), with optional field overrides."""
    p = PRESETS[preset] if isinstance(preset, str) else preset
    return compile_convention(p.templates, name=p.name, title=p.title, form=p.form, example=p.example,
                              fields={**p.fields, **(fields or {})}, case_sensitive=case_sensitive,
                              helps={k: v for k, v in p.helps.items() if k not in (fields or {})})
