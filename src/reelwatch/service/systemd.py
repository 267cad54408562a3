"""The systemd notify protocol: one datagram per message to ``$NOTIFY_SOCKET``.

Errors are returned, not swallowed. ``WATCHDOG_USEC`` gives the ping interval; we ping at
half of it, and only while the daemon is healthy.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping


class Notifier:
    def __init__(self, env: Mapping[str, str]) -> None:
        address = env.get("NOTIFY_SOCKET", "")
        self.address = "\0" + address[1:] if address.startswith("@") else address
        usec = env.get("WATCHDOG_USEC", "")
        pid = env.get("WATCHDOG_PID", "")
        mine = not pid or pid == str(os.getpid())
        self.watchdog_interval = int(usec) / 2e6 if usec.isdigit() and int(usec) > 0 and mine else None

    @property
    def enabled(self) -> bool:
        return bool(self.address)

    def send(self, *lines: str) -> str | None:
        """Send ``KEY=value`` lines; returns an error text, or None on success (or when disabled)."""
        if not self.address:
            return None
        payload = "\n".join(line.replace("\n", " ") for line in lines).encode()
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
                sock.connect(self.address)
                sock.sendall(payload)
        except OSError as exc:
            return f"{type(exc).__name__}: {exc.strerror or exc}"
        return None

    def ready(self, status: str) -> str | None:
        return self.send("READY=1", f"STATUS={status}")

    def status(self, status: str) -> str | None:
        return self.send(f"STATUS={status}")

    def ping(self) -> str | None:
        return self.send("WATCHDOG=1")

    def stopping(self) -> str | None:
        return self.send("STOPPING=1", "STATUS=stopping: draining in-flight work")

    def reloading(self) -> str | None:
        return self.send("RELOADING=1", "STATUS=reloading the config")
