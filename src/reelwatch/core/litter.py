"""What no production cares about: OS litter and the temp names of copies in flight.

Used by the builtin ``ignore`` rules and by whatever lists a folder without the plugin manager
(comparing offload copies).
"""

from __future__ import annotations

import re

LITTER = frozenset({".DS_Store", "Thumbs.db", "desktop.ini", ".localized", "Icon\r", ".apdisk"})
LITTER_DIRS = frozenset({".Spotlight-V100", ".Trashes", ".fseventsd", ".TemporaryItems", ".DocumentRevisions-V100",
                         "$RECYCLE.BIN", "System Volume Information", "lost+found", ".Trash-1000", "@eaDir",
                         "#recycle", ".snapshot", ".zfs"})
_IN_FLIGHT = r"""
    ^\..+\.[A-Za-z0-9]{6}$    # rsync in-flight: .name.XXXXXX
  | \.(part|partial|tmp|temp|crdownload|download|filepart|!sync)$
"""
IN_FLIGHT = re.compile(_IN_FLIGHT, re.IGNORECASE | re.VERBOSE)
"""The temp names of a copy still being written (not AppleDouble forks or editor backups, which stay)."""
TEMP_NAME = re.compile(r"""
    ^\._                      # AppleDouble resource forks
  | ^~\$ | ~$                 # Office locks, editor backups
  | ^\.~lock\.
  |""" + _IN_FLIGHT, re.IGNORECASE | re.VERBOSE)


def is_in_flight(name: str) -> bool:
    """True for a file a copy is still writing under a temp name: the copy is not finished."""
    return bool(IN_FLIGHT.search(name))


def is_temp_name(name: str) -> bool:
    """True for names that copies use while in flight; such files are followed to their final name."""
    return bool(TEMP_NAME.search(name))
