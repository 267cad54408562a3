"""Frame grabs for an asset's page: the daemon's own grab when it made one, else one made now in a
child process (decoding a broken file must never take the server down), kept beside the daemon's
in the state folder and named the same way (per file version), so each is made once."""

from __future__ import annotations

import threading
from pathlib import Path

from ..notify.thumbs import grab_isolated, grab_path

__all__ = ["grab_for", "grab_path"]

_lock = threading.Lock()


def grab_for(folder: Path, source: Path) -> Path | None:
    dest = grab_path(folder, source)
    if dest is None or dest.with_suffix(".failed").exists():
        return None
    if dest.is_file():
        return dest
    with _lock:  # one decode at a time: a page full of people must not start a decoder each
        if dest.is_file():
            return dest
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError:
            return None
        if not grab_isolated(source, dest):
            dest.with_suffix(".failed").touch()
            return None
    return dest
