"""Timelines: which cut uses which clip, and does every clip a cut uses exist, whole and right.

This subpackage is the engine only. It reads cut lists (CMX 3600 EDL, Final Cut Pro 7 /
Premiere XML, FCPXML, AAF, ``.otio``) with OpenTimelineIO, turns them into exact
:class:`Event` values, matches events to the clips reelwatch knows through a :class:`Catalog`
of indexed lookups, runs the ``conform.*`` checks as pure functions, compares versions of a
timeline, and words the impact of a clip's problem on the cuts that use it.

What lives where:

- :mod:`.values`: :class:`Event`, :class:`Timeline`, :class:`Issue`, version names (no I/O)
- :mod:`.timecode`: exact rates (24000/1001) and SMPTE timecode, drop-frame included
- :mod:`.names`: how editors name sources (Windows paths, Avid decorations, ARRI tapes, bext)
- :mod:`.read`, :mod:`.extract`: reading a cut list, never raising (the only modules that
  import OpenTimelineIO; ``pip install 'reelwatch[timelines]'``)
- :mod:`.catalog`: :class:`Clip`, :func:`clip_from_asset`, :func:`keys_for`, :class:`Catalog`,
  :class:`MemoryCatalog`
- :mod:`.sqlcatalog`: the tables the state store needs (clips and their keys, timelines, uses,
  waiting events) and the code over them: :class:`SqlCatalog`, :class:`SqlTimelines`
- :mod:`.match`: :func:`match_timeline`, :func:`wanted_keys` (events waiting for media)
- :mod:`.conform`, :mod:`.rules`: the ``conform.*`` checks, summary and rule wording
- :mod:`.diff`: current versions and what changed between two
- :mod:`.impact`: "used in 3 events of AGM_104_R2_v12 (record ...)" and who must hear it

Imports allowed here: the standard library, OpenTimelineIO and its adapter packages (pyaaf2
comes with the AAF one), and the values of :mod:`reelwatch.core.model`. Nothing from the daemon,
store, config, pipeline or CLI: those wire this engine in (:mod:`reelwatch.checking.timelines`,
:mod:`reelwatch.service.timelines`, :mod:`reelwatch.cli.timeline`; ``docs/timelines.md``).
"""

from __future__ import annotations

from .catalog import Catalog, Clip, MemoryCatalog, clip_from_asset, keys_for
from .conform import Report, Summary, conform
from .diff import Diff, current, diff, supersedes
from .impact import Use, display_name, impact_roles, impact_text, shot_of, uses_of
from .match import Match, match_event, match_timeline, relevant, wanted_keys
from .read import CutList, cut_list_format, read_cut_list, read_isolated
from .rules import RULES, rule_infos
from .sqlcatalog import SCHEMA, TIMELINE_SCHEMA, SqlCatalog, SqlTimelines, Stored
from .values import Event, Issue, SeqRef, Timeline, purpose_of, version_of

__all__ = [
    "RULES", "SCHEMA", "TIMELINE_SCHEMA", "Catalog", "Clip", "CutList", "Diff", "Event", "Issue", "Match",
    "MemoryCatalog", "Report", "SeqRef", "SqlCatalog", "SqlTimelines", "Stored", "Summary", "Timeline", "Use",
    "clip_from_asset", "conform", "current", "cut_list_format", "diff", "display_name", "impact_roles", "impact_text",
    "keys_for", "match_event", "match_timeline", "purpose_of", "read_cut_list", "read_isolated", "relevant",
    "rule_infos", "shot_of", "supersedes", "uses_of", "version_of", "wanted_keys",
]
