"""Integrity: checksums, checksum manifests, ASC MHL histories, and copies of the same card.

- :mod:`.hashing`: file checksums as offload tools write them; :mod:`.hashjobs`: one hash per file
  version for the rules, stoppable, long ones reported
- :mod:`.manifests`: MHL v1 and md5/xxhsum lists; :mod:`.mhl`: ASC MHL v2 (read, verify, create); both
  report a :class:`~.mhl.model.Discrepancy` per file that does not match its record
- :mod:`.checksums`: finding the records beside files, cached; :mod:`.cardseal`: does a copy of a card
  still match its seal
- :mod:`.mirrorset` and :mod:`.mirror_wording`: comparing offload copies, and the words for it
- :mod:`.rules`: ``integrity.hash_changed``, the rule ``reelwatch rehash`` raises

The engines of ``plugins/integrity.py`` and ``plugins/mirrors.py``. What it may import:
:mod:`reelwatch.core` only.
"""
