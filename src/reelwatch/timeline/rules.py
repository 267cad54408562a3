"""The ``conform.*`` rule family: ids, default severity, owner, impacts and the wording of
each (what is expected, what it does downstream, how to fix it).

Every conform problem is raised on the cut list file (its asset), not on a clip: a clip in
no cut is not a conform problem, and an offline clip has no asset to hang a finding on.
A problem *in a clip* (truncated, wrong frame rate) stays that clip's finding, owned by
whoever owns the clip; the conform report lists the events it breaks (``conform.media_error``)
and the clip's own message says where it is used (:mod:`.impact`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from reelwatch.core.model import RuleInfo, Severity, freeze

from .values import Issue


@dataclass(frozen=True, slots=True)
class ConformRule:
    """A rule's documentation (:class:`~reelwatch.core.model.RuleInfo`) plus its standing wording."""

    info: RuleInfo
    expected: str
    impact: str
    fix: str

    def issue(self, message: str, events: tuple[int, ...] = (), *, severity: Severity | None = None,
              fix: str | None = None, details: Mapping[str, Any] | None = None) -> Issue:
        return Issue(rule=self.info.id, severity=severity or self.info.severity, message=message,
                     owner=self.info.owner, impacts=self.info.impacts, expected=self.expected,
                     impact=self.impact, fix=fix or self.fix, events=events, details=freeze(dict(details or {})))


def _rule(rule_id: str, summary: str, severity: Severity, impacts: tuple[str, ...], example: str,
          expected: str, impact: str, fix: str) -> ConformRule:
    return ConformRule(RuleInfo(rule_id, summary, severity, "editorial", impacts, example), expected, impact, fix)


RULES: Mapping[str, ConformRule] = MappingProxyType({r.info.id: r for r in (
    _rule("conform.unreadable", "A cut list (EDL, XML, FCPXML, AAF, OTIO) could not be read: broken, empty, "
          "or written in a way its reader does not support.", Severity.ERROR, ("vfx", "colour"),
          "cut list AGM_104_R2_v12.edl could not be read: the EDL reader failed on event 3 (a dissolve "
          "with no incoming clip)",
          "a cut list that OpenTimelineIO's readers can read",
          "Nothing in this cut list can be checked: offline media and broken clips in it go unnoticed, "
          "and turnovers made from it cannot be trusted",
          "Export the cut list again from the editing system (for an EDL: CMX 3600, one video track, "
          "no nested effects) and replace this file"),
    _rule("conform.cut_list_rate", "The frame rate a cut list runs at differs from the production's base "
          "rate, or an EDL's timecodes cannot be at the base rate (frames past the rate's last frame).",
          Severity.WARNING, ("colour", "vfx"),
          "the EDL's timecodes run to frame 24 (01:00:01:24, event 4), which 23.976 fps timecode does not "
          "have; it was read at 25 fps",
          "cut lists at the production's base frame rate",
          "Source and record timecodes are counted at the wrong rate, so conform, VFX pulls and the online "
          "grab the wrong frames",
          "Check the project's frame rate in the editing system and export again; if the rate is right, "
          "set the production's base_frame_rate"),
    _rule("conform.offline", "Events whose media is on no volume: no file, clip, reel or take of that name "
          "is known, or it was known and has gone.", Severity.ERROR, ("dit", "vfx", "colour"),
          "A004C010_20100610_R1JL is offline: used in 3 events (record 01:02:03:04, 01:05:10:00, "
          "01:07:22:12); no file of that name is on any volume",
          "every clip the cut uses on a watched volume",
          "The conform and the online will have black holes where this media should be, and a turnover "
          "from this cut cannot be delivered whole",
          "Copy the clip onto the edit volume from its camera card or shuttle drive (or ask the DIT or VFX "
          "vendor to deliver it); if it was renamed, relink it in the edit and export the cut list again"),
    _rule("conform.ambiguous", "Events that more than one different clip could be (same name or reel, "
          "overlapping timecode); they are listed, never guessed.", Severity.WARNING, ("vfx", "colour"),
          "event 12 (C0001, reel A002) could be 2 different clips: Card_A/C0001.MXF (01:00:00:00-01:02:10:11) "
          "and Card_B/C0001.MXF (01:00:00:00-01:01:05:03)",
          "one clip for each event, told apart by name, reel and source timecode",
          "The conform can link the wrong take, and checks on this event are made against a guess",
          "Give the clips unique reel or tape names (or export the cut list with source file paths), "
          "or remove the duplicate from the volumes"),
    _rule("conform.media_error", "Events whose media has open errors (truncated, wrong frame rate, changed "
          "after ingest ...); the clip's own finding is the cause and is reported to its owner.",
          Severity.ERROR, ("vfx", "colour"),
          "2 events use A004C010_20100610_R1JL.mov, which has open problems: sanity.truncated",
          "every clip the cut uses free of open errors",
          "The conform and the online will use broken media: dropped or frozen frames, wrong timing",
          "Fix the clip (see its own finding: re-copy it from the card or ask for a new delivery); this "
          "clears once the clip's findings are resolved"),
    _rule("conform.source_range", "An event uses source frames beyond the clip's end (or before its start): "
          "the clip is shorter than the cut needs.", Severity.ERROR, ("vfx", "colour"),
          "event 7 uses 01:00:10:00-01:00:12:05 of A004C010_20100610_R1JL.mov, which runs "
          "01:00:00:00-01:00:11:23: 6 frames have no media",
          "every event's source range inside its clip's timecode range",
          "The conform will have missing frames at the end of the shot, or pick up other frames",
          "Check the clip is complete (a truncated copy or a shortened VFX delivery looks like this); "
          "re-copy or re-deliver it with the frames the cut uses, or trim the event in the edit"),
    _rule("conform.frame_rate", "An event's clip runs at another frame rate than its timeline (compared "
          "exactly: 23.976 is 24000/1001, not 24).", Severity.WARNING, ("colour", "vfx"),
          "event 9 uses A001C003_..._R2EC.mov at 25 fps in a 23.976 (24000/1001) fps timeline",
          "clips at the timeline's frame rate, or a speed change the editor chose",
          "The NLE plays the clip with a speed change or frame blending that the conform and VFX may not "
          "reproduce",
          "If the speed change is not intended, ask for the clip at the timeline's rate (or a conversion) "
          "before turnover; if it is, note it in the turnover"),
)})


def rule_infos() -> tuple[RuleInfo, ...]:
    """The ``conform.*`` rules, for a plugin's ``rules`` hook and docs/rules.md."""
    return tuple(r.info for r in RULES.values())
