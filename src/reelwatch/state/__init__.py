"""The state: what reelwatch has seen, found and told, in SQLite (one node, WAL mode) or in
PostgreSQL (a fleet of nodes sharing one database); no pickles.

- :mod:`.store`: :class:`~.store.Store`, the tables, one connection and its transactions;
  :mod:`.locations`: where a finding points
- :mod:`.schema`: the tables (:data:`~.schema.BASE`, 0.1.0's) and the :data:`~.schema.MIGRATIONS`
  since; a newer schema is refused (:class:`~.schema.StateTooNew`)
- :mod:`.dbfile`: the SQLite file itself: a full disk, damage, names that are not UTF-8, target
  ids, ``state check`` and ``state recover``; :mod:`.disk`: holding work while the disk is full
  or the server unreachable
- :mod:`.pg`: the PostgreSQL connection (pool, rows, errors, the password);
  :mod:`.sql`: the one place where SQLite's SQL becomes PostgreSQL's
- :mod:`.fleet`: nodes, leases on messages, the digest lease; :mod:`.move`: ``state migrate``
- :mod:`.connect`: the store a config names

**Adding a table** (or a column), for both backends:

1. Append a :class:`~.schema.Migration` to :data:`~.schema.MIGRATIONS` with the next version and
   portable DDL: ``TEXT``, ``INTEGER`` (64-bit in PostgreSQL), ``REAL`` (double), ``id INTEGER
   PRIMARY KEY`` for a generated id, ``CREATE INDEX IF NOT EXISTS``; no SQLite-only types.
   :data:`~.schema.SCHEMA_VERSION` follows by itself. Never edit :data:`~.schema.BASE` or a
   migration that has shipped; two branches that both added version N: renumber one on merge.
2. Write queries through ``store.query`` / ``store.tx()`` with ``?`` placeholders. The SQLite
   extras that :mod:`.sql` rewrites may be used (``INSERT OR IGNORE/REPLACE``, ``json_extract``,
   ``lastrowid``...); anything else must be SQL both engines accept. A table read ``ORDER BY
   rowid`` goes into :data:`.sql.ROWID`.
3. Run its tests on both: use the ``make_store`` fixture of ``tests/test_state_backends.py``,
   or ``REELWATCH_TEST_STATE=postgresql python -m pytest tests/test_x.py``.

What it may import: :mod:`reelwatch.core` and :mod:`reelwatch.integrity` (hashing a file for the cache).
"""
