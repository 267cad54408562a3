"""File checksums as offload tools write them: xxh128 (the ASC MHL default), xxh64, xxh3, md5 ...

Files are streamed through one reusable buffer, opened read-only with ``O_NOATIME`` where the
kernel allows it (the owner of the file or root), so hashing a watched volume does not touch
the access times that archive and backup tools look at. Both ``xxhash`` and ``hashlib``
release the GIL while hashing, so :func:`hash_files` runs files in parallel in threads.

Algorithm names are the element names ASC MHL writes (``xxh128``, ``xxh64``, ``xxh3``,
``md5``, ``sha1``, ``c4``) plus ``sha256`` and ``xxh32`` for plain checksum manifests.
"""

from __future__ import annotations

import errno
import hashlib
import os
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

import xxhash
import contextlib

DEFAULT_ALGO = "xxh128"
"""ASC MHL's default hash format."""

DEFAULT_BUFFER = 1024 * 1024
"""Read size in bytes. Measured with bench/bench_hashing.py on a page-cached 1 GiB file:
xxh128 plateaus from 1 to 4 MiB (the buffer stays in the CPU cache between the copy out of
the page cache and the hash) and drops at 64-256 KiB and, in some runs, at 16 MiB; md5 is
the same at any size. 1 MiB is on the plateau with a quarter of the memory per thread."""

ALGORITHMS = ("xxh128", "xxh64", "xxh3", "xxh32", "md5", "sha1", "sha256", "c4")
"""Every algorithm :func:`hash_file` computes, by the name ASC MHL writes."""

MHL_ALGORITHMS = ("md5", "sha1", "xxh128", "xxh3", "xxh64", "c4")
"""The hash formats ASC MHL v2 knows, in the order its schema lists them."""

_ALIASES = {
    "xxh128": "xxh128", "xxh3_128": "xxh128", "xxh3-128": "xxh128", "xxhash128": "xxh128",
    "xxh64": "xxh64", "xxhash64": "xxh64", "xxhash64be": "xxh64", "xxh3_64": "xxh3",
    "xxh3": "xxh3", "xxh3-64": "xxh3", "xxh32": "xxh32", "xxhash": "xxh32", "xxhash32": "xxh32",
    "md5": "md5", "sha1": "sha1", "sha-1": "sha1", "sha256": "sha256", "sha-256": "sha256",
    "c4": "c4",
}

_C4_CHARSET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


class HashCancelled(BaseException):
    """Hashing was stopped (shutdown, Ctrl-C): says nothing about the file.

    A BaseException, like KeyboardInterrupt, so that it passes through the rule isolation that
    turns a plugin's Exception into a ``reelwatch.plugin_error`` finding: the check it interrupts
    is not recorded, and runs again on the next start."""


class _Cancel(Protocol):
    def is_set(self) -> bool: ...


class _Hasher(Protocol):
    def update(self, data: Any, /) -> None: ...

    def hexdigest(self) -> str: ...


def normalize_algo(name: str) -> str:
    """The canonical name of an algorithm (``XXH128`` -> ``xxh128``, ``xxhash64be`` -> ``xxh64``).

    Raises ValueError for an algorithm reelwatch cannot compute.
    """
    key = str(name).strip().lower()
    if key in _ALIASES:
        return _ALIASES[key]
    raise ValueError(f"unknown hash algorithm {name!r}; known: {', '.join(ALGORITHMS)}")


def new_hasher(algo: str) -> _Hasher:
    """A fresh incremental hasher; ``hexdigest()`` gives the text form tools write."""
    algo = normalize_algo(algo)
    if algo == "xxh128":
        return xxhash.xxh3_128()
    if algo == "xxh64":
        return xxhash.xxh64()
    if algo == "xxh3":
        return xxhash.xxh3_64()
    if algo == "xxh32":
        return xxhash.xxh32()
    if algo == "c4":
        return _C4()
    return hashlib.new(algo)


class _C4:
    """C4 ID (SMPTE ST 2114): SHA-512 written in base58 with a ``c4`` prefix, 90 characters."""

    def __init__(self) -> None:
        self._h = hashlib.sha512()

    def update(self, data: Any, /) -> None:
        self._h.update(data)

    def hexdigest(self) -> str:
        return c4_from_sha512(self._h.digest())


def c4_from_sha512(digest: bytes) -> str:
    """Encode a SHA-512 digest as a C4 ID."""
    value = int.from_bytes(digest, "big")
    chars = []
    while value:
        value, rem = divmod(value, 58)
        chars.append(_C4_CHARSET[rem])
    return "c4" + "".join(reversed(chars)).rjust(88, "1")


def hash_bytes(data: bytes, algo: str = DEFAULT_ALGO) -> str:
    """Hex digest (C4 ID for ``c4``) of bytes in memory."""
    h = new_hasher(algo)
    h.update(data)
    return h.hexdigest()


def open_readonly(path: str | os.PathLike[str]) -> int:
    """Open a file for reading without updating its access time when the kernel allows it.

    ``O_NOATIME`` is permitted only to the file's owner (or root); otherwise the open fails
    with EPERM and we silently open without it.
    """
    flags = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0)
    noatime = getattr(os, "O_NOATIME", 0)
    if noatime:
        try:
            return os.open(path, flags | noatime)
        except OSError as exc:
            if exc.errno not in (errno.EPERM, errno.EINVAL):
                raise
    return os.open(path, flags)


def read_noatime(path: str | os.PathLike[str], limit: int | None = None) -> bytes:
    """The bytes of a sidecar (checksum list, ASC MHL file), read without touching its access time
    where the kernel allows it; at most ``limit`` bytes. Raises OSError like ``open``."""
    fd = open_readonly(path)
    with open(fd, "rb", closefd=True) as fh:
        return fh.read() if limit is None else fh.read(limit)


def hash_file(path: str | os.PathLike[str], algo: str = DEFAULT_ALGO, *,
              progress: Callable[[int], None] | None = None, buffer: int = DEFAULT_BUFFER,
              cancel: _Cancel | None = None) -> str:
    """Checksum of one file, streamed through a reusable buffer.

    ``progress`` is called after every read with the number of bytes just read (so a
    progress bar can ``advance`` by it). Raises OSError when the file cannot be read, and
    HashCancelled within one read (1 MiB) of ``cancel`` (a threading.Event) being set.
    """
    return hash_file_multi(path, (algo,), progress=progress, buffer=buffer, cancel=cancel)[normalize_algo(algo)]


def hash_file_multi(path: str | os.PathLike[str], algos: Iterable[str], *,
                    progress: Callable[[int], None] | None = None,
                    buffer: int = DEFAULT_BUFFER, cancel: _Cancel | None = None) -> dict[str, str]:
    """Several checksums of one file in a single read: ``{"xxh64": ..., "md5": ...}``."""
    hashers = {normalize_algo(a): None for a in algos}
    if not hashers:
        raise ValueError("no hash algorithm given")
    if cancel is not None and cancel.is_set():
        raise HashCancelled(os.fspath(path))
    live = {a: new_hasher(a) for a in hashers}
    updates = [h.update for h in live.values()]
    buf = bytearray(max(4096, int(buffer)))
    view = memoryview(buf)
    fd = open_readonly(path)
    try:
        with contextlib.suppress(AttributeError, OSError):
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_SEQUENTIAL)
        with open(fd, "rb", buffering=0, closefd=False) as raw:
            while True:
                n = raw.readinto(view)
                if not n:
                    break
                chunk = view[:n] if n < len(buf) else view
                for update in updates:
                    update(chunk)
                if progress is not None:
                    progress(n)
                if cancel is not None and cancel.is_set():
                    raise HashCancelled(os.fspath(path))
    finally:
        os.close(fd)
    return {a: h.hexdigest() for a, h in live.items()}


def hash_files(paths: Iterable[str | os.PathLike[str]], algo: str = DEFAULT_ALGO, workers: int = 4, *,
               progress: Callable[[int], None] | None = None,
               buffer: int = DEFAULT_BUFFER) -> dict[str, str | OSError]:
    """Checksums of many files on ``workers`` threads: ``{path: hexdigest or the OSError}``.

    A file that cannot be read maps to its OSError instead of stopping the others.
    ``progress`` (bytes) may be called from several threads at once.
    """
    normalize_algo(algo)
    items = [os.fspath(p) for p in paths]

    def one(p: str) -> str | OSError:
        try:
            return hash_file(p, algo, progress=progress, buffer=buffer)
        except OSError as exc:
            return exc

    if workers <= 1 or len(items) <= 1:
        return {p: one(p) for p in items}
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="reelwatch-hash") as pool:
        return dict(zip(items, pool.map(one, items), strict=True))


def digest_length(algo: str) -> int:
    """Number of characters in the text form of a digest (90 for C4)."""
    return {"xxh128": 32, "xxh64": 16, "xxh3": 16, "xxh32": 8, "md5": 32, "sha1": 40, "sha256": 64,
            "c4": 90}[normalize_algo(algo)]
