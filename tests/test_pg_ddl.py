"""Engines' tables on a shared PostgreSQL: nodes starting at the same moment each create the
timeline catalog's tables and indexes (``CREATE ... IF NOT EXISTS``); none of them may fail.
Found by two real daemons starting together: one failed with a duplicate key in ``pg_class``."""

from __future__ import annotations

import threading

from pgserver import PASSWORD

from reelwatch.state.store import Store
from reelwatch.timeline import SCHEMA as CLIPS, TIMELINE_SCHEMA


def test_nodes_creating_an_engines_tables_at_once_all_succeed(pg_url) -> None:
    stores = [Store(pg_url, password=PASSWORD) for _ in range(4)]
    errors: list[BaseException] = []
    gate = threading.Barrier(len(stores))

    def create(store: Store) -> None:
        gate.wait()
        try:
            store.add_tables(CLIPS + TIMELINE_SCHEMA)
        except BaseException as exc:  # noqa: BLE001 -- collected and shown by the assertion
            errors.append(exc)

    try:
        threads = [threading.Thread(target=create, args=(s,)) for s in stores]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert not errors, errors
        assert stores[0].query("SELECT COUNT(*) FROM timeline_uses")[0][0] == 0
    finally:
        for s in stores:
            s.close()
