"""The state database: what reelwatch has seen, found and told, in SQLite (WAL mode, no pickles).

- :mod:`.store`: :class:`~.store.Store`, the tables, one connection and its transactions;
  :mod:`.locations`: where a finding points
- :mod:`.dbfile`: the file itself: a full disk, damage, names that are not UTF-8, target ids,
  ``state check`` and ``state recover``; :mod:`.disk`: holding work while the disk is full

What it may import: :mod:`reelwatch.core` and :mod:`reelwatch.integrity` (hashing a file for the cache).
"""
