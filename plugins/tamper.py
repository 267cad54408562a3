"""Change after ingest: a checked asset whose size or mtime changes is reported.

A file whose previous version had errors is expected to be replaced (that is the fix), so
only changes to files that had passed their checks are reported.

Camera originals and deliveries are not edited in place. A change to one that reelwatch
has already checked means somebody overwrote, re-rendered or damaged it, and both its owner
and the post supervisor must hear about it. Uses only the public ``check`` hook and the
history view.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, UTC
from typing import Any

from reelwatch.api import Asset, Facts, Finding, History, RuleInfo, Severity, hookimpl

RULE = RuleInfo(
    id="integrity.changed_after_ingest",
    summary="A file that was already checked changed its size or modification time.",
    severity=Severity.ERROR, owner=None, impacts=("supervisor", "editorial"),
    example="A002C006_141024_R2EC.mov changed after ingest: 1,204,400 bytes became 602,200 bytes")


@hookimpl
def rules() -> tuple[RuleInfo, ...]:
    return (RULE,)


def _when(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


@hookimpl
def check(asset: Asset, facts: Facts, history: History, config: Any) -> Iterator[Finding]:
    if history is None:
        return
    previous = history.previous(asset.volume, asset.relpath)
    if previous is None or previous.checked_at is None:
        return
    if (previous.size, previous.mtime_ns) == (asset.size, asset.mtime_ns):
        return
    if any(sev in ("error", "blocker") for _, sev in history.open_findings(asset.volume, asset.relpath)):
        return  # the old version failed its checks: replacing it is the fix, not tampering
    if asset.sequence is not None and asset.size > previous.size:
        changed = f"frames were added to it ({previous.size:,} bytes became {asset.size:,} bytes)"
    elif previous.size != asset.size:
        changed = f"{previous.size:,} bytes became {asset.size:,} bytes"
    else:
        changed = (f"it was rewritten (modified {_when(asset.mtime_ns / 1e9)}; reelwatch first checked it at "
                   f"{_when(previous.first_seen)})")
    yield Finding(
        rule=RULE.id, severity=RULE.severity, asset=asset, owner=None, impacts=RULE.impacts,
        message=f"this file changed after it was checked: {changed}",
        expected="files on this volume are not changed once they have landed",
        impact="anything already conformed, synced or delivered from it may no longer match",
        fix="find out who changed it; compare it with the other copy or its checksum before using it",
        details={"previous_size": previous.size, "previous_mtime_ns": previous.mtime_ns})
