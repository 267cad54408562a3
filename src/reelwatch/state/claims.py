"""Claims on asset versions: several nodes mounting one shared volume check each version once.

A version is (volume, relpath, size, mtime_ns), the volume named alike in every node's config.
The node about to check it takes a claim (:func:`claim`), a row with a lease; while it checks,
it renews the leases of all its claims in one statement (:func:`renew`), and once the check is
committed it deletes the claim (:func:`release`). The claim is deleted only after the commit, so
a node that finds no claim and then reads the asset as checked may trust that: the check it
would have made is recorded.

A node killed mid-check renews nothing: its lease runs out and the next node to claim the
version takes it over (the upsert's ``WHERE`` admits an expired row). A claim never hides a
file: the node that was refused keeps the version waiting (:mod:`reelwatch.service.claims`)
until the holder released it and the check is recorded, or its lease ran out and the waiting
node checks it itself.

A newer version of a file claimed by another node is another key, so it is claimed and checked
as any new version. The table holds only the versions being checked right now across the fleet
(a few per node), so listing it whole (:func:`held`) is cheap.

Only a fleet uses this: with SQLite there is one node, and the daemon takes no claims at all.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..core.model import Asset
from .store import Store

Version = tuple[str, str, int, int]
"""(volume, relpath, size, mtime_ns): one version of one asset."""


def version(asset: Asset) -> Version:
    return asset.volume, asset.relpath, asset.size, asset.mtime_ns


@dataclass(frozen=True, slots=True)
class Holder:
    """The node checking a version now, and until when its lease holds."""

    node: str
    lease_until: float


_TAKE = ("INSERT INTO claims (volume, relpath, size, mtime_ns, node, claimed_at, lease_until) "
         "VALUES (?,?,?,?,?,?,?) ON CONFLICT (volume, relpath, size, mtime_ns) DO UPDATE SET "
         "node=excluded.node, claimed_at=excluded.claimed_at, lease_until=excluded.lease_until "
         "WHERE claims.node=excluded.node OR claims.lease_until<?")


def claim(store: Store, key: Version, node: str, lease: float, now: float) -> Holder | None:
    """Take ``key`` for ``lease`` seconds: None when this node holds it now (a new claim, its
    own again, or one whose lease had run out), else who holds it. One statement: two nodes
    claiming at once are ordered by the primary key, and exactly one of them gets it."""
    with store.tx(shared=True) as db:  # locks only this row: nodes never wait on each other's checks
        cur = db.execute(_TAKE, (*key, node, now, now + lease, now))
        if cur.rowcount == 1:
            return None
        row = db.execute("SELECT node, lease_until FROM claims WHERE volume=? AND relpath=? AND size=? "
                         "AND mtime_ns=?", key).fetchone()
    return Holder(row[0], row[1]) if row is not None else Holder("", now)


def release(store: Store, key: Version, node: str) -> None:
    """The check of ``key`` is committed (or was given up): let the claim go, if still ours."""
    with store.tx(shared=True) as db:
        db.execute("DELETE FROM claims WHERE volume=? AND relpath=? AND size=? AND mtime_ns=? AND node=?",
                   (*key, node))


def renew(store: Store, node: str, lease_until: float) -> int:
    """Extend every claim this node holds; returns how many it holds."""
    with store.tx(shared=True) as db:
        cur = db.execute("UPDATE claims SET lease_until=? WHERE node=?", (lease_until, node))
        return int(cur.rowcount)


def forget(store: Store, node: str) -> int:
    """A node (re)starting checks none of what it held before: its old claims go at once,
    instead of when their leases run out. Returns how many there were."""
    with store.tx(shared=True) as db:
        cur = db.execute("DELETE FROM claims WHERE node=?", (node,))
        return int(cur.rowcount)


def held(store: Store) -> dict[Version, Holder]:
    """Every claim in the fleet now (a few per node)."""
    rows = store.query("SELECT volume, relpath, size, mtime_ns, node, lease_until FROM claims")
    return {(r[0], r[1], r[2], r[3]): Holder(r[4], r[5]) for r in rows}
