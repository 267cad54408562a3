"""Image sequences for rule plugins: grouping frame names into runs and saying which frames are missing.

An image sequence (``plate.1001-1010#.dpx``) reaches a check as one :class:`~reelwatch.api.Asset`
whose ``sequence`` is a :class:`~reelwatch.api.SequenceInfo` (frame numbers, sizes in bytes,
padding). These are the helpers the shipped sequence rules use; frame numbers are ints and ranges
are inclusive ``(first, last)`` pairs.
"""

from __future__ import annotations

from ..core.sequences import (count_in, describe_ranges, frame_ranges, group_names, missing_ranges, related_runs,
                              sequence_key)

__all__ = ["count_in", "describe_ranges", "frame_ranges", "group_names", "missing_ranges", "related_runs",
           "sequence_key"]
