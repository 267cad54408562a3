"""Frame grabs for picture problems, attached to the channels that take attachments.

A grab is written to the state folder (never to a watched volume), made at most once per
file version, and never holds a message up: :meth:`Thumbnails.prepare` queues grabs for new
notices to a background thread, and :meth:`Thumbnails.__call__` only picks the grabs that
are ready. A failed grab is remembered (a ``.failed`` marker next to where the picture would
be), and files already known to be broken (MediaInfo cannot read them, they are empty or
may not be read) are not tried at all. It needs PyAV (``pip install 'reelwatch[media]'``);
without it, messages go out without pictures.
"""

from __future__ import annotations

import hashlib
import os
import queue
import subprocess
import sys
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import structlog

from ..core.model import Notice
from .frames import frame_grab, have_pyav

log = structlog.get_logger("reelwatch.thumbs")
PICTURE_RULES = ("spec.resolution", "spec.frame_rate", "spec.colour", "spec.scan", "spec.chroma",
                 "spec.bit_depth", "sanity.truncated", "sequence.mixed_format")
BROKEN_RULES = ("sanity.unreadable", "sanity.probe_failed", "sanity.empty", "sanity.permission_denied",
                "sanity.not_checked")
"""A file with one of these findings has no picture to grab."""
MAX_PER_MESSAGE = 3
GRAB_TIMEOUT = 20.0
"""Seconds a frame grab may take. The files grabbed are the broken ones, so decoding runs in a
child process that is killed past this, never in the daemon itself."""
THREAD_NAME = "reelwatch-thumbs"


def grab_path(folder: Path, source: Path) -> Path | None:
    """Where the grab of this file version goes in ``folder`` (None when the file is gone): one
    name per (path, size, mtime), so a grab is made once per version, by the daemon or the web pages."""
    try:
        st = os.stat(source)
    except OSError:
        return None
    key = hashlib.blake2b(f"{source}\0{st.st_size}\0{st.st_mtime_ns}".encode("utf-8", "surrogateescape"),
                          digest_size=10).hexdigest()
    return folder / f"grab-{key}.jpg"


def _source(finding: dict[str, Any]) -> Path | None:
    source = Path(str(finding.get("path", "")))
    if "#" in source.name:  # an image sequence: grab its first frame
        frames = (finding.get("details") or {}).get("frame_names") or []
        if not frames:
            return None
        source = source.parent / frames[0]
    return source


class Thumbnails:
    """``Outbox(attach=Thumbnails(folder))``: pictures for the first few picture problems."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._queue: queue.Queue[tuple[Path, Path] | None] = queue.Queue()
        self._queued: set[Path] = set()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closed = False

    def _dest(self, source: Path) -> Path | None:
        return grab_path(self.folder, source)

    def _candidates(self, notices: Iterable[Notice]) -> Iterable[Path]:
        """The files of picture problems, leaving out files known to be broken."""
        notices = list(notices)
        broken = {str(n.finding.get("path", "")) for n in notices
                  if str(n.finding.get("rule", "")).startswith(BROKEN_RULES)}
        for n in notices:
            f = n.finding
            if n.kind == "resolved" or not str(f.get("rule", "")).startswith(PICTURE_RULES):
                continue
            if str(f.get("path", "")) in broken:
                continue
            source = _source(dict(f))
            if source is not None:
                yield source

    def prepare(self, notices: Sequence[Notice]) -> None:
        """Queue grabs for these notices (a few per message's worth); returns at once."""
        if self._closed or not have_pyav():
            return
        wanted = 0
        for source in self._candidates(notices):
            if wanted >= MAX_PER_MESSAGE * 2:
                break
            dest = self._dest(source)
            if dest is None or dest.exists() or dest.with_suffix(".failed").exists():
                continue
            with self._lock:
                if dest in self._queued:
                    continue
                self._queued.add(dest)
                if self._thread is None:
                    self._thread = threading.Thread(target=self._work, name=THREAD_NAME, daemon=True)
                    self._thread.start()
            self._queue.put((source, dest))
            wanted += 1

    def __call__(self, notices: Sequence[Notice]) -> tuple[str, ...]:
        """The grabs already made for these notices, at most three. Never grabs, never waits."""
        out: list[str] = []
        for source in self._candidates(notices):
            dest = self._dest(source)
            if dest is not None and dest.is_file() and str(dest) not in out:
                out.append(str(dest))
                if len(out) >= MAX_PER_MESSAGE:
                    break
        return tuple(out)

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            source, dest = item
            try:
                if not self._closed and not dest.exists():
                    self.folder.mkdir(parents=True, exist_ok=True)
                    if not grab_isolated(source, dest):
                        dest.with_suffix(".failed").touch()  # remembered: never tried again
            except OSError as exc:
                log.warning("frame_grab_failed", error=exc.strerror)
            finally:
                with self._lock:
                    self._queued.discard(dest)

    def idle(self, timeout: float) -> bool:
        """Wait until every queued grab is done (for tests and a clean stop)."""
        import time
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if not self._queued:
                    return True
            time.sleep(0.02)
        return False

    def close(self) -> None:
        """Stop the background thread; a grab in progress is finished or killed at its timeout."""
        self._closed = True
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join(GRAB_TIMEOUT + 5)


def grab_isolated(source: Path, dest: Path, timeout: float = GRAB_TIMEOUT) -> bool:
    """Make one frame grab in a child process; False when it fails, crashes or hangs."""
    try:
        done = subprocess.run([sys.executable, "-m", "reelwatch.notify.thumbs", os.fsencode(source), os.fsencode(dest)],
                              capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        log.warning("frame_grab_timeout", seconds=timeout)
        dest.unlink(missing_ok=True)
        return False
    return done.returncode == 0 and dest.is_file()


if __name__ == "__main__":
    raise SystemExit(0 if frame_grab(sys.argv[1], sys.argv[2], max_width=640) is not None else 1)
