"""The words of the offload mirrors rule (``plugins/mirrors.py``): why a card may not be formatted.

A DIT reads these on a cart with a card in hand, so each reason names the files (up to three)
and the copies, and the copy that is the odd one out when three or more disagree.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .cardseal import SealCheck
from .mirrorset import odd_copies

SHOWN = 3
"""File names quoted in a message."""


def both(labels: Sequence[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    labels = list(labels)
    return labels[0] if len(labels) == 1 else f"{', '.join(labels[:-1])} and {labels[-1]}"


def files(n: int) -> str:
    return f"{n} file" if n == 1 else f"{n:,} files"


def names(rels: Sequence[str]) -> str:
    shown = ", ".join(rels[:SHOWN])
    return f"{shown} and {len(rels) - SHOWN} more" if len(rels) > SHOWN else shown


def _verb(n: int, one: str, many: str) -> str:
    return one if n == 1 else many


def mismatch_parts(cmp: Mapping[str, Any]) -> list[str]:
    """Copies that differ from each other: files that differ, are missing or cannot be read."""
    parts = []
    ties = [n for n, v in cmp["differ"].items() if odd_copies(v) == sorted(v)]
    if ties:
        labels = [lab for lab in cmp["order"] if any(lab in cmp["differ"][n] for n in ties)]
        parts.append(f"{files(len(ties))} {_verb(len(ties), 'does', 'do')} not match between {both(labels)} "
                     f"({names(ties)})")
    odd: dict[str, list[str]] = {}
    for n, v in cmp["differ"].items():
        if n not in ties:
            for lab in odd_copies(v):
                odd.setdefault(lab, []).append(n)
    order = cmp["order"]
    for lab, ns in sorted(odd.items(), key=lambda kv: order.index(kv[0])):
        parts.append(f"the {lab} copy has {files(len(ns))} that {_verb(len(ns), 'does', 'do')} not match the "
                     f"other copies ({names(ns)})")
    for lab, ns in sorted(cmp["missing"].items(), key=lambda kv: order.index(kv[0])):
        parts.append(f"the {lab} copy is missing {files(len(ns))} ({names(ns)})")
    for lab, ns in sorted(cmp["unreadable"].items(), key=lambda kv: order.index(kv[0])):
        dirs = sum(n.endswith("/") for n in ns)
        noun = "folder" if dirs == len(ns) else "file" if not dirs else "item"
        parts.append(f"{len(ns)} {noun}{'s' if len(ns) > 1 else ''} cannot be read on {lab} ({names(ns)})")
    return parts


def _by_copies(checks: Mapping[str, SealCheck], attr: str) -> list[tuple[list[str], list[str]]]:
    """(copies, files) for one kind of seal problem, grouped by the copies it is on."""
    where: dict[str, list[str]] = {}
    for lab, check in checks.items():
        for rel in getattr(check, attr):
            where.setdefault(rel, []).append(lab)
    groups: dict[tuple[str, ...], list[str]] = {}
    for rel, labs in where.items():
        groups.setdefault(tuple(labs), []).append(rel)
    return [(list(labs), sorted(rels)) for labs, rels in groups.items()]


def _on(labs: Sequence[str], every: Sequence[str]) -> str:
    return f"on {'both copies' if len(every) == 2 else 'every copy'}" if len(labs) == len(every) > 1 \
        else f"on {both(labs)}"


def seal_parts(checks: Mapping[str, SealCheck]) -> list[str]:
    """Copies that agree with each other but not with the card's seal, in plain words."""
    every = list(checks)
    kinds = sorted({s for c in checks.values() for s in c.seals}) or ["seal"]
    seal = f"the card's {both(kinds)}" if len(kinds) > 1 or kinds != ["ASC MHL history"] else \
        "the card's ASC MHL seal"
    parts = []
    for labs, rels in _by_copies(checks, "differ"):
        parts.append(f"{files(len(rels))} {_verb(len(rels), 'does', 'do')} not match the checksum in {seal} "
                     f"{_on(labs, every)} ({names(rels)})")
    for labs, rels in _by_copies(checks, "changed"):
        parts.append(f"{files(len(rels))} changed silently since {_verb(len(rels), 'it was', 'they were')} "
                     f"checked, as reelwatch rehash found, {_on(labs, every)} ({names(rels)})")
    for labs, rels in _by_copies(checks, "missing"):
        parts.append(f"{files(len(rels))} listed in {seal} {_verb(len(rels), 'is', 'are')} missing "
                     f"{_on(labs, every)} ({names(rels)})")
    for labs, rels in _by_copies(checks, "unlisted"):
        parts.append(f"{files(len(rels))} {_verb(len(rels), 'is', 'are')} not in {seal} {_on(labs, every)}, so "
                     f"nothing proves {_verb(len(rels), 'it', 'they')} came from the card ({names(rels)})")
    for labs, what in _by_copies(checks, "broken"):
        parts.append(f"the seal itself cannot be trusted {_on(labs, every)} ({names(what)})")
    return parts
