"""Frame grabs for picture problems, attached to the channels that take attachments.

A grab is written to the state folder (never to a watched volume) and made at most once
per finding. It needs PyAV (``pip install 'reelwatch[media]'``); without it, messages go
out without pictures.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import structlog

from .model import Notice

log = structlog.get_logger("reelwatch.thumbs")
PICTURE_RULES = ("spec.resolution", "spec.frame_rate", "spec.colour", "spec.scan", "spec.chroma",
                 "spec.bit_depth", "sanity.truncated", "sequence.mixed_format")
MAX_PER_MESSAGE = 3
GRAB_TIMEOUT = 20.0
"""Seconds a frame grab may take. The files grabbed are the broken ones, so decoding runs in a
child process that is killed past this, never in the daemon itself."""


class Thumbnails:
    """``Outbox(attach=Thumbnails(folder))``: pictures for the first few picture problems."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def __call__(self, notices: Sequence[Notice]) -> tuple[str, ...]:
        from .mediagen import have_pyav
        if not have_pyav():
            return ()
        out: list[str] = []
        for notice in notices:
            f = notice.finding
            if notice.kind == "resolved" or not str(f.get("rule", "")).startswith(PICTURE_RULES):
                continue
            source = Path(str(f.get("path", "")))
            if "#" in source.name:  # an image sequence: grab its first frame
                frames = (f.get("details") or {}).get("frame_names") or []
                if not frames:
                    continue
                source = source.parent / frames[0]
            dest = self.folder / f"finding-{f.get('id', 0)}.jpg"
            if not dest.exists():
                self.folder.mkdir(parents=True, exist_ok=True)
                if not grab_isolated(source, dest):
                    continue
            out.append(str(dest))
            if len(out) >= MAX_PER_MESSAGE:
                break
        return tuple(out)


def grab_isolated(source: Path, dest: Path, timeout: float = GRAB_TIMEOUT) -> bool:
    """Make one frame grab in a child process; False when it fails, crashes or hangs."""
    try:
        done = subprocess.run([sys.executable, "-m", "reelwatch.thumbs", str(source), str(dest)],
                              capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        log.warning("frame_grab_timeout", seconds=timeout)
        dest.unlink(missing_ok=True)
        return False
    return done.returncode == 0 and dest.is_file()


if __name__ == "__main__":
    from .mediagen import frame_grab
    raise SystemExit(0 if frame_grab(sys.argv[1], sys.argv[2], max_width=640) is not None else 1)
