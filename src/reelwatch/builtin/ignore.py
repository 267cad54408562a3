"""The builtin ``ignore`` rules: OS litter and the temp names of copies in flight."""

from __future__ import annotations

import re

from ..core.hookspecs import hookimpl

LITTER = frozenset({".DS_Store", "Thumbs.db", "desktop.ini", ".localized", "Icon\r", ".apdisk"})
LITTER_DIRS = frozenset({".Spotlight-V100", ".Trashes", ".fseventsd", ".TemporaryItems", ".DocumentRevisions-V100",
                         "$RECYCLE.BIN", "System Volume Information", "lost+found", ".Trash-1000", "@eaDir",
                         "#recycle", ".snapshot", ".zfs"})
TEMP_NAME = re.compile(r"""
    ^\._                      # AppleDouble resource forks
  | ^\..+\.[A-Za-z0-9]{6}$    # rsync in-flight: .name.XXXXXX
  | \.(part|partial|tmp|temp|crdownload|download|filepart|!sync)$
  | ^~\$ | ~$                 # Office locks, editor backups
  | ^\.~lock\.
""", re.IGNORECASE | re.VERBOSE)


def is_temp_name(name: str) -> bool:
    """True for names that copies use while in flight; such files are followed to their final name."""
    return bool(TEMP_NAME.search(name))


class IgnoreRules:
    """Ignore what no production cares about, so it is never checked or reported."""

    @hookimpl(trylast=True)
    def ignore(self, volume: str, relpath: str) -> bool | None:
        folder = relpath.endswith("/")
        parts = relpath.rstrip("/").split("/")
        if any(p in LITTER_DIRS for p in (parts if folder else parts[:-1])):
            return True
        if folder:
            return None
        name = parts[-1]
        if name in LITTER or is_temp_name(name):
            return True
        return None
