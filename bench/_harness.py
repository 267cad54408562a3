"""Shared bits for the daemon benchmarks: a config on real temp volumes and a real daemon."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path


def write_config(base: Path, inbox_url, *, settle: float, observer: str = "inotify", poll: float = 1.0,
                 digest: float = 0.0, roles: tuple[str, ...] = ("dit", "editorial")) -> Path:
    (base / "ingest").mkdir(parents=True, exist_ok=True)
    lines = ['[production]\nname = "Bench"\n']
    lines += [f'[roles.{r}]\nnotify = ["{inbox_url(r)}"]\n' for r in roles]
    lines.append(f'[[volumes]]\nname = "ingest"\npath = "{base / "ingest"}"\nowner = "dit"\nsettle = {settle}\n'
                 f'observer = "{observer}"\npoll_interval = {poll}\n')
    lines.append(f'[state]\npath = "{base / "state.db"}"\n[notify]\ndigest_window = {digest}\n')
    path = base / "production.toml"
    path.write_text("\n".join(lines))
    return path


class Daemon:
    def __init__(self, config: Path, ready_timeout: float = 30, debug: bool = False) -> None:
        self.log = config.parent / "daemon.log"
        self._fh = open(self.log, "wb")  # noqa: SIM115 -- the daemon writes to it until stop() closes it
        level = ["--log-level", "debug"] if debug else []  # a rescan that finds nothing new is a debug line
        self.proc = subprocess.Popen([sys.executable, "-m", "reelwatch.cli", *level, "run", "--config", str(config)],
                                     stdout=self._fh, stderr=subprocess.STDOUT, env=dict(os.environ))
        deadline = time.monotonic() + ready_timeout
        while b'"ready"' not in self.log.read_bytes():
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError(self.log.read_text())
            time.sleep(0.05)

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(60)
        self._fh.close()
