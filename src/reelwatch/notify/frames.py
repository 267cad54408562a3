"""Frame grabs: one decoded frame of a clip or image, for the messages about picture problems.

PyAV is imported lazily (``pip install 'reelwatch[media]'``), so this module imports without it
(see :func:`have_pyav`). Files are opened read-only and without touching their access time: a
frame grab must leave a watched volume exactly as it was.
"""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path
from typing import Any

PathLike = str | Path

_MISSING = "PyAV is needed for frame grabs: pip install 'reelwatch[media]'"


def have_pyav() -> bool:
    """Return True when PyAV (``av``) is importable."""
    try:
        import av  # noqa: F401
    except ImportError:
        return False
    return True


def _av() -> Any:
    try:
        import av
    except ImportError as exc:
        raise RuntimeError(_MISSING) from exc
    return av


def _first_frame(av: Any, path: Path) -> Any:
    """Decode a frame from the middle of ``path`` (falling back to the first)."""
    with open_noatime(path) as fh, av.open(fh) as inp:
        if not inp.streams.video:
            return None
        stream = inp.streams.video[0]
        stream.thread_type = "AUTO"
        duration = inp.duration or 0
        if duration > 0:
            try:
                inp.seek(duration // 2)
                for frame in inp.decode(stream):
                    return frame
            except Exception:  # noqa: BLE001 - seek/decode failure: retry from start
                pass
            inp.seek(0)
        for frame in inp.decode(stream):
            return frame
    return None


def open_noatime(path: PathLike) -> Any:
    """Read-only, without updating the access time where the kernel allows it: a frame grab
    must leave a watched volume exactly as it was."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOATIME", 0))
    except PermissionError:
        fd = os.open(path, os.O_RDONLY)
    return os.fdopen(fd, "rb")


def frame_grab(path: PathLike, dest: PathLike, *, max_width: int = 640) -> Path | None:
    """Save one decoded frame of a clip/image as JPEG (or PNG for a .png ``dest``).

    The frame comes from the middle of the clip when seeking works, otherwise
    the first.  It is scaled down to at most ``max_width`` (keeping aspect).
    Returns None when nothing can be decoded; never raises for bad input
    (only RuntimeError when PyAV itself is missing).
    """
    av = _av()
    src, dest = Path(path), Path(dest)
    try:
        frame = _first_frame(av, src)
        if frame is None:
            return None
        width, height = frame.width, frame.height
        if width > max_width:
            height = max(2, round(height * max_width / width))
            width = max_width
        width, height = max(2, width - width % 2), max(2, height - height % 2)
        png = dest.suffix.lower() == ".png"
        pix_fmt = "rgb24" if png else "yuvj420p"
        ctx = av.codec.CodecContext.create("png" if png else "mjpeg", "w")
        ctx.width, ctx.height, ctx.pix_fmt = width, height, pix_fmt
        ctx.time_base = Fraction(1, 25)
        out = frame.reformat(width=width, height=height, format=pix_fmt)
        out.pts = 0
        data = b"".join(bytes(p) for p in ctx.encode(out) + ctx.encode(None))
        if not data:
            return None
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(data)
        return dest
    except Exception:  # noqa: BLE001 - a QC grab must never take the daemon down
        return None
