"""The builtin ``ignore`` rules: OS litter and the temp names of copies in flight."""

from __future__ import annotations

from ..core.hookspecs import hookimpl
from ..core.litter import LITTER, LITTER_DIRS, is_temp_name

__all__ = ["LITTER", "LITTER_DIRS", "IgnoreRules", "is_temp_name"]


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
