"""Seals that arrived unseen: ASC MHL histories written while the daemon was stopped, or whose events
were lost in an inotify queue overflow.

The daemon verifies a folder again when its ``ascmhl/`` history changes (the files in it are checked
against the new history, and the card's "safe to format" verdict is judged again). It learns of the
change from filesystem events, and a rescan does not look inside ``ascmhl/`` (it is not media). So
after each rescan of a volume, every folder that holds live assets, and each folder above them, is
asked whether its history differs from the one last verified (a signature of the history's file
names, sizes and modification times, kept in the state database's ``meta`` table); those that do
are verified as if their events had been seen. One ``stat`` per folder, not per file.

:class:`Reverify` is the daemon's side: folders whose history changed wait until they are quiet,
then every asset below them is checked again (with cached facts and hashes).
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from collections.abc import Iterable, Iterator
from typing import Any

import structlog

from ..integrity.mhl.read import FOLDER
from ..state.store import Store
from ..watch.settle import Unit, resolve
from ..watch.volumes import VolumeRuntime
from .parts import Parts

log = structlog.get_logger("reelwatch.daemon")
KEY = "history_seen"
SWEEP_EVERY = 30.0
"""Seconds between looks for histories that arrived unseen (one stat per folder of the volume)."""


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


class Reverify:
    """Folders whose ``ascmhl/`` history or checksum manifest changed, verified again once quiet."""

    def __init__(self, parts: Parts) -> None:
        self.d = parts
        self.pending: dict[tuple[str, str], float] = {}
        self._swept: dict[str, tuple[Any, float]] = {}
        self._lock = threading.Lock()

    def changed(self, volume: str, folder: str) -> None:
        """An ascmhl/ history or a manifest changed: re-verify that folder once it is quiet."""
        with self._lock:  # called from observer threads
            self.pending[(volume, folder)] = time.monotonic()

    def verify_due(self) -> None:
        d = self.d
        assert d.store is not None and d.pipeline is not None
        with self._lock:
            due = []
            for (volume, folder), at in list(self.pending.items()):
                vol = d.volumes.get(volume)
                if vol is None or time.monotonic() - at >= max(vol.cfg.settle, 1.0):
                    del self.pending[(volume, folder)]
                    if vol is not None:
                        due.append((volume, folder, vol))
        for volume, folder, vol in due:
            prefix = f"{folder}/" if folder else ""
            rels = [rel for rel, _, _ in d.store.known_paths(volume, prefix)]
            log.info("history_changed", volume=volume, folder=folder or ".", assets=len(rels))
            for rel in rels:  # checked again against the new history, with cached facts and hashes
                parent, _, name = rel.rpartition("/")
                record = d.store.asset(volume, rel)
                sequence = record is not None and record.kind == "image_sequence"
                current = resolve(volume, vol.root, Unit(parent, name, sequence), vol.links)
                if current is not None:
                    d.enqueue(current[1], force=True)
            remember(d.store, volume, vol.root, folder)

    def sweep(self, vol: VolumeRuntime) -> None:
        """After a rescan (at most every SWEEP_EVERY s): histories that arrived unseen, while stopped, in
        an event overflow or on a polled share, are verified as if their events had been seen."""
        assert self.d.store is not None
        seen, at = self._swept.get(vol.name, (None, float("-inf")))
        if vol.last_scan is None or vol.last_scan is seen or time.monotonic() - at < SWEEP_EVERY:
            return
        self._swept[vol.name] = (vol.last_scan, time.monotonic())
        for folder in unseen(self.d.store, vol.name, vol.root):
            self.changed(vol.name, folder)
