"""Walking a folder tree: one folder at a time, streaming, never following a link into a folder.

:func:`walk_tree` is ``os.walk`` for reelwatch's needs: it hands out each folder's
:class:`os.DirEntry` objects (their ``d_type`` and cached stat spare a syscall per file) sorted
by name, so that every listing, report and manifest comes out in the same order on every run,
and it says which folder could not be listed instead of skipping it quietly. It holds one
folder's entries at a time, so a million-file tree costs no more memory than its largest folder.

The reconcile scan (:mod:`reelwatch.watch.scan`, folder descriptors and ``O_NOFOLLOW``), the
inotify watch setup (bytes paths, link counts) and ASC MHL generations (hashes of a folder's
structure, children first) walk on their own, for the reasons given there.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator


def join(folder: str, name: str) -> str:
    """A path relative to the walked root, posix style (``""`` is the root itself)."""
    return f"{folder}/{name}" if folder else name


def walk_tree(root: str | os.PathLike[str], start: str = "", *,
              on_error: Callable[[str, OSError], None] | None = None,
              sort: bool = True) -> Iterator[tuple[str, list[os.DirEntry[str]], list[str]]]:
    """Yield ``(folder, entries, subfolders)`` for ``start`` and every folder below it, parents first.

    ``folder`` and ``subfolders`` are relative to ``root``; ``subfolders`` holds the entries that
    are folders (links to folders are not), in order, and the caller may change it in place, like
    ``os.walk``'s ``dirnames``, to choose where the walk goes next. A folder that cannot be listed
    is passed to ``on_error`` (with the error) and skipped.
    """
    stack = [start]
    while stack:
        folder = stack.pop()
        try:
            with os.scandir(os.path.join(root, folder) if folder else root) as it:
                entries = list(it)
        except OSError as exc:
            if on_error is not None:
                on_error(folder, exc)
            continue
        if sort:
            entries.sort(key=lambda e: e.name)
        subfolders = [join(folder, e.name) for e in entries if _is_folder(e)]
        yield folder, entries, subfolders
        stack.extend(reversed(subfolders))


def _is_folder(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir(follow_symlinks=False)
    except OSError:
        return False
