"""Where config paths lead: the volume (or mount-root drive) that holds a path, as the daemon
names it, and warnings about paths and roles that are valid but will not work as meant."""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .config_lines import raw_list, raw_map
from .config import Config, ConfigProblem, Role, Volume, drive_volume_name, locate

GLOB = set("*?[")
"""A volume path with any of these is a mount root (DIT cart): each folder it matches is a drive."""


def config_warnings(raw: Mapping[str, Any], base_dir: str, text: str | None = None) -> list[ConfigProblem]:
    """What is valid but will not work as meant: volume paths that do not exist (yet), and
    roles that nobody can reach (no notification targets). Read from the raw config, so that
    they are reported in the same run as its errors."""
    out: list[ConfigProblem] = []
    volumes = raw_list(raw, "volumes")
    for i, vol in enumerate(volumes):
        written = vol.get("path") if isinstance(vol, Mapping) else None
        if not isinstance(written, str) or not written:
            continue
        path = Path(written).expanduser()
        path = path if path.is_absolute() else Path(base_dir) / path
        if GLOB & set(written):  # a mount root: its drives come and go, its parent stays
            parent = path.parent
            while GLOB & set(str(parent)):
                parent = parent.parent
            if not parent.is_dir():
                out.append(ConfigProblem(f"volumes[{i}].path: {parent} does not exist, so no drive can appear under "
                                   f"the mount root {written}", ("volumes", i, "path")))
            continue
        if not path.exists():
            name = vol.get("name", i)
            out.append(ConfigProblem(f"volumes[{i}].path: {path} does not exist (yet); volume {name!r} is reported "
                               "unavailable until it appears", ("volumes", i, "path")))
        elif not path.is_dir():
            out.append(ConfigProblem(f"volumes[{i}].path: {path} is a file, not a folder", ("volumes", i, "path")))
    roles = raw_map(raw, "roles")
    for name, role in roles.items():
        if isinstance(role, Mapping) and not role.get("notify") and set(role) <= set(Role.model_fields):
            out.append(ConfigProblem(f"roles.{name}: no notify targets, so nobody hears about what {name!r} must know "
                               "or fix; add an apprise URL to notify", ("roles", name)))
    probe = raw.get("probe")
    if isinstance(probe, Mapping) and "noatime" in probe:
        out.append(ConfigProblem("probe.noatime: no longer supported, and ignored: MediaInfo's stream mode reported good "
                           "MXF files as truncated. MediaInfo now opens media itself (the first read of a new file "
                           "may set its access time); checksums and sidecars are still read with O_NOATIME. Remove "
                           "the setting, and mount the volume with noatime if access times matter (docs/deploy.md)",
                           ("probe", "noatime")))
    return locate(out, text)


def override_warnings(raw: Mapping[str, Any], rule_ids: set[str], text: str | None = None) -> list[ConfigProblem]:
    """``[overrides."<rule id>"]`` naming a rule that no loaded plugin documents: most often a
    typo, which would leave the rule as it was without a word."""
    import difflib
    overrides = raw_map(raw, "overrides")
    out = []
    for rid in overrides:
        if rid not in rule_ids:
            hint = difflib.get_close_matches(str(rid), sorted(rule_ids), n=1, cutoff=0.6)
            out.append(ConfigProblem(f"overrides.{rid}: no loaded plugin documents this rule id"
                               + (f" (did you mean {hint[0]!r}?)" if hint else "")
                               + "; the override changes nothing unless a plugin raises it", ("overrides", rid)))
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
