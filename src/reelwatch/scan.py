"""Reconcile a volume with the state database, streaming: no whole-tree snapshot in memory.

The tree is walked one folder at a time with ``os.scandir``; each folder's listing is
compared with the assets the store holds for that folder (one indexed query). Anything new
or changed is handed to the settler exactly as a live event would be; assets whose files
are gone are marked gone. Memory is bounded by the largest single folder.
"""

from __future__ import annotations

import os
import stat as statmod
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import structlog

from .sequences import IMAGE_EXTENSIONS, frame_key
from .settle import unit_of
from .store import Store

log = structlog.get_logger("reelwatch.scan")


class VolumeUnavailable(Exception):
    """The volume's root is not there (unmounted, share down): nothing may be marked gone."""


@dataclass
class ScanResult:
    files: int = 0
    folders: int = 0
    touched: int = 0
    gone: int = 0
    unreadable: list[str] = field(default_factory=list)
    seconds: float = 0.0


def scan_volume(volume: str, root: str, store: Store, touch: Callable[[str], None],
                ignore: Callable[[str, str], bool], *, mark_gone: bool = True, start: str = "",
                progress: Callable[[], None] | None = None) -> ScanResult:
    """Walk ``root`` (or the ``start`` folder under it) and touch every path that differs from
    the store. Never writes to ``root``. ``mark_gone`` is only honoured for whole-volume scans."""
    if not os.path.isdir(root):
        raise VolumeUnavailable(root)
    started = time.monotonic()
    result = ScanResult()
    visited: set[str] = set()
    blind: set[str] = set()
    stack = [start]
    mark_gone = mark_gone and not start
    while stack:
        folder = stack.pop()
        if progress is not None and result.folders % 64 == 63:
            progress()
        path = os.path.join(root, folder) if folder else root
        try:
            entries = list(os.scandir(path))
        except FileNotFoundError:
            continue
        except OSError as exc:
            result.unreadable.append(f"{folder or '.'}: {exc.strerror}")
            log.warning("folder_unreadable", volume=volume, folder=folder or ".", error=exc.strerror)
            blind.add(folder)  # do not mark its contents gone: we could not look
            continue
        visited.add(folder)
        result.folders += 1
        prefix = f"{folder}/" if folder else ""
        cut = len(prefix)
        known = {rel[cut:]: sig for rel, sig in store.in_folder(volume, folder).items()}  # by name
        seen_units: dict[str, tuple[int, int, int]] = {}
        first_frame: dict[str, str] = {}
        names: set[str] = set()
        for entry in entries:
            name = entry.name  # any bytes the file system allows: the store keeps them as they are
            try:
                if entry.is_dir(follow_symlinks=False):  # d_type: no stat needed
                    if not ignore(volume, prefix + name + "/"):
                        stack.append(prefix + name)
                    continue
                if not entry.is_file(follow_symlinks=False):
                    continue
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            names.add(name)
            if name.rpartition(".")[2].lower() in IMAGE_EXTENSIONS and frame_key(name) is not None:
                unit = unit_of(name).name
                first_frame.setdefault(unit, name)
                count, total, newest = seen_units.get(unit, (0, 0, 0))
                seen_units[unit] = (count + 1, total + st.st_size, max(newest, st.st_mtime_ns))
                continue
            if known.get(name) == (st.st_size, st.st_mtime_ns):
                continue  # unchanged since it was checked: the common case, kept cheap
            rel = prefix + name
            if ignore(volume, rel):
                continue
            touch(rel)
            result.touched += 1
        result.files += len(names)
        for unit, (_count, total, newest) in seen_units.items():
            rel = prefix + unit
            if known.get(unit) != (total, newest) and not ignore(volume, rel):
                touch(prefix + first_frame[unit])  # any frame name of the unit will do
                result.touched += 1
        if mark_gone and known:
            for name in known:
                if name not in names and name not in seen_units:
                    store.mark_gone(volume, prefix + name)
                    result.gone += 1
    if mark_gone and not os.path.isdir(root):
        raise VolumeUnavailable(root)  # it went away during the scan: nothing is marked gone
    if mark_gone:
        for folder in store.folders(volume):
            if folder not in visited and not _under(folder, blind):
                for rel in store.in_folder(volume, folder):
                    store.mark_gone(volume, rel)
                    result.gone += 1
    result.seconds = time.monotonic() - started
    return result


def _under(folder: str, blind: set[str]) -> bool:
    return any(b == "" or folder == b or folder.startswith(b + "/") for b in blind)
