"""A local HTTP inbox on 127.0.0.1: receives apprise ``json://`` and Slack-webhook posts.

Used by ``reelwatch demo`` to show each role's messages without any network, and by the
test suite as a real delivery target. It can be switched "down" (503) to rehearse an
outage. It binds to loopback only.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True, slots=True)
class Received:
    path: str
    body: dict[str, Any]
    at: float
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def role(self) -> str:
        return self.path.strip("/").split("/")[-1]


class LocalInbox:
    """Start with ``with LocalInbox() as inbox:``; ``inbox.url("dit")`` is an apprise URL."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        inbox = self
        self.received: list[Received] = []
        self.down = False
        self.delay = 0.0
        """Seconds to wait after taking a message before answering (a slow receiver)."""
        self.answered: list[float] = []
        """When each answer to a taken message was sent (time.time())."""
        self._cond = threading.Condition()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server API)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                if inbox.down:
                    self.send_response(503)
                    self.end_headers()
                    return
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    body = {"raw": raw.decode("utf-8", "replace")}
                with inbox._cond:
                    inbox.received.append(Received(self.path, body, time.time(), dict(self.headers)))
                    inbox._cond.notify_all()
                if inbox.delay:
                    time.sleep(inbox.delay)
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "text/plain")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except OSError:
                    return  # the sender went away while we were slow
                inbox.answered.append(time.time())

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, name="reelwatch-inbox", daemon=True)

    def url(self, role: str) -> str:
        return f"json://127.0.0.1:{self.port}/{role}"

    def wait_for(self, count: int, timeout: float, role: str | None = None) -> list[Received]:
        """Block until at least ``count`` messages (for ``role``) arrived, or the timeout passed."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                got = [r for r in self.received if role is None or r.role == role]
                left = deadline - time.monotonic()
                if len(got) >= count or left <= 0:
                    return got
                self._cond.wait(left)

    def start(self) -> LocalInbox:
        self._thread.start()
        return self

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(5)

    def __enter__(self) -> LocalInbox:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.close()
