"""Listening addresses (``host:port``) as the config writes them, checked without binding.

The metrics endpoint has no authentication, so it listens on loopback unless the caller
explicitly allows otherwise; config validation calls :func:`check_address` too.
"""

from __future__ import annotations

import ipaddress


def parse_address(address: str) -> tuple[str, int]:
    """``"127.0.0.1:9464"``, ``"[::1]:9464"`` or ``"localhost:9464"`` -> (host, port).

    Raises :class:`ValueError` naming what is wrong. An empty host (``":9464"``) is returned
    as ``""``, which means every interface.
    """
    text = address.strip()
    host, sep, port_text = text.rpartition(":")
    if not sep:
        raise ValueError(f"metrics address {address!r} has no port; write it as host:port, e.g. 127.0.0.1:9464")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        raise ValueError(f"metrics address {address!r}: write an IPv6 address in brackets, e.g. [::1]:9464")
    if not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise ValueError(f"metrics address {address!r}: port {port_text!r} is not a number from 0 to 65535")
    return host, int(port_text)


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and literal loopback addresses (127.0.0.0/8, ::1)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name other than localhost: we cannot promise where it points


def check_address(address: str, *, allow_remote: bool = False) -> tuple[str, int]:
    """Parse ``address`` and refuse a non-loopback host unless ``allow_remote``.

    Binds nothing, so config validation can call it. Raises :class:`ValueError`.
    """
    host, port = parse_address(address)
    if not allow_remote and not is_loopback(host):
        shown = host or "every interface"
        raise ValueError(f"metrics address {address!r} is not a loopback address (it would listen on {shown}); "
                         "the endpoint has no authentication, so write a loopback address such as "
                         "metrics = \"127.0.0.1:9464\" and, for scraping from another machine, put a reverse "
                         "proxy with TLS and authentication in front of it")
    return host, port
