"""The rule ids the forecasts raise, documented like every rule (docs/rules.md, "Forecasts").

Reminders before a due time are messages, not findings: nothing is wrong yet, so there is
nothing to acknowledge or resolve.
"""

from __future__ import annotations

from ..core.model import RuleInfo, Severity
from .deliveries import INVALID, OVERDUE
from .offload import OWNER as OFFLOAD_OWNER
from .offload import RULE as ONE_COPY
from .space import RULE as DRIVE_FULL

RULES = (
    RuleInfo(DRIVE_FULL, "A drive will be full within a warning horizon at the rate it is filling, or is full; "
             "raised once per horizon, resolved when space comes back.", Severity.WARNING, None, (),
             "SHUTTLE_02 will be full in about 35 min at the current offload rate (1.2 TB/h); 410 GB free"),
    RuleInfo(ONE_COPY, "A card has been on one copy only for longer than second_copy_within, with no second copy "
             "in progress; resolved when a second copy holds it.", Severity.WARNING, OFFLOAD_OWNER, (),
             "Card A002R2EC has been on one copy only (raid_a) for more than 30 min: one copy is not a backup "
             "(not on shuttle yet)"),
    RuleInfo(OVERDUE, "A scheduled delivery is past its due time and not delivered, or the version that arrived "
             "fails its checks; resolved when a clean version lands.", Severity.ERROR, "vfx", ("supervisor",),
             "AGM_104_065_010 comp v003 was due Fri 3 May 18:00 BST from DNEG and is not delivered "
             "(only v002 here)"),
    RuleInfo(INVALID, "A new version of a delivery schedule cannot be read; the previous version stays in force.",
             Severity.ERROR, "vfx", ("supervisor",),
             "vfx_schedule_v005.csv cannot be used: 1 problem (vfx_schedule_v005.csv:7: due '03/05/2024 18:00' "
             "is not a date and time ...); the previous version (vfx_schedule_v004.csv, 12 deliveries) stays in "
             "force"),
)
