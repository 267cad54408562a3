"""Frame grabs for picture problems, attached to the channels that take attachments.

A grab is written to the state folder (never to a watched volume) and made at most once
per finding. It needs PyAV (``pip install 'reelwatch[media]'``); without it, messages go
out without pictures.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import structlog

from .model import Notice

log = structlog.get_logger("reelwatch.thumbs")
PICTURE_RULES = ("spec.resolution", "spec.frame_rate", "spec.colour", "spec.scan", "spec.chroma",
                 "spec.bit_depth", "sanity.truncated", "sequence.mixed_format")
MAX_PER_MESSAGE = 3


class Thumbnails:
    """``Outbox(attach=Thumbnails(folder))``: pictures for the first few picture problems."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def __call__(self, notices: Sequence[Notice]) -> tuple[str, ...]:
        from .mediagen import frame_grab, have_pyav
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
                try:
                    made = frame_grab(source, dest, max_width=640)
                except Exception as exc:
                    log.warning("frame_grab_failed", error=type(exc).__name__)
                    made = None
                if made is None:
                    continue
            out.append(str(dest))
            if len(out) >= MAX_PER_MESSAGE:
                break
        return tuple(out)
