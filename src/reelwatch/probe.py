"""MediaInfo probing in worker processes, with a per-file timeout.

libmediainfo is known to hang or crash on some MXF files, so it never runs in the daemon's
own process: each worker is a separate process, one file at a time. A worker that exceeds
the timeout or dies is killed and replaced, and the file gets Facts with ``kind="unreadable"``
and a plain-words ``error``. The pool also gives back-pressure: callers block while every
worker is busy.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import threading
import time
from collections import Counter
from multiprocessing.connection import Connection
from typing import Any

from .hookspecs import hookimpl
from .model import Asset, Facts

TRACK_KINDS = {"General": "general", "Video": "video", "Audio": "audio", "Image": "image",
               "Other": "other", "Text": "text"}
MAX_SEQUENCE_SAMPLES = 12


def _library_version() -> str:
    try:
        from pymediainfo import MediaInfo
        lib = MediaInfo._get_library()  # (lib, handle, lib_version_str, lib_version)
        return f"mediainfo {lib[2]}"
    except Exception:
        return "mediainfo"


def open_noatime(path: str) -> Any:
    """Open read-only without updating the access time where the kernel allows it."""
    flags = os.O_RDONLY | getattr(os, "O_NOATIME", 0)
    try:
        fd = os.open(path, flags)
    except PermissionError:  # O_NOATIME needs ownership (or CAP_FOWNER): fall back to a plain read
        fd = os.open(path, os.O_RDONLY)
    return os.fdopen(fd, "rb")


def is_utf8(path: str) -> bool:
    """False for a name holding bytes that are not UTF-8 (shown by Python as lone surrogates)."""
    if path.isascii():
        return True
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def shown_name(path: str) -> str:
    return path if is_utf8(path) else os.fsencode(path).decode("utf-8", "replace")


DENIED = "permission denied"
"""Start of ``Facts.error`` for a file reelwatch may not read: its own finding, not "bad media"."""


def access_problem(path: str) -> str | None:
    """Why this file cannot be opened for reading, in the words of a finding; None when it can.

    Asked here, in the daemon's own process and with its own rights, because MediaInfo says
    only "not recognised" for a file it may not open."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOATIME", 0))
    except PermissionError:
        try:
            fd = os.open(path, os.O_RDONLY)  # O_NOATIME needs ownership: retry without it
        except PermissionError:
            return f"{DENIED}: reelwatch is not allowed to read it"
        except OSError:
            return None  # gone or odd: MediaInfo's own answer says it better
    except OSError:
        return None
    os.close(fd)
    return None


def parse_tracks(path: str, noatime: bool = False) -> dict[str, Any]:
    """Run MediaInfo on one file and return its tracks as plain data (in this process).

    With ``noatime`` the file is opened by us with ``O_NOATIME`` and handed to MediaInfo as
    a stream, so that checking leaves access times alone. MediaInfo's stream mode reports
    fewer fields on some files (MP4 delay and frame count, MXF footer), so it is opt-in:
    by default MediaInfo opens the file itself and reports everything.
    """
    from pymediainfo import MediaInfo

    if noatime:
        with open_noatime(path) as fh:
            mi = MediaInfo.parse(fh, buffer_size=64 << 10, mediainfo_options={"File_FileName": shown_name(path)})
    elif not is_utf8(path) and os.path.isdir("/proc/self/fd"):
        # libmediainfo cannot open a name whose bytes are not UTF-8: hand it our own open file
        # under a name it can open, so that it still reads the file itself and reports everything
        with open_noatime(path) as fh:
            mi = MediaInfo.parse(f"/proc/self/fd/{fh.fileno()}")
    else:
        mi = MediaInfo.parse(path)
    out: dict[str, Any] = {"general": {}, "video": [], "audio": [], "image": [], "other": [], "text": []}
    for track in mi.tracks:
        kind = TRACK_KINDS.get(track.track_type)
        if kind is None:
            continue
        data = {k: v for k, v in track.to_data().items() if not k.startswith("other_") or k == "other_general_compliance"}
        for noisy in ("complete_name", "folder_name", "file_name", "file_name_extension",
                      "file_last_modification_date", "file_last_modification_date__local",
                      "file_creation_date", "file_creation_date__local"):
            data.pop(noisy, None)
        if kind == "general":
            out["general"] = data
        else:
            out[kind].append(data)
    return out


def facts_for_file(path: str, noatime: bool = False) -> dict[str, Any]:
    """Facts of one file, as a plain mapping (runs in a worker process)."""
    try:
        size = os.stat(path).st_size
    except FileNotFoundError:
        return {"kind": "missing", "error": "the file disappeared before it could be read"}
    except OSError as exc:
        return {"kind": "unreadable", "error": f"cannot read the file: {exc.strerror}"}
    if size == 0:
        return {"kind": "empty", "error": "the file is empty (0 bytes)"}
    try:
        tracks = parse_tracks(path, noatime)
    except FileNotFoundError:
        return {"kind": "missing", "error": "the file disappeared before it could be read"}
    except OSError as exc:
        return {"kind": "unreadable", "error": f"cannot read the file: {exc.strerror or exc}"}
    except Exception as exc:
        return {"kind": "unreadable", "error": f"MediaInfo could not parse it: {type(exc).__name__}: {exc}"}
    fmt = tracks["general"].get("format")
    has_tracks = any(tracks[k] for k in ("video", "audio", "image"))
    if fmt is None and not has_tracks:
        return {"kind": "unreadable", "error": "MediaInfo does not recognise this as media", **tracks}
    return {"kind": "media", **tracks}


def facts_for_sequence(paths: list[str], sizes: list[int], noatime: bool = False) -> dict[str, Any]:
    """Facts of an image sequence: the first frame's tracks, plus sampled frames.

    Every frame whose size differs from the usual frame size is sampled (a different
    resolution or bit depth shows there first), then the first, last and evenly spaced
    frames, up to a bound. Each sampled image track carries ``frame_index``.
    """
    if not paths:
        return {"kind": "missing", "error": "the sequence has no frames"}
    usual = Counter(sizes).most_common(1)[0][0]
    chosen = [0, len(paths) - 1]
    chosen += [i for i, s in enumerate(sizes) if s != usual][: MAX_SEQUENCE_SAMPLES // 2]
    step = max(1, len(paths) // (MAX_SEQUENCE_SAMPLES // 2))
    chosen += list(range(0, len(paths), step))
    picks = sorted(set(chosen))[: MAX_SEQUENCE_SAMPLES * 2]
    first = facts_for_file(paths[0], noatime)
    if first.get("kind") != "media":
        return first
    images = []
    for i in picks:
        sample = first if i == 0 else facts_for_file(paths[i], noatime)
        for track in (sample.get("image") or sample.get("video") or [{}])[:1]:
            images.append({**track, "frame_index": i, "frame_kind": sample.get("kind"),
                           "frame_error": sample.get("error")})
    return {**first, "kind": "image_sequence", "image": images}


def _worker_main(conn: Connection) -> None:
    while True:
        try:
            request = conn.recv()
        except (EOFError, KeyboardInterrupt):
            return
        if request is None:
            return
        kind, payload, noatime = request
        try:
            result = facts_for_sequence(*payload, noatime) if kind == "sequence" else facts_for_file(payload, noatime)
        except Exception as exc:  # pragma: no cover - facts_for_file already guards
            result = {"kind": "unreadable", "error": f"probe failed: {type(exc).__name__}: {exc}"}
        conn.send(result)


class _Worker:
    def __init__(self, ctx: Any) -> None:
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_worker_main, args=(child,), daemon=True, name="reelwatch-probe")
        self.proc.start()
        child.close()

    def kill(self) -> None:
        try:
            self.proc.kill()
            self.proc.join(2)
        finally:
            self.conn.close()


class ProbePool:
    """A fixed set of MediaInfo worker processes; thread-safe; blocks when all are busy."""

    def __init__(self, workers: int = 0, timeout: float = 30.0, noatime: bool = False) -> None:
        self.size = workers or os.cpu_count() or 2
        self.timeout = timeout
        self.noatime = noatime
        self.version = _library_version()
        self._ctx = mp.get_context("spawn")
        self._idle: queue.Queue[_Worker | None] = queue.Queue()
        self._lock = threading.Lock()
        self._started = 0
        self._closed = False

    def start(self) -> ProbePool:
        """Start every worker now, so that the first file is not kept waiting for one."""
        workers = []
        with self._lock:
            while self._started < self.size:
                self._started += 1
                workers.append(_Worker(self._ctx))
        for w in workers:
            self._idle.put(w)
        return self

    def _take(self) -> _Worker:
        with self._lock:
            if self._closed:
                raise RuntimeError("probe pool is closed")
            if self._idle.empty() and self._started < self.size:
                self._started += 1
                return _Worker(self._ctx)
        worker = self._idle.get()
        if worker is None:
            raise RuntimeError("probe pool is closed")
        return worker

    def _run(self, request: tuple[str, Any, bool], label: str) -> dict[str, Any]:
        worker = self._take()
        started = time.monotonic()
        try:
            worker.conn.send(request)
            if worker.conn.poll(self.timeout):
                result = worker.conn.recv()
                self._idle.put(worker)
                return result
            reason = (f"MediaInfo did not finish reading {label} within {self.timeout:g} s "
                      "and was stopped (a known hang on some MXF files)")
        except (EOFError, OSError, BrokenPipeError):
            reason = f"MediaInfo crashed while reading {label}"
        worker.kill()
        with self._lock:
            self._started -= 1
        return {"kind": "unreadable", "error": reason,
                "general": {"probe_seconds": round(time.monotonic() - started, 3)}}

    def facts(self, asset: Asset) -> Facts:
        if asset.sequence is not None:
            request: tuple[str, Any, bool] = (
                "sequence", (list(asset.member_paths()), list(asset.sequence.frame_sizes)), self.noatime)
        else:
            request = ("file", asset.path, self.noatime)
        data = self._run(request, "this file")
        return Facts.from_mapping({**data, "probe": self.version})

    def close(self) -> None:
        with self._lock:
            self._closed = True
        while True:
            try:
                worker = self._idle.get_nowait()
            except queue.Empty:
                break
            if worker is not None:
                try:
                    worker.conn.send(None)
                except OSError:
                    pass
                worker.proc.join(1)
                if worker.proc.is_alive():
                    worker.kill()
        for _ in range(self.size):
            self._idle.put(None)  # wake anyone still waiting

    def __enter__(self) -> ProbePool:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class MediaInfoProbe:
    """The builtin ``probe`` hook implementation, backed by a :class:`ProbePool`."""

    def __init__(self, pool: ProbePool) -> None:
        self.pool = pool

    @hookimpl
    def probe(self, asset: Asset) -> Facts:
        denied = access_problem(asset.member_paths()[0])
        if denied is not None:
            return Facts(kind="unreadable", error=denied, probe=self.pool.version)
        return self.pool.facts(asset)

