"""Naming conventions: templates with named fields, compiled to strict anchored matchers.

A template such as ``{show}_{seq}_{shot}_{task}_v{version:03d}.{ext}`` is literal text with
named fields. Each field has a kind with a default pattern (``shot``: 3 or 4 digits, ``task``:
lowercase letters ...); ``{version:03d}`` fixes the padding to 3 digits and ``{shot:[0-9]{4}}``
overrides the pattern. ``[...]`` marks an optional part (``[_{task}]``); a template expands
to one *shape* per combination, "present" first. Fields outside :data:`FIELDS` are private
(e.g. an ARRI camera id) and need an explicit pattern.

Besides matching, :meth:`Convention.diagnose` explains a failed name field by field: a loose
matcher aligns the name with each shape (separators and letter case tolerated) and every
part that breaks the strict pattern becomes a :class:`NameProblem` with a correction where one
can be derived (zero padding, case). Names are data only: no regex is ever built from one.

This module is the public entry point; compiling templates lives in
:mod:`reelwatch.naming.template`, diagnosing names in :mod:`reelwatch.naming.diagnose` and the
presets in :mod:`reelwatch.naming.presets`.

The engine of ``plugins/naming.py``. What it may import: :mod:`reelwatch.core` only (today it
needs only the standard library).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .diagnose import LEGAL, Diagnosis, NameProblem, diagnose, quote, sanitize
from .presets import FIELDS, KINDS, PRESETS, Preset
from .template import MAX_SHAPES, Field, Shape, TemplateError, compile_shapes, field_pattern

__all__ = ["FIELDS", "KINDS", "LEGAL", "MAX_SHAPES", "PRESETS", "Convention", "Diagnosis", "Field", "NameProblem",
           "Shape", "TemplateError", "compile_convention", "field_pattern", "preset_convention", "sanitize", "quote"]


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
        return diagnose(self, name)


def compile_convention(templates: str | Sequence[str], *, name: str | None = None, title: str = "",
                       form: str = "", example: str | None = None,
                       fields: Mapping[str, str] | None = None, case_sensitive: bool = True,
                       helps: Mapping[str, str] | None = None) -> Convention:
    """Compile templates (tried in order) into a :class:`Convention`; raises TemplateError."""
    texts = (templates,) if isinstance(templates, str) else tuple(templates)
    if not texts:
        raise TemplateError("no template given")
    flags = 0 if case_sensitive else re.IGNORECASE
    shapes = compile_shapes(texts, dict(fields or {}), helps or {}, flags)
    conv = Convention(name=name or texts[0], title=title or "naming convention", shapes=shapes,
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
