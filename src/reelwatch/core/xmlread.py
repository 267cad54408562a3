"""Namespace-blind reading of ElementTree elements, shared by the XML readers.

ASC MHL v2 (:mod:`reelwatch.integrity.mhl.read`), legacy MHL v1 (:mod:`reelwatch.integrity.manifests`) and MediaConch
policies (:mod:`reelwatch.spec.mediaconch_policy`) are all read by local element name: writers
disagree on namespaces (or leave them out), so ``{urn:ASC:MHL:v2.0}hash`` and ``hash`` are the
same element. Every helper accepts None where an element may be absent, so a chain of look-ups
needs no check at each step.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

__all__ = ["at", "children", "local", "text"]


def local(tag: object) -> str:
    """An element's name without its namespace (``{urn:ASC:MHL:v2.0}hash`` -> ``hash``);
    '' for comments and processing instructions, whose tag is not a string."""
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def children(el: ET.Element | None, name: str) -> list[ET.Element]:
    """The direct children called ``name`` (any namespace), in document order."""
    return [c for c in el if local(c.tag) == name] if el is not None else []


def at(el: ET.Element | None, *names: str) -> ET.Element | None:
    """The element at a path of child names (the first child of each name), or None anywhere along it."""
    for name in names:
        el = next((c for c in el if local(c.tag) == name), None) if el is not None else None
    return el


def text(el: ET.Element | None) -> str:
    """An element's text, stripped; '' when it has none or is absent."""
    return (el.text or "").strip() if el is not None else ""
