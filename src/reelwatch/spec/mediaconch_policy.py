"""MediaConch policy XML: the policy model and its parser.

A policy (``<policy type="and|or">``) holds rules and nested policies, in order; a rule
(``<rule>``) names a MediaInfo field of a track type, an operator and a requested value, or a
``<source>`` field to compare against. Unknown elements are skipped and operator aliases
(``does_not_exist``, ``starts_with``) are normalised. What reelwatch cannot evaluate
(MediaTrace ``scope="mmt"`` rules, ``compare`` rules, unknown operators, rules without a track
type ...) is marked on the rule (:attr:`Rule.unsupported`) at parse time, so evaluation
(:mod:`reelwatch.spec.mediaconch`) reports it instead of passing it silently.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, replace
from pathlib import Path

from ..core.xmlread import local as _local
from ..core.xmlread import text as _text

__all__ = ["OPERATORS", "Policy", "PolicyError", "Rule", "Source", "load_policy", "parse_policy"]

OPERATORS = frozenset({"", "exists", "must not exist", "starts with", "must not start with", "contains",
                       "must not contain", "=", "!=", "<", "<=", ">", ">="})
_OPERATOR_ALIASES = {"does_not_exist": "must not exist", "does not exist": "must not exist",
                     "starts_with": "starts with"}
_TRACK_TYPES = {"General", "Video", "Audio", "Image", "Other", "Text"}


class PolicyError(ValueError):
    """A policy file that cannot be read or is not a MediaConch policy."""


@dataclass(frozen=True, slots=True)
class Source:
    """The other field a rule compares against (``<source .../>``)."""

    field: str
    tracktype: str
    occurrence: str = ""
    scope: str = ""


@dataclass(frozen=True, slots=True)
class Rule:
    """One ``<rule>``: MediaInfo ``field`` of ``tracktype`` tracks, ``operator``, ``requested`` value."""

    name: str
    field: str
    tracktype: str
    operator: str
    requested: str = ""
    occurrence: str = ""
    level: str = ""
    scope: str = ""
    source: Source | None = None
    unsupported: str = ""
    """Why reelwatch cannot evaluate this rule ('' when it can)."""


@dataclass(frozen=True, slots=True)
class Policy:
    """One ``<policy type="and|or">`` with its rules and nested policies, in order."""

    name: str
    type: str
    children: tuple[Policy | Rule, ...] = ()
    level: str = ""
    description: str = ""
    complete: bool = False
    """True when MediaConch would read MediaInfo's complete report for it (see spec_fields)."""

    def rules(self) -> list[Rule]:
        out: list[Rule] = []
        for child in self.children:
            out.extend(child.rules() if isinstance(child, Policy) else [child])
        return out


def _unsupported(rule: Rule) -> str:
    if rule.scope not in ("", "mi"):
        return (f"it reads the file's byte structure (MediaConch scope {rule.scope!r}, a MediaTrace rule), "
                "which reelwatch does not parse")
    if rule.requested == "compare":
        return "it compares against a reference file, which reelwatch does not support"
    if rule.operator not in OPERATORS:
        return f"its operator {rule.operator!r} is not one MediaConch defines"
    if not rule.tracktype:
        return "it names no track type (attribute 'tracktype' is missing or misspelled)"
    if rule.tracktype not in _TRACK_TYPES:
        return f"reelwatch does not keep MediaInfo {rule.tracktype!r} tracks"
    if not rule.field:
        return "it names no field (attribute 'value' is missing)"
    occ = rule.occurrence
    if occ not in ("", "*", "any", "all") and not occ.isdigit():
        return f"its occurrence {occ!r} is neither a track number nor '*', 'any' or 'all'"
    if rule.source is not None and (rule.source.scope not in ("", "mi") or rule.source.tracktype not in _TRACK_TYPES):
        return "its <source> is not a MediaInfo field reelwatch can read"
    return ""


def _parse_rule(el: ET.Element) -> Rule:
    a = el.attrib
    source = None
    for child in el:
        if _local(child.tag) == "source":
            s = child.attrib
            source = Source(field=s.get("value", ""), tracktype=s.get("tracktype", ""),
                            occurrence=s.get("occurrence", ""), scope=s.get("scope", ""))
            break
    operator = a.get("operator", "")
    rule = Rule(name=a.get("name", "") or a.get("value", "unnamed rule"), field=a.get("value", ""),
                tracktype=a.get("tracktype", ""), operator=_OPERATOR_ALIASES.get(operator, operator),
                requested=(el.text or "") if source is None else "", occurrence=a.get("occurrence", ""),
                level=a.get("level", ""), scope=a.get("scope", ""), source=source)
    why = _unsupported(rule)
    return replace(rule, unsupported=why) if why else rule


def _parse_policy(el: ET.Element, depth: int = 0) -> Policy:
    if depth > 64:
        raise PolicyError("policies are nested more than 64 deep")
    children: list[Policy | Rule] = []
    description = ""
    for child in el:
        tag = _local(child.tag)
        if tag == "policy":
            children.append(_parse_policy(child, depth + 1))
        elif tag == "rule":
            children.append(_parse_rule(child))
        elif tag == "description":
            description = _text(child)
    name, kind = el.get("name", "unnamed policy"), el.get("type", "")
    if kind not in ("and", "or"):
        raise PolicyError(f"policy {name!r} has type {kind!r}; MediaConch policies are of type 'and' or 'or'")
    return Policy(name=name, type=kind, children=tuple(children), level=el.get("level", ""),
                  description=description)


def parse_policy(text: str | bytes, source: str = "policy") -> Policy:
    """Parse MediaConch policy XML. Raises :class:`PolicyError` in plain words."""
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise PolicyError(f"{source} is not well-formed XML: {exc}") from None
    if _local(root.tag) != "policy":
        raise PolicyError(f"{source} is not a MediaConch policy (its root element is <{_local(root.tag)}>, "
                          "not <policy>)")
    try:
        policy = _parse_policy(root)
    except PolicyError as exc:
        raise PolicyError(f"{source}: {exc}") from None
    complete = any(re.search(r"_String\d*$|_Total$", r.field) or r.field.startswith("TimeCode")
                   for r in policy.rules())
    return Policy(name=policy.name, type=policy.type, children=policy.children, level=policy.level,
                  description=policy.description, complete=complete)


def load_policy(path: str | Path) -> Policy:
    """Read and parse a policy file. Raises :class:`PolicyError` (missing, unreadable, bad XML)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise PolicyError(f"policy file {path} does not exist") from None
    except OSError as exc:
        raise PolicyError(f"policy file {path} cannot be read: {exc.strerror}") from None
    return parse_policy(data, source=f"policy file {path}")
