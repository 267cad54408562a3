"""Opening the state a config names: its SQLite file, or the fleet's PostgreSQL database."""

from __future__ import annotations

from collections.abc import Callable
import time
from typing import Any

from .pg import read_password
from .store import Store


def location(config: Any) -> str:
    """The state a config names, as shown to people: the SQLite path, or the URL (no password)."""
    return config.state.url or str(config.resolve(config.state.path))


def open_state(config: Any, *, readonly: bool = False, clock: Callable[[], float] = time.time) -> Store:
    """The :class:`Store` for ``config`` (``[state] url`` when set, else ``[state] path``)."""
    if config.state.url:
        return Store(config.state.url, readonly=readonly, clock=clock,
                     password=read_password(config.resolve(config.state.password_file)
                                            if config.state.password_file else None))
    return Store(config.resolve(config.state.path), readonly=readonly, clock=clock)
