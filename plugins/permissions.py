"""Permissions on delivery volumes: what leaves the facility must not be open to everyone.

On every volume of kind ``delivery`` (or those listed in ``[rules.permissions] volumes``):
world-writable files and folders, owners or groups outside the allowed lists, and setuid or
setgid bits on files. Folders are judged once per batch, files one by one. Read-only: this
plugin never changes a mode or an owner; the fix says what to run.
"""

from __future__ import annotations

import grp
import os
import pwd
import shlex
import stat
from collections.abc import Iterable, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

from pydantic import BaseModel, ConfigDict

from reelwatch.api import Asset, Config, Finding, RuleInfo, Severity, applies, hookimpl, is_delivery, listed

NAME = "permissions"
OWNER = "admin"
IMPACTS = ("supervisor",)
MAX_NAMES = 5


class PermissionsConfig(BaseModel):
    """``[rules.permissions]``."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    volumes: tuple[str, ...] = ()
    """Volumes to check; empty means every volume whose kind is ``delivery``."""
    globs: tuple[str, ...] = ()
    allowed_users: tuple[str, ...] = ()
    """User names (or numeric ids) that may own delivered files; empty: any owner."""
    allowed_groups: tuple[str, ...] = ()
    """Group names (or numeric ids) delivered files may belong to; empty: any group."""
    world_writable: bool = True
    setuid: bool = True


RULES = {
    "permissions.world_writable": (Severity.WARNING, "A delivered file or folder can be changed by anyone.",
                                   "VFX/sh010/plates is writable by every user on the server (mode 0777)"),
    "permissions.owner": (Severity.WARNING, "A delivered file is owned by a user not on the allowed list.",
                          "sh010_comp_v003.mov is owned by user 'jdoe'; allowed: deliveries"),
    "permissions.group": (Severity.WARNING, "A delivered file belongs to a group not on the allowed list.",
                          "sh010_comp_v003.mov belongs to group 'staff'; allowed: post"),
    "permissions.setuid": (Severity.ERROR, "A delivered file has the setuid or setgid bit.",
                           "tools/run.sh has the setuid bit (mode 4755)"),
}


@hookimpl
def config_sections() -> dict[str, Any]:
    return {NAME: PermissionsConfig}


@hookimpl
def rules() -> list[RuleInfo]:
    return [RuleInfo(rid, summary, sev, OWNER, IMPACTS, example) for rid, (sev, summary, example) in RULES.items()]


def _cfg(config: Config | None) -> PermissionsConfig:
    section = config.rules.get(NAME) if config is not None else None
    return section if isinstance(section, PermissionsConfig) else PermissionsConfig()


def _in_scope(volume: str, relpath: str, cfg: PermissionsConfig, config: Config | None) -> bool:
    if cfg.volumes:
        return applies(relpath, volume, cfg.volumes, cfg.globs)
    return is_delivery(config, volume) and applies(relpath, volume, None, cfg.globs)


def _user(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _group(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def _allowed(name: str, ident: int, allowed: tuple[str, ...]) -> bool:
    return not allowed or name in allowed or str(ident) in allowed


def _problems(st: os.stat_result, cfg: PermissionsConfig, is_dir: bool) -> dict[str, str]:
    """rule id -> what is wrong, for one file or folder."""
    out: dict[str, str] = {}
    mode = stat.S_IMODE(st.st_mode)
    if cfg.world_writable and mode & stat.S_IWOTH:
        out["permissions.world_writable"] = f"mode {mode:04o}"
    if not is_dir and cfg.setuid and mode & (stat.S_ISUID | stat.S_ISGID):
        bits = " and ".join(b for b, m in (("setuid", stat.S_ISUID), ("setgid", stat.S_ISGID)) if mode & m)
        out["permissions.setuid"] = f"the {bits} bit (mode {mode:04o})"
    user = _user(st.st_uid)
    if not _allowed(user, st.st_uid, cfg.allowed_users):
        out["permissions.owner"] = user
    group = _group(st.st_gid)
    if not _allowed(group, st.st_gid, cfg.allowed_groups):
        out["permissions.group"] = group
    return out


def _finding(rule: str, asset: Asset, subject: str, what: str, cfg: PermissionsConfig,
             count: int = 1, **details: Any) -> Finding:
    many = count > 1
    where = Path(asset.root) / (asset.folder if asset.sequence else asset.relpath)
    path = shlex.quote(str(where)) + ("/*" if asset.sequence else "")
    texts = {
        "permissions.world_writable": (
            f"{subject} {'are' if many else 'is'} writable by every user on the server ({what})",
            "delivered files and folders are not writable by everyone",
            "anyone with access to the server can change or delete the delivery before it is sent",
            f"remove write access for others: chmod o-w {path}"),
        "permissions.setuid": (
            f"{subject} {'have' if many else 'has'} {what}",
            "no delivered file has the setuid or setgid bit",
            "a recipient's system may refuse the delivery, and the file could run with someone else's rights",
            f"clear the bits: chmod ug-s {path}"),
        "permissions.owner": (
            f"{subject} {'are' if many else 'is'} owned by user '{what}'; allowed: {', '.join(cfg.allowed_users)}",
            f"delivered files are owned by {' or '.join(cfg.allowed_users)}",
            "the delivery or transfer account may not be able to read or replace the files",
            f"change the owner: chown {cfg.allowed_users[0] if cfg.allowed_users else 'OWNER'} {path}"),
        "permissions.group": (
            f"{subject} {'belong' if many else 'belongs'} to group '{what}'; allowed: "
            f"{', '.join(cfg.allowed_groups)}",
            f"delivered files belong to group {' or '.join(cfg.allowed_groups)}",
            "the delivery or transfer account may not be able to read or replace the files",
            f"change the group: chgrp {cfg.allowed_groups[0] if cfg.allowed_groups else 'GROUP'} {path}"),
    }
    message, expected, impact, fix = texts[rule]
    return Finding(rule=rule, severity=RULES[rule][0], asset=asset, message=message, owner=OWNER,
                   impacts=IMPACTS, expected=expected, impact=impact, fix=fix, details=details)


def _subject(asset: Asset, names: list[str], kind: str = "file") -> str:
    """``plate.mov``, ``folder VFX/sh010`` or ``5 frames of plate.1001-1010#.dpx (...)``."""
    if asset.sequence is None:
        return asset.name if kind == "file" else f"folder {asset.relpath or '(volume root)'}"
    return f"{len(names)} frame{'s' if len(names) > 1 else ''} of {asset.sequence.pattern} ({listed(names, MAX_NAMES)})"


@hookimpl
def check(asset: Asset, config: Config) -> list[Finding] | None:
    cfg = _cfg(config)
    if not _in_scope(asset.volume, asset.relpath, cfg, config):
        return None
    names = list(asset.sequence.frame_names) if asset.sequence else [asset.name]
    base = Path(asset.root) / asset.folder
    found: dict[tuple[str, str], list[str]] = {}
    for name in names:
        try:
            st = os.lstat(base / name)
        except OSError:
            continue
        if stat.S_ISLNK(st.st_mode):
            continue
        for rule, what in _problems(st, cfg, is_dir=False).items():
            key = (rule, what if rule != "permissions.world_writable" or asset.sequence is None else "")
            found.setdefault(key, []).append(name)
    return [_finding(rule, asset, _subject(asset, bad), what or "writable by others", cfg, len(bad), files=bad)
            for (rule, what), bad in sorted(found.items())]


def _folders(relpath: str) -> Iterable[str]:
    """Every folder above a path, up to and including the volume root ('')."""
    parent = PurePosixPath(relpath).parent
    while True:
        yield "" if str(parent) == "." else str(parent)
        if str(parent) in (".", "/", ""):
            return
        parent = parent.parent


@hookimpl
def batch_done(assets: Sequence[Asset], config: Config) -> list[Finding]:
    """Folders holding the batch (up to the volume root), each judged once."""
    cfg = _cfg(config)
    out: list[Finding] = []
    seen: set[tuple[str, str]] = set()
    for a in assets:
        for folder in _folders(a.relpath):
            if (a.volume, folder) in seen:
                continue
            seen.add((a.volume, folder))
            if not _in_scope(a.volume, folder, cfg, config):
                continue
            try:
                st = os.stat(Path(a.root) / folder)
            except OSError:
                continue
            fasset = Asset(a.volume, a.root, folder, size=0, mtime_ns=0)
            for rule, what in _problems(st, cfg, is_dir=True).items():
                if rule in ("permissions.owner", "permissions.group") and not folder:
                    continue  # the volume's mount point belongs to whoever mounted it
                out.append(_finding(rule, fasset, _subject(fasset, [], "folder"), what, cfg))
    return out
