"""Shared fixtures: real volumes under tmp_path, real media (PyAV), a real HTTP inbox,
a real daemon process, and a guard against leaked observer threads."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from fractions import Fraction
from pathlib import Path

import pytest

from reelwatch.demo.inbox import LocalInbox

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"
NTSC = Fraction(24000, 1001)


def corpus_path(*parts: str) -> Path:
    """A path in the shared corpus; skips the test when the corpus is absent."""
    path = CORPUS.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"corpus not available: {path}")
    return path


@pytest.fixture(autouse=True)
def no_leaked_threads() -> Iterator[None]:
    before = {t.ident for t in threading.enumerate()}
    yield
    deadline = time.monotonic() + 5
    while True:
        leaked = [t for t in threading.enumerate() if t.ident not in before and t.is_alive()
                  and ("observer" in t.name.lower() or t.name.startswith("reelwatch-")
                       or type(t).__name__.endswith("Emitter"))]
        if not leaked or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert not leaked, f"threads left running: {[t.name for t in leaked]}"


@pytest.fixture(scope="session")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A small library of real clips, generated once per session."""
    from reelwatch.demo import mediagen
    out = tmp_path_factory.mktemp("media")
    lib: dict[str, Path] = {}

    def clip(key: str, name: str, **kw: object) -> None:
        lib[key] = mediagen.make_clip(out / name, width=320, height=180, **kw)  # type: ignore[arg-type]

    clip("prores_2398", "A002C006_141024_R2EC.mov", codec="prores_hq", rate=NTSC)
    clip("prores_25", "A002C010_141024_R2EC.mov", codec="prores_hq", rate=Fraction(25))
    clip("prores_24", "A002C011_141024_R2EC.mov", codec="prores_hq", rate=Fraction(24))
    clip("dnxhr", "B001C001_141024_R2EC.mxf", codec="dnxhr_hqx", rate=NTSC)
    clip("h264", "review_v001.mp4", codec="h264", rate=NTSC)
    clip("faststart", "A002C007_141024_R2EC.mov", codec="prores_hq", rate=NTSC, faststart=True, frames=24)
    lib["truncated"] = mediagen.truncate(lib["faststart"], out / "A002C007_cut.mov", keep=0.5)
    lib["wav"] = mediagen.make_wav(out / "S001T001.wav", rate=48000, bits=24, channels=2, seconds=0.5)
    lib["empty"] = out / "A002C012_141024_R2EC.mov"
    lib["empty"].touch()
    lib["junk"] = out / "A002C013_141024_R2EC.mxf"
    lib["junk"].write_bytes(os.urandom(4096))
    return lib


@pytest.fixture
def inbox() -> Iterator[LocalInbox]:
    with LocalInbox() as box:
        yield box


def write_config(tmp_path: Path, inbox: LocalInbox | None = None, *, volumes: dict[str, str] | None = None,
                 settle: float = 1, digest: float = 0, extra: str = "", roles: tuple[str, ...] = (
                     "dit", "editorial", "vfx", "sound", "supervisor", "admin")) -> Path:
    """A production config with real volumes under tmp_path, delivering to ``inbox``."""
    volumes = volumes or {"ingest": "dit"}
    lines = ['[production]\nname = "Test Production"\n']
    for role in roles:
        url = inbox.url(role) if inbox else f"json://127.0.0.1:9/{role}"
        lines.append(f'[roles.{role}]\nnotify = ["{url}"]\n')
    for name, owner in volumes.items():
        (tmp_path / name).mkdir(exist_ok=True)
        kind = "delivery" if name.startswith("delivery") else "ingest"
        lines.append(f'[[volumes]]\nname = "{name}"\npath = "{tmp_path / name}"\nkind = "{kind}"\n'
                     f'owner = "{owner}"\nsettle = {settle}\nobserver = "inotify"\n')
    lines.append(f'[state]\npath = "{tmp_path / "state.db"}"\n')
    if (url := test_state_url(tmp_path / "state.db")) is not None:  # REELWATCH_TEST_STATE=postgresql
        lines.append(f'url = "{url}"\n')
    lines.append(f"[notify]\ndigest_window = {digest}\nretry_base = 0.2\n")
    lines.append(extra)
    path = tmp_path / "production.toml"
    path.write_text("\n".join(lines))
    return path


def wait_until(pred: Callable[[], object], timeout: float, step: float = 0.1) -> bool:
    """Poll ``pred`` until it holds or ``timeout`` seconds pass; its last answer decides."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(step)
    return bool(pred())


def reelwatch(*args: str, timeout: float = 120, **kw: object) -> subprocess.CompletedProcess[str]:
    """Run the real command line."""
    return subprocess.run([sys.executable, "-m", "reelwatch.cli", *args], capture_output=True, text=True,
                          timeout=timeout, **kw)  # type: ignore[call-overload]


class DaemonProcess:
    """``reelwatch run`` in a child process; stopped with SIGTERM (or killed) at teardown."""

    def __init__(self, config: Path, env: dict[str, str] | None = None) -> None:
        self.config = config
        self.log = config.parent / f"daemon-{time.monotonic_ns()}.log"
        self._fh = open(self.log, "wb")  # noqa: SIM115 -- the daemon writes to it until stop() closes it
        self.proc = subprocess.Popen([sys.executable, "-m", "reelwatch.cli", "run", "--config", str(config)],
                                     stdout=self._fh, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})})

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if b'"ready"' in self.log.read_bytes() or b"event=ready" in self.log.read_bytes():
                return
            if self.proc.poll() is not None:
                raise AssertionError(f"daemon exited early:\n{self.output()}")
            time.sleep(0.05)
        raise AssertionError(f"daemon not ready:\n{self.output()}")

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._fh.close()
        return self.proc.returncode


@pytest.fixture
def daemon() -> Iterator[type[DaemonProcess]]:
    started: list[DaemonProcess] = []

    class Tracked(DaemonProcess):
        def __init__(self, *a: object, **kw: object) -> None:
            super().__init__(*a, **kw)  # type: ignore[arg-type]
            started.append(self)

    yield Tracked
    for d in started:
        d.stop()


from pgserver import (  # noqa: E402,F401  (a real PostgreSQL for the state tests; tests look into the state through these)
    _store_paths_to_postgresql, open_state_db, own_pg_server, pg_server, pg_url, sqlite_only, state_bytes, state_exists,
    state_arg, state_has_table, state_rows, test_state_url)
