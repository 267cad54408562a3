"""reelwatch.integrity.hashing: digests equal the reference tools', streaming, threads, access times."""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import xxhash

from reelwatch.integrity import hashing
from reelwatch.integrity.hashing import hash_bytes, hash_file, hash_file_multi, hash_files, normalize_algo

REFERENCE = {
    "xxh128": lambda b: xxhash.xxh3_128(b).hexdigest(),
    "xxh64": lambda b: xxhash.xxh64(b).hexdigest(),
    "xxh3": lambda b: xxhash.xxh3_64(b).hexdigest(),
    "xxh32": lambda b: xxhash.xxh32(b).hexdigest(),
    "md5": lambda b: hashlib.md5(b).hexdigest(),
    "sha1": lambda b: hashlib.sha1(b).hexdigest(),
    "sha256": lambda b: hashlib.sha256(b).hexdigest(),
}


@pytest.fixture(scope="module")
def blob(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("hash") / "blob.bin"
    path.write_bytes(os.urandom(3 * 65536 + 12345))  # not a multiple of any buffer size
    return path


@pytest.mark.parametrize("algo", sorted(REFERENCE))
@pytest.mark.parametrize("buffer", [4096, 65536, hashing.DEFAULT_BUFFER])
def test_digest_equals_reference_for_every_buffer_size(blob: Path, algo: str, buffer: int) -> None:
    assert hash_file(blob, algo, buffer=buffer) == REFERENCE[algo](blob.read_bytes())


def test_empty_file_and_multi_algorithm_single_read(tmp_path: Path, blob: Path) -> None:
    empty = tmp_path / "empty"
    empty.touch()
    assert hash_file(empty, "xxh128") == xxhash.xxh3_128(b"").hexdigest()
    both = hash_file_multi(blob, ["XXH64", "md5"])
    assert both == {"xxh64": REFERENCE["xxh64"](blob.read_bytes()), "md5": REFERENCE["md5"](blob.read_bytes())}


def test_c4_equals_ascmhl_reference(blob: Path) -> None:
    ascmhl_hasher = pytest.importorskip("ascmhl.hasher")
    ours = hash_file(blob, "c4")
    assert ours == ascmhl_hasher.hash_file(str(blob), "c4")
    assert len(ours) == 90 and ours.startswith("c4")
    assert hash_bytes(b"", "c4") == ascmhl_hasher.hash_data(b"", "c4")


def test_names_as_tools_write_them() -> None:
    assert normalize_algo("XXH128") == "xxh128"
    assert normalize_algo("xxhash64be") == "xxh64"
    assert normalize_algo("XXH3") == "xxh3"
    assert normalize_algo("SHA-256") == "sha256"
    assert set(hashing.MHL_ALGORITHMS) <= set(hashing.ALGORITHMS)
    with pytest.raises(ValueError, match="unknown hash algorithm 'crc32'"):
        normalize_algo("crc32")
    with pytest.raises(ValueError):
        hash_file("/nonexistent", "blake3")


def test_progress_reports_every_byte(blob: Path) -> None:
    seen: list[int] = []
    hash_file(blob, "xxh128", progress=seen.append, buffer=65536)
    assert sum(seen) == blob.stat().st_size
    assert len(seen) == 4 and max(seen) == 65536


def test_hash_files_in_threads_matches_serial_and_keeps_errors(tmp_path: Path) -> None:
    paths = []
    for i in range(6):
        p = tmp_path / f"f{i}.bin"
        p.write_bytes(os.urandom(100_000 + i))
        paths.append(p)
    missing = tmp_path / "gone.bin"
    total: list[int] = []
    out = hash_files([*paths, missing], "md5", workers=3, progress=total.append)
    for p in paths:
        assert out[str(p)] == hashlib.md5(p.read_bytes()).hexdigest()
    assert isinstance(out[str(missing)], FileNotFoundError)
    assert sum(total) == sum(p.stat().st_size for p in paths)
    assert hash_files(paths[:2], "xxh64", workers=1) == {str(p): hash_file(p, "xxh64") for p in paths[:2]}


def _plain_read_updates_atime(path: Path) -> bool:
    old = time.time() - 3 * 86400
    os.utime(path, (old, old - 10))
    with open(path, "rb") as f:
        f.read()
    return os.stat(path).st_atime != old


def test_hashing_leaves_access_time_alone(tmp_path: Path) -> None:
    path = tmp_path / "A002C006_141024_R2EC.mov"
    path.write_bytes(os.urandom(50_000))
    if not _plain_read_updates_atime(path):
        pytest.skip("this filesystem does not update access times on read (noatime)")
    old = time.time() - 3 * 86400
    os.utime(path, (old, old - 10))  # atime newer than mtime but older than a day: relatime updates it
    hash_file(path, "xxh128")
    assert os.stat(path).st_atime == old


def test_falls_back_silently_when_noatime_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # We run as root, where O_NOATIME always works; the kernel refusal for a non-owner is simulated.
    if not getattr(os, "O_NOATIME", 0):
        pytest.skip("no O_NOATIME on this platform")
    path = tmp_path / "f.bin"
    path.write_bytes(b"abc")
    real_open = os.open
    flags_seen: list[int] = []

    def refusing_open(p: object, flags: int, *a: object) -> int:
        flags_seen.append(flags)
        if flags & os.O_NOATIME:
            raise PermissionError(errno.EPERM, "Operation not permitted")
        return real_open(p, flags, *a)  # type: ignore[arg-type]

    monkeypatch.setattr(hashing.os, "open", refusing_open)
    assert hash_file(path, "md5") == hashlib.md5(b"abc").hexdigest()
    assert len(flags_seen) == 2 and not flags_seen[1] & os.O_NOATIME


def test_missing_file_raises_oserror(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        hash_file(tmp_path / "nope.mov")


@pytest.mark.parametrize("tool,algo", [(["xxhsum", "-H2"], "xxh128"), (["xxhsum", "-H1"], "xxh64"),
                                       (["md5sum"], "md5"), (["sha1sum"], "sha1")])
def test_same_digest_as_command_line_tools(blob: Path, tool: list[str], algo: str) -> None:
    if not shutil.which(tool[0]):
        pytest.skip(f"{tool[0]} not installed")
    out = subprocess.run([*tool, str(blob)], check=True, capture_output=True, text=True).stdout
    assert out.split()[0].lower() == hash_file(blob, algo)
