"""What runs inside a MediaInfo worker process: parsing one file or a sequence's sampled frames.

Kept apart from the pool (:mod:`reelwatch.probe.pool`) so that a worker imports only this, pymediainfo
and the data model. A worker first says it is ready (libmediainfo loaded) or why it cannot be,
then answers lists of requests with one result each, in order, as each is parsed.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from collections import Counter
from collections.abc import Sequence
from multiprocessing.connection import Connection
from typing import Any

TRACK_KINDS = {"General": "general", "Video": "video", "Audio": "audio", "Image": "image",
               "Other": "other", "Text": "text"}
MAX_SEQUENCE_SAMPLES = 12
NOISY = ("complete_name", "folder_name", "file_name", "file_name_extension", "file_last_modification_date",
         "file_last_modification_date__local", "file_creation_date", "file_creation_date__local")


def library_version() -> str:
    """``mediainfo 24.12``; raises when libmediainfo cannot be loaded."""
    from pymediainfo import MediaInfo
    lib = MediaInfo._get_library()  # (lib, handle, lib_version_str, lib_version)
    return f"mediainfo {lib[2]}"


def is_utf8(path: str) -> bool:
    """False for a name holding bytes that are not UTF-8 (shown by Python as lone surrogates)."""
    if path.isascii():
        return True
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def parse_tracks(path: str) -> dict[str, Any]:
    """Run MediaInfo on one file and return its tracks as plain data (in this process).

    MediaInfo opens the file itself. Its stream mode (our own ``O_NOATIME`` descriptor fed in
    buffers) was measured to report different facts on real files: MXF footers and frame counts
    lost, Closed/Complete MXF reported as truncated, element-size errors on MOV and MP4 (5 of 89
    corpus files at 64 KiB buffers, 6 of 89 at 4-16 MiB), so it is not used.
    """
    from pymediainfo import MediaInfo

    if not is_utf8(path) and os.path.isdir("/proc/self/fd"):
        # libmediainfo cannot open a name whose bytes are not UTF-8: hand it our own open file
        # under a name it can open, so that it still reads the file itself and reports everything
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOATIME", 0))
        except PermissionError:  # O_NOATIME needs ownership (or CAP_FOWNER): a plain read then
            fd = os.open(path, os.O_RDONLY)
        try:
            mi = MediaInfo.parse(f"/proc/self/fd/{fd}")
        finally:
            os.close(fd)
    else:
        mi = MediaInfo.parse(path)
    out: dict[str, Any] = {"general": {}, "video": [], "audio": [], "image": [], "other": [], "text": []}
    for track in mi.tracks:
        kind = TRACK_KINDS.get(track.track_type)
        if kind is None:
            continue
        data = {k: v for k, v in track.to_data().items() if not k.startswith("other_") or k == "other_general_compliance"}
        for noisy in NOISY:
            data.pop(noisy, None)
        if kind == "general":
            out["general"] = data
        else:
            out[kind].append(data)
    return out


def facts_for_file(path: str) -> dict[str, Any]:
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
        tracks = parse_tracks(path)
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


def sample_frames(sizes: Sequence[int]) -> list[int]:
    """Indexes of the frames of a sequence that are parsed: every frame whose size differs from
    the usual one (up to half the bound), the first, the last and evenly spaced ones."""
    usual = Counter(sizes).most_common(1)[0][0]
    chosen = [0, len(sizes) - 1]
    chosen += [i for i, s in enumerate(sizes) if s != usual][: MAX_SEQUENCE_SAMPLES // 2]
    step = max(1, len(sizes) // (MAX_SEQUENCE_SAMPLES // 2))
    chosen += list(range(0, len(sizes), step))
    return sorted(set(chosen))[: MAX_SEQUENCE_SAMPLES * 2]


def facts_for_sequence(paths: list[str], sizes: list[int]) -> dict[str, Any]:
    """Facts of an image sequence: the first frame's tracks, plus sampled frames.

    Every frame whose size differs from the usual frame size is sampled (a different
    resolution or bit depth shows there first), then the first, last and evenly spaced
    frames, up to a bound. Each sampled image track carries ``frame_index``.
    """
    if not paths:
        return {"kind": "missing", "error": "the sequence has no frames"}
    picks = sample_frames(sizes)
    first = facts_for_file(paths[0])
    if first.get("kind") != "media":
        return first
    images = []
    for i in picks:
        sample = first if i == 0 else facts_for_file(paths[i])
        for track in (sample.get("image") or sample.get("video") or [{}])[:1]:
            images.append({**track, "frame_index": i, "frame_kind": sample.get("kind"),
                           "frame_error": sample.get("error")})
    return {**first, "kind": "image_sequence", "image": images}


def _die_with_parent() -> None:
    """Ask Linux to end this worker when its parent goes, however it goes.

    A worker forked by the daemon inherits the daemon's end of its own pipe, so after a SIGKILL it
    would wait on that pipe for ever (measured: both workers of a SIGKILLed daemon still ran long
    after; tests/test_orphan_workers.py). The parent is the daemon (a plain fork, made only while
    the daemon has a single thread, so the thread that forked is the one that lives on) or the
    multiprocessing forkserver, which ends when the daemon does. Elsewhere the pipe's EOF remains.
    """
    if not sys.platform.startswith("linux"):
        return
    parent = os.getppid()
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent went before the request took
        os._exit(0)


def _worker_main(conn: Connection) -> None:
    """A worker: say ready (or why not), then answer lists of requests one result at a time."""
    _die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle; it ends us
    try:
        version = library_version()
    except Exception as exc:  # the library itself: the tool's problem, said before any file
        conn.send(("broken", f"the MediaInfo library cannot be loaded: {type(exc).__name__}: {exc}"))
        return
    conn.send(("ready", version))
    while True:
        try:
            request = conn.recv()
        except (EOFError, OSError):
            return
        if request is None:
            return
        for kind, payload in request:
            try:
                result = facts_for_sequence(*payload) if kind == "sequence" else facts_for_file(payload)
            except Exception as exc:  # pragma: no cover - facts_for_file already guards
                result = {"kind": "unreadable", "error": f"probe failed: {type(exc).__name__}: {exc}"}
            conn.send(result)
