"""Serving the pages: ``reelwatch web`` in the foreground, or a thread of the daemon (``[web] listen``).

Loopback only unless users are configured (the config refuses ``listen`` beyond loopback without
them, and so does ``--listen`` here). uvicorn runs in the calling thread or in one thread of its own.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from typing import Any

from ..core.config import Config, is_loopback

DEFAULT = "127.0.0.1:8765"


class WebRefused(ValueError):
    """The pages cannot be served as asked (and the text says why)."""


def split(listen: str) -> tuple[str, int]:
    host, sep, port = listen.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise WebRefused(f"--listen {listen!r}: expected host:port, e.g. 127.0.0.1:8765")
    return host.strip("[]"), int(port)


def server(config: Config, listen: str | None = None) -> Any:
    """A configured ``uvicorn.Server`` (not started)."""
    import uvicorn

    from .app import create_app
    host, port = split(listen or config.web.listen or DEFAULT)
    loopback = is_loopback(host)
    if not loopback and not config.web.users:
        raise WebRefused(f"refusing to serve on {host}: beyond this machine the pages need [web.users] "
                         "(anyone on the network could read and acknowledge findings); or listen on 127.0.0.1")
    app = create_app(config, loopback=loopback)
    cfg = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False,
                         timeout_graceful_shutdown=2, lifespan="on")
    return uvicorn.Server(cfg)


def url_of(listen: str | None) -> str:
    host, port = split(listen or DEFAULT)
    return f"http://{'[' + host + ']' if ':' in host else host}:{port}/"


def run_web(config: Config, listen: str | None = None) -> int:
    """``reelwatch web``: serve in the foreground until Ctrl-C or SIGTERM."""
    try:
        srv = server(config, listen)
    except WebRefused as exc:
        print(f"reelwatch web: {exc}", file=sys.stderr)
        return 2
    print(f"reelwatch web: {config.production.name} at {url_of(listen or config.web.listen)}", flush=True)
    srv.run()
    return 0


class WebThread:
    """The daemon's optional web server (``[web] listen``), in a thread of its own."""

    def __init__(self, config: Config) -> None:
        import time

        import structlog
        self.server = server(config, config.web.listen)
        self.url: str | None = url_of(config.web.listen)
        self.thread = threading.Thread(target=self._run, name="reelwatch-web", daemon=True)
        self.server.install_signal_handlers = lambda: None  # the daemon owns the signals
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started and self.thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.02)
        if not self.server.started:  # a port in use: said loudly, and the daemon keeps guarding
            structlog.get_logger("reelwatch.web").error(
                "web_not_served", listen=config.web.listen, reason="could not listen (address in use?)")
            self.url = None

    def _run(self) -> None:
        with contextlib.suppress(SystemExit):  # uvicorn exits when it cannot bind; the daemon does not
            self.server.run()

    def alive(self) -> bool:
        return self.thread.is_alive()

    def close(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def hash_password_main() -> int:
    """``reelwatch web hash-password``: read a password (twice, without echo) and print its hash."""
    import getpass

    from .auth import hash_password
    first = getpass.getpass("password: ") if sys.stdin.isatty() else sys.stdin.readline().rstrip("\n")
    if sys.stdin.isatty() and getpass.getpass("again: ") != first:
        print("the two passwords differ", file=sys.stderr)
        return 2
    if len(first) < 8:
        print("use at least 8 characters", file=sys.stderr)
        return 2
    print(hash_password(first))
    return 0
