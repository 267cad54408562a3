"""Links and other non-files on a watched volume: where a link leads, whether the daemon may go there.

The rule: the daemon never leaves a volume. Every path it reads is contained in the volume's
root, resolved (``/mnt/edit`` may itself be a link to ``/srv/raid/edit``); a directory link
is never walked or watched, because what it leads to inside the volume is reached by its own
path anyway (``up -> ..`` would check the whole volume a second time), unless the volume
names the places outside it that links may lead into (``follow_links_into``). A link that
leads anywhere else is reported to the volume's owner as ``volume.symlink_outside`` and
nothing behind it is read. Dangling links and link loops are litter: a debug line.
"""

from __future__ import annotations

import errno
import os
import stat as statmod
from collections.abc import Iterable
from dataclasses import dataclass

import structlog

from ..core.model import Asset, Finding, RuleInfo, Severity

log = structlog.get_logger("reelwatch.links")

SYMLINK_OUTSIDE = RuleInfo(
    "volume.symlink_outside", "A link on a watched volume leads outside it; the daemon does not follow it.",
    Severity.WARNING, None, (), "the link 'escape' leads outside the volume, to /other/dir")


@dataclass(frozen=True, slots=True)
class Link:
    kind: str
    """``inside`` (leads into the volume), ``follow`` (into a place the volume names),
    ``outside``, ``dangling`` or ``loop``."""
    text: str
    """The link's target as written."""
    real: str = ""
    """Where it leads, resolved ('' when dangling or looping)."""
    is_dir: bool = False


SPECIAL = ((statmod.S_ISFIFO, "a FIFO"), (statmod.S_ISSOCK, "a socket"), (statmod.S_ISCHR, "a character device"),
           (statmod.S_ISBLK, "a block device"))


def odd_kind(mode: int) -> str:
    """Plain words for what is not a regular file: FIFOs, sockets and device nodes are never read."""
    return next((label for test, label in SPECIAL if test(mode)), "not a regular file")


def _within(path: str, top: str) -> bool:
    return path == top or path.startswith(top.rstrip("/") + "/")


class LinkPolicy:
    """Containment of one volume: its resolved root, and where links may lead besides."""

    def __init__(self, root: str, follow_into: Iterable[str] = ()) -> None:
        self.root = os.path.realpath(root)
        self.allowed = tuple(os.path.realpath(p) for p in follow_into)

    def contains(self, path: str) -> bool:
        """True when ``path``, resolved, lies inside the volume or a place it names."""
        real = os.path.realpath(path)
        return _within(real, self.root) or any(_within(real, a) for a in self.allowed)

    def judge(self, path: str) -> Link:
        """What the link at ``path`` leads to."""
        try:
            text = os.readlink(path)
        except OSError:
            text = "?"
        try:
            st = os.stat(path)
        except OSError as exc:
            return Link("loop" if exc.errno == errno.ELOOP else "dangling", text)
        real = os.path.realpath(path)
        is_dir = statmod.S_ISDIR(st.st_mode)
        if _within(real, self.root):
            return Link("inside", text, real, is_dir)
        if any(_within(real, a) for a in self.allowed):
            return Link("follow", text, real, is_dir)
        return Link("outside", text, real, is_dir)

    def follow_dir(self, path: str) -> str | None:
        """The real folder to walk or watch through the link at ``path``, or None."""
        link = self.judge(path)
        return link.real if link.kind == "follow" and link.is_dir else None


def note(volume: str, relpath: str, link: Link) -> None:
    """The debug line for a link that is litter or harmless (never a finding)."""
    if link.kind == "inside":
        log.debug("link_not_followed", volume=volume, path=relpath, reason="it leads into this volume, "
                  "which is watched by its own paths")
    elif link.kind in ("dangling", "loop"):
        log.debug("link_skipped", volume=volume, path=relpath,
                  reason="a link loop" if link.kind == "loop" else "it leads nowhere (dangling)")


def outside_finding(volume: str, root: str, relpath: str, link: Link) -> Finding:
    """``volume.symlink_outside`` for the link at ``relpath`` (owner: the volume's, filled in later)."""
    what = "a folder" if link.is_dir else "a file"
    return Finding(
        rule=SYMLINK_OUTSIDE.id, severity=SYMLINK_OUTSIDE.severity,
        asset=Asset(volume=volume, root=root, relpath=relpath, size=0, mtime_ns=0),
        message=f"the link leads outside the volume, to {what} at {link.text}; reelwatch does not follow it, "
                "so nothing behind it is checked",
        impacts=SYMLINK_OUTSIDE.impacts,
        expected="media stored inside the volume (links only between folders of the same volume)",
        impact="whoever opens this link downstream gets files nobody checked, or a broken link when the other "
               "disk is not there",
        fix="copy what it points to into the volume and remove the link; if that place must be watched as part "
            "of this volume, the admin can name it in follow_links_into",
        details={"target": link.text})
