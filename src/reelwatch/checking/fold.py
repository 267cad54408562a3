"""One problem, one finding: fold consequences under their root cause before anything is recorded.

Rules are written independently, so one real problem often trips several of them. A half-copied
clip is truncated, does not match its checksum, changed after ingest, and its codec, audio and
timecode cannot be read; a name with a space trips the production's naming rule and the builtin
portability warning. People act on the problem once, so the pipeline keeps one finding per problem
and lists the others under it (``details["also"]``: rule, severity and message of each), raising its
severity to the worst of them and telling everyone they would have reached (their owners and
impacted roles join its impacted roles).

* A **root cause** (``details["root_cause"]``: the builtin sanity rules mark an empty, unreadable,
  unprobeable or truncated file) explains every other finding on the same asset that judges its
  content: facts read from a broken file are not judged. Findings about the name or the place
  (:data:`INDEPENDENT`) are separate problems and stay.
* Of two findings that say the same thing about one asset, the **more specific** wins
  (:data:`SAME_PROBLEM`): the production's naming rule over the builtin name warnings, a checksum
  mismatch over "changed after ingest".
* A batch finding that only repeats problems already reported on the files it names
  (``details["consequence_of"]``: for each file, the ``[volume, relpath]`` of its copies; e.g. a card
  verdict naming a clip truncated on one copy) is recorded but **explained**
  (``details["explained"]``): the router tells nobody.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any

from ..core.hookspecs import History
from ..core.model import Finding, Severity

INDEPENDENT = ("naming.", "sanity.name_chars", "sanity.path_length", "permissions.", "reelwatch.")
"""Rule ids (or prefixes) about the name or the place of a file, never about its content."""
SAME_PROBLEM: dict[str, tuple[str, ...]] = {
    "sanity.name_chars": ("naming.characters", "naming.mismatch", "naming.field", "naming.version_padding",
                          "naming.frame_padding"),
    "sanity.path_length": ("naming.path_length",),
    "integrity.changed_after_ingest": ("mhl.hash_mismatch", "manifest.mismatch"),
}
"""A general rule id -> the more specific rule ids that, on the same asset, say the same thing."""
ALSO_KEPT = 12


def _independent(rule: str) -> bool:
    return rule.startswith(INDEPENDENT)


def _also(f: Finding) -> dict[str, Any]:
    return {"rule": f.rule, "severity": f.severity.label, "message": f.message}


def fold(findings: Sequence[Finding]) -> list[Finding]:
    """The findings of one asset check, consequences folded under the finding that explains them."""
    if len(findings) < 2:
        return list(findings)
    host: dict[int, int] = {}
    roots = [i for i, f in enumerate(findings) if f.details.get("root_cause")]
    if roots:
        root = max(roots, key=lambda i: (findings[i].severity, -i))
        host.update((i, root) for i, f in enumerate(findings) if i != root and not _independent(f.rule))
    for i, f in enumerate(findings):
        if i in host or f.rule not in SAME_PROBLEM:
            continue
        specific = next((j for j, g in enumerate(findings) if j != i and g.rule in SAME_PROBLEM[f.rule]), None)
        if specific is not None:
            host[i] = specific
    if not host:
        return list(findings)

    def final(i: int) -> int:
        seen = {i}
        while i in host and host[i] not in seen:
            i = host[i]
            seen.add(i)
        return i

    under: dict[int, list[Finding]] = {}
    for i in host:
        under.setdefault(final(i), []).append(findings[i])
    out = []
    for i, f in enumerate(findings):
        if i in host:
            continue
        folded = under.get(i)
        if folded:
            also = [*f.details.get("also", ()), *(_also(g) for g in folded)][:ALSO_KEPT]
            worst = max([f.severity, *(g.severity for g in folded)])
            # everyone who would have heard about a consequence hears about the root cause, once
            impacts = tuple(dict.fromkeys([*f.impacts, *(r for g in folded for r in (g.owner, *g.impacts)
                                                         if r and r != f.owner)]))
            f = replace(f, severity=worst, impacts=impacts, details={**f.details, "also": also})
        out.append(f)
    return out


def explain(findings: Sequence[Finding], history: History) -> list[Finding]:
    """Batch findings marked ``explained`` when the problems they repeat are already on record: each group
    of ``details["consequence_of"]`` (the copies of one file, as ``[volume, relpath]`` pairs) has a copy with a
    problem of error severity or worse (open, or raised in this same batch by another rule)."""
    here: set[tuple[str, str]] = {(f.asset.volume, f.asset.relpath) for f in findings
                                  if f.severity >= Severity.ERROR and not f.details.get("consequence_of")}
    out = []
    for f in findings:
        groups = [list(_pairs(g)) for g in f.details.get("consequence_of") or ()]
        if groups and all(any(p in here or _reported(history, *p, f.rule) for p in g) for g in groups):
            f = replace(f, details={**f.details, "explained": True})
        out.append(f)
    return out


def _pairs(value: Any) -> Iterable[tuple[str, str]]:
    for item in value or ():
        if isinstance(item, list | tuple) and len(item) == 2 and all(isinstance(x, str) for x in item):
            yield item[0], item[1]


def _reported(history: History, volume: str, relpath: str, rule: str) -> bool:
    family = rule.partition(".")[0] + "."
    return any(not r.startswith(family) and Severity.parse(sev) >= Severity.ERROR
               for r, sev in history.open_findings(volume, relpath))
