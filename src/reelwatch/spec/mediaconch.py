"""MediaConch policies evaluated over reelwatch's :class:`Facts`, and failures in plain words.

The semantics follow MediaConch's own checker (``Source/Checker/Checker.cpp``, the engine
behind ``mediaconch -p``): a rule collects the field's value from every track of its
``tracktype`` (or only track N for ``occurrence="N"``) and passes when *any* value satisfies
the operator (*all* with ``occurrence="all"``); values compare as numbers when both sides
are whole C numbers, else as strings; ``and``/``or`` policies combine children; ``level=
"warn"|"info"`` turns a failure into a warning or a notice and caps nested outcomes.

What reelwatch cannot evaluate is never passed silently: MediaTrace (``scope="mmt"``)
rules, ``compare`` rules, unknown operators, rules without a track type and fields the
facts do not keep evaluate to :attr:`Outcome.UNKNOWN` with a reason. An ``and`` policy with
an unknown child is unknown unless another child fails; an ``or`` is unknown unless
another child passes. Parsing the policy XML is :mod:`reelwatch.spec.mediaconch_policy` (its
names are re-exported here).
"""

from __future__ import annotations

import operator as op
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from pathlib import PurePosixPath
from typing import Any

from .mediaconch_policy import Policy, PolicyError, Rule, Source, load_policy, parse_policy
from ..core.model import Facts
from .fields import UnsupportedField, mediainfo_value, track_index

__all__ = ["Outcome", "Policy", "PolicyError", "PolicyResult", "Rule", "RuleResult", "Source", "describe",
           "evaluate", "file_fields", "load_policy", "parse_policy"]

_C_NUMBER = re.compile(r"\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


class Outcome(Enum):
    PASS = "pass"
    INFO = "info"
    WARN = "warn"
    FAIL = "fail"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class RuleResult:
    rule: Rule
    outcome: Outcome
    actual: tuple[str, ...] = ()
    """Values that failed the rule (or every value read, when it passed)."""
    reason: str = ""
    """Why the outcome is UNKNOWN."""


@dataclass(frozen=True, slots=True)
class PolicyResult:
    policy: Policy
    outcome: Outcome
    children: tuple[PolicyResult | RuleResult, ...] = ()

    def unknown_rules(self) -> list[RuleResult]:
        """Every rule reelwatch could not evaluate, in policy order."""
        out: list[RuleResult] = []
        for c in self.children:
            if isinstance(c, PolicyResult):
                out.extend(c.unknown_rules())
            elif c.outcome is Outcome.UNKNOWN:
                out.append(c)
        return out

    def failed_rules(self) -> list[RuleResult]:
        """The rules that explain a non-passing outcome: every failure of an ``and``; for an
        ``or``, the failures of the alternative that came closest to passing."""
        if self.outcome is Outcome.PASS:
            return []
        bad = (Outcome.FAIL, Outcome.WARN, Outcome.INFO)
        per_child = [c.failed_rules() if isinstance(c, PolicyResult) else ([c] if c.outcome in bad else [])
                     for c in self.children if c.outcome is not Outcome.PASS]
        if self.policy.type == "or":
            candidates = [f for f in per_child if f]
            return min(candidates, key=len) if candidates else []
        return [r for group in per_child for r in group]


class _View:
    """Tracks of one file by MediaInfo type, with normalised key indexes built once."""

    def __init__(self, facts: Facts, complete: bool, file_fields: Mapping[str, str]) -> None:
        self.facts = facts
        self.complete = complete
        self.file_fields = {k.replace("_", "").lower(): v for k, v in file_fields.items()}
        self._indexes: dict[int, dict[str, str]] = {}
        self._memo: dict[tuple[str, str, str], Any] = {}

    def tracks(self, tracktype: str) -> tuple[Mapping[str, Any], ...]:
        return self.facts.tracks(tracktype)

    def values(self, tracktype: str, occurrence: str, name: str) -> tuple[list[tuple[tuple[str, int], str]], int]:
        """(track, value) of ``name`` in the selected tracks, and how many tracks were selected."""
        key = (tracktype, occurrence, name)
        if key not in self._memo:
            self._memo[key] = self._values(tracktype, occurrence, name)
        result = self._memo[key]
        if isinstance(result, UnsupportedField):
            raise result
        return result

    def _values(self, tracktype: str, occurrence: str, name: str) -> Any:
        tracks = self.tracks(tracktype)
        if occurrence.isdigit():
            n = int(occurrence)
            picked = [(n - 1, tracks[n - 1])] if 0 < n <= len(tracks) else []
        else:
            picked = list(enumerate(tracks))
        extra = self.file_fields.get(name.replace("_", "").lower()) if tracktype == "General" else None
        if extra is not None:
            return [((tracktype, i), extra) for i, _ in picked], len(picked)
        out = []
        try:
            for i, track in picked:
                index = self._indexes.get(id(track))
                if index is None:
                    index = self._indexes[id(track)] = track_index(track)
                value = mediainfo_value(track, name, index, self.complete)
                if value is not None:
                    out.append(((tracktype, i), value))
        except UnsupportedField as exc:
            return exc
        return out, len(picked)


def _number(text: str) -> float | None:
    """``strtod`` semantics: the whole string must be a decimal number (an empty one is 0)."""
    if text == "" or text.isspace():
        return 0.0
    return float(text) if _C_NUMBER.fullmatch(text) else None


_COMPARE = {"<": op.lt, "<=": op.le, "=": op.eq, "!=": op.ne, ">=": op.ge, ">": op.gt}


def compare(operator: str, requested: str, actual: str) -> bool:
    """One MediaConch comparison: ``actual <operator> requested``."""
    if operator == "starts with":
        return actual.startswith(requested)
    if operator == "must not start with":
        return not actual.startswith(requested)
    if operator == "contains":
        return requested in actual
    if operator == "must not contain":
        return requested not in actual
    test = _COMPARE.get(operator)
    if test is None:
        return False
    ref, val = _number(requested), _number(actual)
    return test(val, ref) if ref is not None and val is not None else test(actual, requested)


def _rule(rule: Rule, view: _View) -> RuleResult:
    if rule.unsupported:
        return RuleResult(rule, Outcome.UNKNOWN, reason=rule.unsupported)
    try:
        values, tracks = view.values(rule.tracktype, rule.occurrence, rule.field)
        src = rule.source
        sources = view.values(src.tracktype, src.occurrence, src.field)[0] if src else []
    except UnsupportedField as exc:
        return RuleResult(rule, Outcome.UNKNOWN, reason=str(exc))
    op, occ = rule.operator, rule.occurrence
    failing: list[str] = []
    if op in ("", "exists"):
        passed = bool(values) and (len(values) == tracks if occ == "all" else True)
    elif op == "must not exist":
        passed = len(values) < tracks if occ == "any" else not values
        failing = [v for _, v in values]
    elif not values:
        passed = op == "must not start with"
    else:
        results = []
        for node, value in values:
            if src is not None:
                same_ok = occ in ("", "any", "*") or src.occurrence in ("", "all", "any", "*")
                r2 = [compare(op, sv, value) for snode, sv in sources
                      if not (same_ok and snode == node and src.field == rule.field)]
                if not r2:
                    continue
                ok = all(r2) if src.occurrence == "all" else any(r2)
            else:
                ok = compare(op, rule.requested, value)
            results.append(ok)
            if not ok:
                failing.append(value)
        passed = bool(results) and (all(results) if occ == "all" else any(results))
    if passed:
        return RuleResult(rule, Outcome.PASS, tuple(v for _, v in values))
    level = {"info": Outcome.INFO, "warn": Outcome.WARN}.get(rule.level, Outcome.FAIL)
    return RuleResult(rule, level, tuple(failing or (v for _, v in values)))


_RANK = {Outcome.PASS: 0, Outcome.INFO: 1, Outcome.WARN: 2, Outcome.FAIL: 3}


def _combine(policy: Policy, results: list[Outcome]) -> Outcome:
    known = [r for r in results if r is not Outcome.UNKNOWN]
    unknown = len(known) < len(results)
    if policy.type == "and":
        if Outcome.FAIL in known:
            out = Outcome.FAIL
        elif unknown:
            return Outcome.UNKNOWN
        else:
            out = max(known, key=_RANK.__getitem__, default=Outcome.PASS)
    elif policy.type == "or":
        if Outcome.PASS in known or not results:
            out = Outcome.PASS
        elif unknown:
            return Outcome.UNKNOWN
        else:
            out = min(known, key=_RANK.__getitem__)
    else:
        return Outcome.UNKNOWN
    cap = {"info": Outcome.INFO, "warn": Outcome.WARN}.get(policy.level)
    if cap is not None and _RANK[out] > _RANK[cap]:
        out = cap
    return out


def _policy(policy: Policy, view: _View) -> PolicyResult:
    children = tuple(_policy(c, view) if isinstance(c, Policy) else _rule(c, view) for c in policy.children)
    return PolicyResult(policy, _combine(policy, [c.outcome for c in children]), children)


def file_fields(path: str, mtime_ns: int) -> dict[str, str]:
    """The General fields MediaInfo derives from the file's name and date, which facts do not keep."""
    p = PurePosixPath(path)
    when = datetime.fromtimestamp(mtime_ns / 1e9, UTC)
    fields = {"CompleteName": str(p), "FolderName": str(p.parent), "FileName": p.stem if p.suffix else p.name,
              "FileNameExtension": p.name, "File_Modified_Date": when.strftime("%Y-%m-%d %H:%M:%S UTC"),
              "File_Modified_Date_Local": when.astimezone().strftime("%Y-%m-%d %H:%M:%S")}
    if p.suffix:
        fields["FileExtension"] = p.suffix[1:]
    return fields


def evaluate(policy: Policy, facts: Facts, file_fields: Mapping[str, str] | None = None) -> PolicyResult:
    """Evaluate a parsed policy over one file's facts (one frame's, for an image sequence).

    ``file_fields`` (see :func:`file_fields`) supplies the General fields that describe the file
    on disk rather than its content: name, extension, folder and modification date.
    """
    return _policy(policy, _View(facts, policy.complete, file_fields or {}))


_HUMAN = {"Format": "format", "FrameRate": "frame rate", "BitDepth": "bit depth", "ScanType": "scan type",
          "SamplingRate": "sample rate", "Channels": "channel count", "CodecID": "codec ID",
          "ColorSpace": "colour space", "FileExtension": "file extension", "VideoCount": "number of video tracks",
          "AudioCount": "number of audio tracks", "IsStreamable": "streamable flag (index at the start)",
          "colour_primaries": "colour primaries", "StreamOrder": "stream order"}
_OPS = {"": "to be present", "exists": "to be present", "must not exist": "to be absent", "=": "to be",
        "!=": "not to be", "<": "to be below", "<=": "to be at most", ">": "to be above", ">=": "to be at least",
        "starts with": "to start with", "must not start with": "not to start with", "contains": "to contain",
        "must not contain": "not to contain"}


def human_field(name: str) -> str:
    """``FrameRate_Mode`` -> ``frame rate mode``; ``extra/ErrorDetectionType`` -> ``error detection type``."""
    name = re.sub(r"^extra(\[\d+\])?/", "", name)
    if name in _HUMAN:
        return _HUMAN[name]
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name).replace("_", " ")
    return re.sub(r"\s+", " ", spaced).strip().lower()


def describe(result: RuleResult) -> str:
    """One failed rule in plain words: what was found and what the rule wants."""
    rule = result.rule
    what = f"{rule.tracktype.lower()} {human_field(rule.field)}".strip()
    found = f"is {', '.join(repr(v) for v in result.actual)}" if result.actual else "is missing"
    if rule.operator == "must not exist":
        found = "is present" + (f" ({', '.join(repr(v) for v in result.actual)})" if result.actual else "")
    if rule.source is not None:
        want = f"{_OPS.get(rule.operator, rule.operator)} the {rule.source.tracktype.lower()} " \
               f"{human_field(rule.source.field)}"
    elif rule.operator in ("", "exists", "must not exist"):
        want = _OPS[rule.operator]
    else:
        want = f"{_OPS.get(rule.operator, rule.operator)} {rule.requested!r}"
    return f"{what} {found}; rule {rule.name!r} wants it {want}"
