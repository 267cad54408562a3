"""The integrity rule that no plugin's ``check`` raises: ``integrity.hash_changed``, found by
``reelwatch rehash`` (sampled re-hashing). It is documented through the shipped
``plugins/rehash_rules.py`` (by way of :mod:`reelwatch.api.integrity`) and raised by
:mod:`reelwatch.service.rehash`; one definition keeps the two the same."""

from __future__ import annotations

from ..core.model import RuleInfo, Severity

HASH_CHANGED = RuleInfo(
    id="integrity.hash_changed",
    summary="A file's checksum changed although its size and modification time did not: silent corruption "
            "or a hidden edit, found by sampled re-hashing.",
    severity=Severity.BLOCKER, owner=None, impacts=("supervisor",),
    example="A002C006_141024_R2EC.mov changed on disk although its size and modification time did not: its "
            "xxh128 checksum no longer matches the one last verified on 2024-05-01 02:14 UTC")
"""``integrity.hash_changed``: a file's bytes changed while its size and mtime did not."""
