"""The ``[state]`` table of a production config: one node's SQLite file, or the PostgreSQL
database a fleet of nodes shares (docs/deploy.md, "A fleet")."""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator


class State(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str = "reelwatch-state.db"
    """The SQLite state of this node (with ``url``: its lock and thumbnails live beside it)."""
    url: str | None = None
    """``postgresql://user@host:5432/db``: the state shared by every node of the production
    (docs/deploy.md, "A fleet"). Never with a password in it: see ``password_file``."""
    password_file: str | None = None
    """A file holding the database password (else ``$REELWATCH_STATE_PASSWORD``, ``PGPASSWORD`` or ``~/.pgpass``)."""
    node: str | None = None
    """This node's name in the fleet (default: the host name)."""
    lease: float = Field(default=60, gt=0)
    """Seconds a node holds a message it is sending; a node that dies mid-send lets it go after that."""
    journal: str | None = None
    """With ``url``: the SQLite journal this node records in while the database is unreachable
    (default: beside ``path``, ``<name>-journal.db``; docs/deploy.md, "A fleet")."""

    @field_validator("url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        if v is not None:
            if not v.startswith(("postgresql://", "postgres://")):
                raise ValueError("state.url must be a postgresql:// URL")
            if urlsplit(v).password is not None:
                raise ValueError("state.url holds a password: put it in state.password_file or "
                                 "$REELWATCH_STATE_PASSWORD instead (a URL ends up in logs and process lists)")
        return v
