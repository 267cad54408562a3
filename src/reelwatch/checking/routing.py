"""Who hears about a finding: the volume's owner filled in, ``[overrides]`` applied, and the
roles a finding goes to (its owner, its impacted roles, and whoever ``route`` hooks name).

Shared by the pipeline, ``reelwatch check`` and the nightly re-hash.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import structlog

from ..core.config import Config
from ..core.manager import PluginManager
from ..core.model import Finding, Severity, as_tuple

log = structlog.get_logger("reelwatch.pipeline")
FALLBACK_OWNER = "supervisor"


def apply_defaults(finding: Finding, config: Config) -> Finding | None:
    """Fill in the volume owner and apply ``[overrides."rule.id"]``; None when disabled."""
    override = config.overrides.get(finding.rule)
    if override is not None and not override.enabled:
        return None
    changes: dict[str, object] = {}
    if finding.owner is None:
        volume = config.volume(finding.asset.volume)
        changes["owner"] = volume.owner if volume else FALLBACK_OWNER
    if override is not None:
        if override.severity:
            changes["severity"] = Severity.parse(override.severity)
        if override.owner:
            changes["owner"] = override.owner
        if override.impacts is not None:
            changes["impacts"] = as_tuple(override.impacts)
    return replace(finding, **changes) if changes else finding  # type: ignore[arg-type]


@dataclass
class RoleRouter:
    """Who hears about a finding: its owner (``new``), its impacted roles and any extra
    recipients named by ``route`` hooks (``affects``). Unknown roles are skipped."""

    pm: PluginManager
    config: Config
    warned: set[str] = field(default_factory=set)

    def __call__(self, finding: Finding) -> list[tuple[str, str]]:
        if finding.details.get("explained"):
            return []  # a consequence of problems already reported on its files (see reelwatch.checking.fold)
        known = set(self.config.roles)
        out: list[tuple[str, str]] = []
        wanted = [(finding.owner, "new")] + [(r, "affects") for r in finding.impacts]
        wanted += [(r, "affects") for r in self.pm.route(finding, self.config)]
        for role, kind in wanted:
            if not role or any(role == r for r, _ in out):
                continue
            if role not in known:
                if known and role not in self.warned:
                    self.warned.add(role)
                    log.warning("unknown_role", role=role, rule=finding.rule)
                continue
            out.append((role, kind))
        return out
