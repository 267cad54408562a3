"""The ``[web]`` section: where the pages listen and who may use them (see docs/web.md)."""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WebUser(_Strict):
    password: str
    """An scrypt hash made by ``reelwatch web hash-password`` (never the password itself)."""
    roles: tuple[str, ...] = ()
    """The roles this person works as: the findings page offers them as one-click filters."""
    can_ack: bool = False
    """May acknowledge, assign and annotate findings; otherwise read-only."""

    @field_validator("password")
    @classmethod
    def _hashed(cls, v: str) -> str:
        if not v.startswith("scrypt$") or v.count("$") != 5:
            raise ValueError("must be a hash made by `reelwatch web hash-password`, never the password itself")
        return v


class Web(_Strict):
    listen: str | None = None
    """``host:port`` the daemon serves the web pages on (unset: it does not; ``reelwatch web`` runs them alone).
    Anything but loopback needs ``users``."""
    users: Mapping[str, WebUser] = Field(default_factory=dict)

    @field_validator("listen")
    @classmethod
    def _listen(cls, v: str | None) -> str | None:
        if v is not None:
            host, sep, port = v.rpartition(":")
            if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise ValueError(f"{v!r} is not host:port, e.g. '127.0.0.1:8765'")
        return v

    @model_validator(mode="after")
    def _users_beyond_loopback(self) -> Web:
        if self.listen and not self.users and not is_loopback(self.listen.rpartition(":")[0]):
            raise ValueError(f"listen = {self.listen!r} is beyond this machine: add [web.users] (anyone on the "
                             "network could otherwise read and acknowledge findings), or listen on 127.0.0.1")
        return self


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address or ``localhost``) only ever reaches this machine."""
    import ipaddress
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
