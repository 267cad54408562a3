"""Shared fixtures: real volumes under tmp_path, real media (PyAV), a real HTTP inbox,
a real daemon process, and guards against leaked observer threads and leaked processes."""

from __future__ import annotations

import contextlib
import os
import secrets
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


RUN_MARK = "REELWATCH_TEST_RUN"
"""Set by this pytest run (its controller) for every process it starts: the xdist workers, the
daemons, their MediaInfo workers and everything else inherit it. The sweep at the end of the run
kills what carries this run's value and nothing else: other runs on the machine carry their own."""


def pytest_configure(config: pytest.Config) -> None:
    if not hasattr(config, "workerinput"):  # the controller (or a run without xdist), not a worker
        os.environ[RUN_MARK] = f"{os.getpid()}-{secrets.token_hex(4)}"
        config.stash[_mark_key] = os.environ[RUN_MARK]


_mark_key = pytest.StashKey[str]()
_swept_key = pytest.StashKey[list[str]]()


def run_processes(mark: str) -> dict[int, str]:
    """Live processes started by the run whose mark is ``mark`` (pid -> command line), this one
    excluded. PostgreSQL servers are found by their data directory (:mod:`pgserver`): a server
    overwrites its environment with its process titles."""
    needle = f"{RUN_MARK}={mark}".encode()
    found: dict[int, str] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry.name}/environ", "rb") as fh:
                if needle not in fh.read().split(b"\0"):
                    continue
            with open(f"/proc/{entry.name}/cmdline", "rb") as fh:
                found[int(entry.name)] = fh.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:  # gone meanwhile, or a kernel thread
            continue
    return found


def kill_group(pgid: int) -> None:
    """SIGKILL what is left of a process group a test started (``start_new_session=True``): a
    daemon's MediaInfo workers outlive a SIGKILL of the daemon (they hold their own pipe's other
    end, so they never read EOF), as its forkserver can. systemd kills the whole cgroup; here the
    group stands in for it."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


@pytest.hookimpl(trylast=True)  # after xdist has stopped its workers (they carry the mark too)
def pytest_sessionfinish(session: pytest.Session) -> None:
    """Whatever this run started and a test left running (a worker that died before its
    teardown, a test that failed between starting something and stopping it) is killed here."""
    mark = session.config.stash.get(_mark_key, None)
    if mark is None:
        return
    from pgserver import stop_servers_of_run
    swept = [f"postgres {d}" for d in stop_servers_of_run(mark)]
    left = run_processes(mark)
    deadline = time.monotonic() + 2
    while left and time.monotonic() < deadline:  # a worker's forkserver ends on its own once it sees the worker go
        time.sleep(0.1)
        left = {pid: cmd for pid, cmd in run_processes(mark).items() if pid in left}
    for pid in left:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    swept += [f"{pid} {cmd}" for pid, cmd in sorted(left.items())]
    session.config.stash[_swept_key] = swept


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    swept = config.stash.get(_swept_key, [])
    if swept:  # visible: a leak is a defect of a test or a fixture, to be found and fixed
        terminalreporter.write_sep("=", f"{len(swept)} process(es) left running by the tests, killed", yellow=True)
        for line in swept:
            terminalreporter.write_line(line[:200])


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


def reelwatch(*args: str, timeout: float = 120, input: str | None = None,  # noqa: A002 (as subprocess.run)
              **kw: object) -> subprocess.CompletedProcess[str]:
    """Run the real command line (as ``subprocess.run`` would); what it leaves running, also on a
    timeout, is killed with its process group."""
    argv = [sys.executable, "-m", "reelwatch.cli", *args]
    with subprocess.Popen(argv, stdin=subprocess.PIPE if input is not None else None,  # type: ignore[call-overload]
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                          **kw) as proc:
        try:
            out, err = proc.communicate(input, timeout=timeout)
        except subprocess.TimeoutExpired:
            kill_group(proc.pid)
            proc.communicate()
            raise
        finally:
            kill_group(proc.pid)
    return subprocess.CompletedProcess(argv, proc.returncode, out, err)


class DaemonProcess:
    """``reelwatch run`` in a child process, leading a process group of its own; stopped with
    SIGTERM (or killed) at teardown, and then whatever is left of its group is killed."""

    _own_group = False

    def __init__(self, config: Path, env: dict[str, str] | None = None) -> None:
        self.config = config
        self.log = config.parent / f"daemon-{time.monotonic_ns()}.log"
        self._spawn([sys.executable, "-m", "reelwatch.cli", "run", "--config", str(config)],
                    {**os.environ, **(env or {})})

    def _spawn(self, argv: list[str], env: dict[str, str]) -> None:
        self._fh = open(self.log, "wb")  # noqa: SIM115 -- the daemon writes to it until stop() closes it
        self.proc = subprocess.Popen(argv, stdout=self._fh, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        self._own_group = True

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

    def _ended(self, timeout: float) -> bool:
        """Whether the daemon has exited within ``timeout``, left unreaped (its pid, the group's
        id, cannot be given to another process until :meth:`stop` has killed the group)."""
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.returncode is not None:
                return True
            try:
                if os.waitid(os.P_PID, self.proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
                    return True
            except ChildProcessError:  # reaped elsewhere
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            if not self._ended(timeout):
                self.proc.kill()
                self._ended(5)
        if self._own_group:
            kill_group(self.proc.pid)
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
