"""Where config paths lead: the volume (or mount-root drive) that holds a path, as the daemon
names it, and warnings about paths and roles that are valid but will not work as meant."""

from __future__ import annotations

import fnmatch
import os
from pathlib import Path

from .config import Config, Problem, Volume, drive_volume_name, locate

GLOB = set("*?[")
"""A volume path with any of these is a mount root (DIT cart): each folder it matches is a drive."""


def config_warnings(config: Config, text: str | None = None) -> list[Problem]:
    """What is valid but will not work as meant: volume paths that do not exist (yet), and
    roles that nobody can reach (no notification targets)."""
    out: list[Problem] = []
    for i, vol in enumerate(config.volumes):
        path = config.resolve(vol.path)
        if GLOB & set(vol.path):  # a mount root: its drives come and go, its parent stays
            parent = path.parent
            while GLOB & set(str(parent)):
                parent = parent.parent
            if not parent.is_dir():
                out.append(Problem(f"volumes[{i}].path: {parent} does not exist, so no drive can appear under "
                                   f"the mount root {vol.path}", ("volumes", i, "path")))
            continue
        if not path.exists():
            out.append(Problem(f"volumes[{i}].path: {path} does not exist (yet); volume {vol.name!r} is reported "
                               "unavailable until it appears", ("volumes", i, "path")))
        elif not path.is_dir():
            out.append(Problem(f"volumes[{i}].path: {path} is a file, not a folder", ("volumes", i, "path")))
    for name, role in config.roles.items():
        if not role.notify:
            out.append(Problem(f"roles.{name}: no notify targets, so nobody hears about what {name!r} must know "
                               "or fix; add an apprise URL to notify", ("roles", name)))
    return locate(out, text)


def volume_of(config: Config, path: str | Path) -> tuple[str, Path, str] | None:
    """(volume name, root, relpath) of a path as the daemon names it: inside a configured
    volume, or inside a drive under a mount root (``shuttle-SHUTTLE_01``, see
    :func:`drive_volume_name`). None when no volume holds it."""
    given = Path(os.path.abspath(Path(path).expanduser()))
    candidates = [given] + ([given.resolve()] if given.resolve() != given else [])
    for p in candidates:
        for vol in config.volumes:
            if GLOB & set(vol.path):
                continue
            root = config.resolve(vol.path).resolve()
            if p == root or root in p.parents:
                return vol.name, root, p.relative_to(root).as_posix() if p != root else ""
    for p in candidates:
        for vol in config.volumes:
            if not GLOB & set(vol.path):
                continue
            pattern = Path(os.path.abspath(config.resolve(vol.path))).parts
            n = len(pattern)
            if len(p.parts) >= n and all(fnmatch.fnmatchcase(p.parts[i], pattern[i]) for i in range(n)):
                drive = Path(*p.parts[:n])
                return drive_volume_name(vol.name, str(drive)), drive, Path(*p.parts[n:]).as_posix() \
                    if len(p.parts) > n else ""
    return None


def mount_root(config: Config, name: str) -> Volume | None:
    """The mount-root volume called ``name`` (its drives are ``name-<drive>``), if it is one."""
    vol = config.volume(name)
    return vol if vol is not None and GLOB & set(vol.path) else None
