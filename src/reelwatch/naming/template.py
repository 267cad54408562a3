"""Naming templates compiled to matchers: ``{show}_{seq}_{shot}_{task}_v{version:03d}.{ext}``.

A template is literal text with named fields. Each field has a kind with a default pattern
(``shot``: 3 or 4 digits, ``task``: lowercase letters ...); ``{version:03d}`` fixes the
padding to 3 digits and ``{shot:[0-9]{4}}`` overrides the pattern. ``[...]`` marks an optional
part (``[_{task}]``); a template expands to one :class:`Shape` per combination, "present"
first. Fields outside :data:`~reelwatch.naming.presets.FIELDS` are private (e.g. an ARRI camera
id) and need an explicit pattern.

Each shape has a strict anchored regex (what the convention allows) and a loose one that
tolerates separators and letter case, which :mod:`reelwatch.naming.diagnose` aligns failing
names with. Names are data only: no regex is ever built from one.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .presets import FIELDS, KINDS

__all__ = ["MAX_SHAPES", "SEPARATORS", "Field", "Shape", "TemplateError", "compile_shapes", "field_pattern"]

_GENERIC = r"[^_\-. /]+"
SEPARATORS = "_- "
"""Characters a loose match accepts for one another between name parts."""
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
    return "".join("[_\\- ]" if c in SEPARATORS else re.escape(c) for c in text)


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


def compile_shapes(texts: Sequence[str], overrides: Mapping[str, str], helps: Mapping[str, str],
                   flags: int) -> tuple[Shape, ...]:
    """Every distinct shape of the templates ``texts``, in order; raises TemplateError."""
    for key, spec in overrides.items():
        if not _NAME.match(key):
            raise TemplateError(f"field name {key!r} must be lowercase letters, digits and '_'")
        field_pattern(key, spec)
    shapes: dict[str, Shape] = {}
    for text in texts:
        if not text.strip():
            raise TemplateError("the template is empty")
        try:
            nodes = _parse(text)
            for elements in _expand(nodes):
                if not elements:
                    continue
                shape = _shape(elements, overrides, helps, flags)
                shapes.setdefault(shape.strict.pattern, shape)
        except TemplateError as exc:
            raise TemplateError(f"template {text!r}: {exc}") from None
    return tuple(shapes.values())
