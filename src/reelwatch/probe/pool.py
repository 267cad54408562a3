"""MediaInfo probing in worker processes, with a per-file timeout.

libmediainfo is known to hang or crash on some MXF files, so it never runs in the daemon's
own process: each worker is a separate process (forked from a small server process that has
already imported :mod:`reelwatch.probe.worker`, so a new worker is ready in milliseconds; the
very first one of ``reelwatch check`` is forked directly, before any thread exists), parsing one
file at a time. Several files go to a worker in one round trip and come back one by one as they are
parsed, so a batch costs one message each way per file and the per-file timeout still holds.

Whose fault is it? A file that hangs MediaInfo past the timeout, or kills a worker that had
proven itself ready and then kills a fresh one too, gets Facts with ``kind="unreadable"`` and a
plain-words ``error``. A worker that dies while idle (kill -9, the OOM killer) costs the next
file nothing: it is retried on a fresh worker. Workers that cannot start at all are the tool's
fault: :class:`ProbeUnavailable` is raised, nothing is recorded against any file, and
:attr:`ProbePool.health` (with the ``on_health`` callback) says what is wrong until a worker
starts again. The pool also gives back-pressure: callers block while every worker is busy.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Any

from ..core.hookspecs import hookimpl
from ..core.model import Asset, Facts
from .worker import (MAX_SEQUENCE_SAMPLES, TRACK_KINDS, _worker_main, facts_for_file, facts_for_sequence,
                           is_utf8, library_version, parse_tracks, sample_frames)
import contextlib

__all__ = ["DENIED", "MAX_SEQUENCE_SAMPLES", "TRACK_KINDS", "MediaInfoProbe", "ProbeHealth", "ProbePool",
           "ProbeUnavailable", "access_problem", "facts_for_file", "facts_for_sequence", "is_utf8", "library_version",
           "parse_tracks", "request_for", "sample_frames"]

READY_TIMEOUT = 20.0
"""Seconds a new worker has to load libmediainfo and say it is ready (a few ms when healthy)."""
START_ATTEMPTS = 3
"""Fresh workers tried, one after the other, before the tool is declared unavailable."""
CHUNK = 8
"""Most files sent to one worker in one round trip by :meth:`ProbePool.facts_many`."""
SIDECAR_EXTENSIONS = (".mhl", ".xml")
"""With checksum lists (:func:`reelwatch.integrity.manifests.is_manifest_name`): records about media, not media."""


class ProbeUnavailable(RuntimeError):
    """No MediaInfo worker can be started: the tool is broken, the file was not looked at."""


class _StartFailed(Exception):
    pass


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


class _Worker:
    def __init__(self, ctx: Any) -> None:
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_worker_main, args=(child,), daemon=True, name="reelwatch-probe")
        try:
            self.proc.start()
        finally:
            child.close()
        self.version = ""

    def ensure_ready(self, timeout: float) -> None:
        """Wait for the worker's first word; raise _StartFailed with the reason when it does not come."""
        if self.version:
            return
        try:
            if not self.conn.poll(timeout):
                raise _StartFailed(f"a new MediaInfo worker did not start within {timeout:g} s")
            word, detail = self.conn.recv()
        except (EOFError, OSError):
            self.proc.join(1)
            raise _StartFailed(f"MediaInfo worker processes exit as soon as they start "
                               f"(exit code {self.proc.exitcode})") from None
        if word != "ready":
            raise _StartFailed(detail)
        self.version = detail

    def kill(self) -> None:
        try:
            self.proc.kill()
            self.proc.join(2)
        except Exception:  # noqa: BLE001 - a worker that never started has nothing to kill
            pass
        finally:
            self.conn.close()


def _context() -> Any:
    """A forkserver where the platform has one: workers are forks of a clean, single-threaded
    server that has imported this module (about 5 ms each instead of a new interpreter)."""
    if "forkserver" in mp.get_all_start_methods():
        ctx = mp.get_context("forkserver")
        ctx.set_forkserver_preload(["reelwatch.probe.worker"])
        return ctx
    return mp.get_context("spawn")


@dataclass
class ProbeHealth:
    """The tool's health, for ``status``, metrics and the admin."""

    ok: bool = True
    detail: str = ""
    since: float = field(default_factory=time.time)
    restarts: int = 0
    """Workers replaced after dying or hanging."""
    start_failures: int = 0
    """Workers that could not start."""


Request = tuple[str, Any]


def request_for(asset: Asset) -> Request:
    if asset.sequence is not None:
        return "sequence", (list(asset.member_paths()), list(asset.sequence.frame_sizes))
    return "file", asset.path


class ProbePool:
    """A set of MediaInfo worker processes; thread-safe; blocks when all are busy.

    ``on_health(ok, detail)`` is called (from a probing thread) when the tool breaks or recovers.
    """

    def __init__(self, workers: int = 0, timeout: float = 30.0, *, ready_timeout: float = READY_TIMEOUT,
                 on_health: Callable[[bool, str], None] | None = None) -> None:
        self.size = workers or os.cpu_count() or 2
        self.timeout = timeout
        self.ready_timeout = ready_timeout
        self.on_health = on_health
        self.version = "mediainfo"
        self.health = ProbeHealth()
        self._ctx = _context()
        self._fork = mp.get_context("fork") if "fork" in mp.get_all_start_methods() else None
        self._idle: queue.Queue[_Worker | None] = queue.Queue()
        self._lock = threading.Lock()
        self._started = 0
        self._closed = False
        self._live: set[_Worker] = set()

    def start(self, count: int | None = None) -> ProbePool:
        """Start workers now (all of them by default), so the first file does not wait for one.
        A worker that cannot start is reported when it is first used."""
        workers = []
        with self._lock:
            while self._started < min(self.size, count or self.size):
                self._started += 1
                worker = self._spawn_locked()
                if worker is None:
                    break
                workers.append(worker)
        for w in workers:
            self._idle.put(w)
        return self

    def _spawn_locked(self) -> _Worker | None:
        # While this process has a single thread (``reelwatch check`` at its very start), a plain
        # fork is safe and costs nothing: the first worker loads MediaInfo while we load the config
        # and the plugins. Later workers come from the forkserver: forking a threaded process is not.
        ctx = self._fork if self._fork is not None and threading.active_count() == 1 else self._ctx
        try:
            worker = _Worker(ctx)
            self._live.add(worker)
            return worker
        except Exception as exc:  # noqa: BLE001 - cannot fork, no server, no memory: the tool's problem
            self._started -= 1
            self._last_start_error = f"cannot start a MediaInfo worker: {type(exc).__name__}: {exc}"
            return None

    def _take(self) -> _Worker:
        with self._lock:
            if self._closed:
                raise RuntimeError("probe pool is closed")
            if self._idle.empty() and self._started < self.size:
                self._started += 1
                worker = self._spawn_locked()
                if worker is None:
                    raise _StartFailed(self._last_start_error)
                return worker
        worker = self._idle.get()
        if worker is None:
            raise RuntimeError("probe pool is closed")
        return worker

    def _discard(self, worker: _Worker) -> None:
        worker.kill()
        with self._lock:
            self._started -= 1
            self._live.discard(worker)

    def cancel(self) -> None:
        """Stop now (Ctrl-C, SIGTERM): every worker is killed, and waiting callers get ProbeUnavailable."""
        with self._lock:
            self._closed = True
            live = list(self._live)
        for worker in live:
            worker.kill()
        for _ in range(self.size):
            self._idle.put(None)

    def _ready_worker(self) -> _Worker:
        """An idle or new worker that has said it is ready; ProbeUnavailable when none will start."""
        reason = ""
        for _ in range(START_ATTEMPTS):
            try:
                worker = self._take()
            except RuntimeError:  # closed or cancelled under us
                raise ProbeUnavailable("the probe was stopped") from None
            except _StartFailed as exc:
                reason = str(exc)
                self.health.start_failures += 1
                continue
            if worker.version and not worker.proc.is_alive():  # died while idle: not this file's doing
                self.health.restarts += 1
                self._discard(worker)
                continue
            try:
                worker.ensure_ready(self.ready_timeout)
            except _StartFailed as exc:
                reason = str(exc)
                self.health.start_failures += 1
                self._discard(worker)
                continue
            self.version = worker.version
            self._set_health(True, "")
            return worker
        self._set_health(False, reason or "MediaInfo workers cannot start")
        raise ProbeUnavailable(self.health.detail)

    def _set_health(self, ok: bool, detail: str) -> None:
        if ok == self.health.ok and (ok or detail == self.health.detail):
            return
        self.health.ok, self.health.detail, self.health.since = ok, detail, time.time()
        if self.on_health is not None:
            self.on_health(ok, detail)

    def _exchange(self, worker: _Worker, items: Sequence[Request]) -> tuple[list[dict[str, Any]], str | None]:
        """Send requests in one message; collect results until done, a timeout or the worker's death."""
        got: list[dict[str, Any]] = []
        try:
            worker.conn.send(list(items))
            for _ in items:
                if not worker.conn.poll(self.timeout):
                    return got, "timeout"
                got.append(worker.conn.recv())
        except (EOFError, OSError):
            return got, "died"
        return got, None

    def run(self, items: Sequence[Request]) -> list[dict[str, Any]]:
        """Facts (plain data) for requests, in order. Raises ProbeUnavailable."""
        results: list[dict[str, Any]] = []
        pending = list(items)
        died_on: int | None = None  # index (in results) of the file a proven worker already died on
        while pending:
            worker = self._ready_worker()
            started = time.monotonic()
            got, fault = self._exchange(worker, pending)
            results += got
            pending = pending[len(got):]
            if self._closed:
                raise ProbeUnavailable("the probe was stopped")
            if fault is None:
                self._idle.put(worker)
                break
            self._discard(worker)
            self.health.restarts += 1
            if fault == "timeout":
                results.append(self._failed(f"MediaInfo did not finish reading this file within {self.timeout:g} s "
                                            "and was stopped (a known hang on some MXF files)", started))
                pending, died_on = pending[1:], None
            elif died_on == len(results):  # twice on the same file, the second time on a fresh worker
                results.append(self._failed("MediaInfo crashed while reading this file (twice, on fresh workers)",
                                            started))
                pending, died_on = pending[1:], None
            else:  # perhaps the file, perhaps a worker killed from outside: try once more on a fresh one
                died_on = len(results)
        return results

    @staticmethod
    def _failed(reason: str, started: float) -> dict[str, Any]:
        return {"kind": "unreadable", "error": reason, "general": {"probe_seconds": round(time.monotonic() - started, 3)}}

    def _facts(self, data: dict[str, Any]) -> Facts:
        return Facts.from_mapping({**data, "probe": self.version})

    def _known(self, asset: Asset) -> Facts | None:
        """Facts that need no MediaInfo: a file reelwatch may not read (:func:`access_problem`),
        an empty file, or a sidecar (checksum list, ASC MHL file, XML) that the integrity rules
        read themselves, with O_NOATIME (MediaInfo would not)."""
        denied = access_problem(asset.member_paths()[0])
        if denied is not None:
            return Facts(kind="unreadable", error=denied, probe=self.version)
        if asset.sequence is not None:
            return None
        if asset.size == 0:
            return Facts(kind="empty", error="the file is empty (0 bytes)", probe=self.version)
        from ..integrity.manifests import is_manifest_name
        low = asset.name.lower()
        if low.endswith(SIDECAR_EXTENSIONS) or is_manifest_name(low):
            return Facts(kind="sidecar", probe=self.version)
        return None

    def facts(self, asset: Asset) -> Facts:
        """Facts of one asset. Raises ProbeUnavailable when no worker can be started."""
        known = self._known(asset)
        return known if known is not None else self._facts(self.run([request_for(asset)])[0])

    def facts_many(self, assets: Sequence[Asset]) -> Iterator[tuple[int, Facts | ProbeUnavailable]]:
        """(index, facts) for many assets, in the order they are ready: up to CHUNK files per round
        trip, on every worker at once. An index whose facts could not be read because no worker
        starts comes with the ProbeUnavailable instead."""
        todo = []
        for i, asset in enumerate(assets):
            known = self._known(asset)
            if known is not None:
                yield i, known
            else:
                todo.append(i)
        if not todo:
            return
        # a sequence is a dozen parses: each goes alone, first, so that no worker is left with all of them
        chunks = [[i] for i in todo if assets[i].sequence is not None]
        singles = [i for i in todo if assets[i].sequence is None]
        chunk = max(1, min(CHUNK, len(singles) // (self.size * 4) or 1))
        chunks += [singles[n:n + chunk] for n in range(0, len(singles), chunk)]

        def one(idx: list[int]) -> list[tuple[int, Facts | ProbeUnavailable]]:
            try:
                return list(zip(idx, map(self._facts, self.run([request_for(assets[i]) for i in idx])), strict=True))
            except ProbeUnavailable as exc:
                return [(i, exc) for i in idx]

        with ThreadPoolExecutor(max_workers=min(self.size, len(chunks)), thread_name_prefix="reelwatch-probe") as ex:
            futures = [ex.submit(one, c) for c in chunks]
            try:
                for fut in as_completed(futures):
                    yield from fut.result()
            finally:
                for fut in futures:
                    fut.cancel()

    def close(self) -> None:
        with self._lock:
            self._closed = True
        while True:
            try:
                worker = self._idle.get_nowait()
            except queue.Empty:
                break
            if worker is not None:
                with contextlib.suppress(OSError):
                    worker.conn.send(None)
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
    """The builtin ``probe`` and ``probe_many`` hook implementations, backed by a :class:`ProbePool`."""

    def __init__(self, pool: ProbePool) -> None:
        self.pool = pool

    @hookimpl
    def probe(self, asset: Asset) -> Facts:
        return self.pool.facts(asset)

    @hookimpl
    def probe_many(self, assets: Sequence[Asset]) -> Iterator[tuple[int, Facts | ProbeUnavailable]]:
        return self.pool.facts_many(assets)
