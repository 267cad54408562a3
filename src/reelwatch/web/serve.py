"""Serving the pages: ``reelwatch web`` in the foreground, or a thread of the daemon (``[web] listen``).

Loopback only unless users are configured (the config refuses ``listen`` beyond loopback without
them, and so does ``--listen`` here). uvicorn runs in the calling thread or in one thread of its own.
"""

from __future__ import annotations

import sys
import threading
from typing import Any

import structlog

from ..core.config import Config, is_loopback

DEFAULT = "127.0.0.1:8765"
log = structlog.get_logger("reelwatch.web")


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
    """The daemon's optional web server (``[web] listen``), in a thread of its own.

    It is one of the daemon's threads (:mod:`reelwatch.service.health`): when it cannot listen or
    its server ends, :meth:`alive` is False, ``problem`` says why, and the daemon reports it like
    any dead thread (status, metrics, the watchdog, the admin). A reload goes through
    :meth:`reconfigure`: a new address is served at once, and users removed or changed are
    logged out at once."""

    name = "reelwatch-web"

    def __init__(self, config: Config) -> None:
        self.config = config
        self.problem = ""
        self._closing = False
        self._start(config)

    def _start(self, config: Config) -> None:
        import time
        self.config = config
        self.listen = config.web.listen or DEFAULT
        self.problem = ""
        self._closing = False
        self.server = server(config, self.listen)
        self.url: str | None = url_of(self.listen)
        self.thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self.server.install_signal_handlers = lambda: None  # the daemon owns the signals
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started and self.thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.02)
        if not self.server.started:  # a port in use: said loudly, and the daemon keeps guarding
            self.problem = self.problem or (f"the web pages are not served: could not listen on {self.listen} "
                                            "(the address is in use, or not one of this machine's)")
            log.error("web_not_served", listen=self.listen, reason=self.problem)
            self.url = None

    def _run(self) -> None:
        try:
            self.server.run()
        except SystemExit:  # uvicorn exits when it cannot bind; the daemon does not
            pass
        except BaseException as exc:
            self.problem = f"the web pages are no longer served: {type(exc).__name__}: {exc}"
            raise
        if not self.problem and not self._closing and self.server.started:
            self.problem = f"the web pages on {self.listen} are no longer served: the server stopped"

    def alive(self) -> bool:
        return self.thread.is_alive()

    def reconfigure(self, config: Config) -> None:
        """A reload: the pages read the new config (roles, volumes, users) from the next request;
        users removed or changed lose their sessions now; a new address is listened on (the old
        one closed), and a server that had died is started again."""
        if config.web.listen and ((config.web.listen or DEFAULT) != self.listen or not self.alive()):
            self.close()
            self._start(config)
            log.info("web_reconfigured", listen=self.listen, served=self.url is not None)
            return
        self.config = config
        pages = self.server.config.app.state.pages
        ended = pages.reconfigure(config)
        log.info("web_reconfigured", listen=self.listen, sessions_ended=ended)

    def close(self) -> None:
        self._closing = True
        self.server.should_exit = True
        self.thread.join(10)


def reconfigure(current: WebThread | None, config: Config) -> WebThread | None:
    """The daemon's web server after a reload: started, reconfigured, or closed (``[web] listen``
    removed); a server that cannot listen on the new address is returned dead, to be reported."""
    if not config.web.listen:
        if current is not None:
            current.close()
            log.info("web_closed", reason="[web] listen was removed")
        return None
    if current is None:
        return WebThread(config)
    current.reconfigure(config)
    return current


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
