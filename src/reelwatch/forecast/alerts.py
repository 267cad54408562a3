"""Alerts with a stable identity: opened once, changed at most once per step, resolved once.

A forecast's numbers move every minute ("full in about 35 min", then 34, 33 ...), so its
finding cannot be identified by its message the way a check's finding is. Each alert has a
``key`` instead (``forecast.drive_full:shuttle-SHUTTLE_02``), and every watch reports only
*transitions* of it:

- ``new``: the alert opens; its owner hears about it, its impacted roles are told it affects them;
- ``changed``: it got worse in a way people must hear (a tighter horizon; a missing delivery
  arrived but fails its checks): the same finding, a new message and severity;
- ``resolved``: it no longer holds; ``finding.message`` says why (room again, copied, delivered).

Nothing else is ever reported, so a value that wobbles produces no message at all. The open
alerts and what each watch remembers about them are part of the engine's snapshot, which the
state store commits in the same transaction as the transitions (docs/forecast.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from ..core.model import Finding

Kind = Literal["new", "changed", "resolved"]


@dataclass(frozen=True, slots=True)
class Transition:
    """One change of one alert, to be recorded as a finding (keyed by ``key``) with its notices."""

    kind: Kind
    key: str
    """Stable identity of the alert: ``<rule id>:<subject>``; the store keeps one open finding per key."""
    finding: Finding
    """The finding as it is now. For ``resolved``, its message says why it no longer holds."""


class Ledger:
    """The open alerts of one watch, each with a small JSON-able memo (what it was raised at)."""

    def __init__(self) -> None:
        self._open: dict[str, dict[str, Any]] = {}

    def __contains__(self, key: str) -> bool:
        return key in self._open

    def __len__(self) -> int:
        return len(self._open)

    def keys(self) -> list[str]:
        return sorted(self._open)

    def memo(self, key: str) -> dict[str, Any]:
        """What was remembered when the alert opened or last changed (empty when it is not open)."""
        return dict(self._open.get(key, {}))

    def raise_(self, key: str, finding: Finding, memo: Mapping[str, Any]) -> Transition:
        """Open the alert, or change it when it is open already."""
        kind: Kind = "changed" if key in self._open else "new"
        self._open[key] = dict(memo)
        return Transition(kind, key, finding)

    def remember(self, key: str, memo: Mapping[str, Any]) -> None:
        """Update an open alert's memo without telling anyone."""
        if key in self._open:
            self._open[key] = dict(memo)

    def resolve(self, key: str, finding: Finding) -> Transition:
        self._open.pop(key, None)
        return Transition("resolved", key, finding)

    def snapshot(self) -> dict[str, dict[str, Any]]:
        return {k: dict(v) for k, v in sorted(self._open.items())}

    def restore(self, data: Mapping[str, Any]) -> None:
        self._open = {str(k): dict(v) for k, v in data.items() if isinstance(v, Mapping)}
