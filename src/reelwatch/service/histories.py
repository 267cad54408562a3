"""Seals that arrived unseen: ASC MHL histories written while the daemon was stopped, or whose events
were lost in an inotify queue overflow.

The daemon verifies a folder again when its ``ascmhl/`` history changes (the files in it are checked
against the new history, and the card's "safe to format" verdict is judged again). It learns of the
change from filesystem events, and a rescan does not look inside ``ascmhl/`` (it is not media). So
after each rescan of a volume, every folder that holds live assets, and each folder above them, is
asked whether its history differs from the one last verified (a signature of the history's file
names, sizes and modification times, kept in the state database's ``meta`` table); those that do
are verified as if their events had been seen. One ``stat`` per folder, not per file.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Iterator

from ..integrity.mhl.read import FOLDER
from ..state.store import Store

KEY = "history_seen"


def signature(root: str, folder: str) -> str:
    """A digest of the history in ``root/folder/ascmhl`` ('' when there is none)."""
    path = os.path.join(root, folder, FOLDER) if folder else os.path.join(root, FOLDER)
    try:
        with os.scandir(path) as it:
            entries = sorted((e.name, e.stat().st_size, e.stat().st_mtime_ns) for e in it if e.is_file())
    except OSError:
        return ""
    return hashlib.sha1(json.dumps(entries).encode()).hexdigest()[:16] if entries else ""


def _key(volume: str, folder: str) -> str:
    return f"{KEY}\x1f{volume}\x1f{folder}"


def remember(store: Store, volume: str, root: str, folder: str) -> None:
    """Record the history of a folder as verified now."""
    with store.tx() as db:
        db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (_key(volume, folder), signature(root, folder)))


def _candidates(folders: Iterable[str]) -> set[str]:
    out: set[str] = set()
    for folder in folders:
        parts = folder.split("/") if folder else []
        out.update("/".join(parts[:i]) for i in range(len(parts) + 1))
    return out


def unseen(store: Store, volume: str, root: str) -> Iterator[str]:
    """Folders of a volume whose history is not the one last verified (new, changed or gone)."""
    known = {row[0].split("\x1f")[2]: row[1] for row in store.query(
        "SELECT key, value FROM meta WHERE key >= ? AND key < ?", (_key(volume, ""), _key(volume, "") + "\uffff"))}
    for folder in sorted(_candidates(store.folders(volume)) | set(known)):
        if signature(root, folder) != known.get(folder, ""):
            yield folder
