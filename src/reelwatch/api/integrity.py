"""Checksums for rule plugins: the records copied beside media (ASC MHL histories, MHL v1, md5 and
xxHash lists, ``checksum.txt``) and checking files against them, as the shipped integrity rules do.

Hashes come from the caller: pass ``history.file_hash`` (:class:`~reelwatch.api.History`), which
reads each file once per algorithm and caches the digest against its size and modification time.
Paths in results are relative to the volume root.
"""

from __future__ import annotations

from ..integrity.checksums import Mismatch as _Mismatch
from ..integrity.checksums import (asset_at, cached_manifest, cached_tree, group_assets, history_roots,
                                   manifest_mismatches, manifests_below, member_files, mhl_mismatches, volume_relpath)
from ..integrity.hashing import normalize_algo
from ..integrity.manifests import Manifest, ManifestError, NotLegacyMHL, verify_manifest
from ..integrity.mhl.read import FOLDER as _FOLDER
from ..integrity.mhl.read import Discrepancy, MHLError
from ..integrity.mhl.verify import verify
from ..integrity.rules import HASH_CHANGED as _HASH_CHANGED

Mismatch = _Mismatch
"""``(volume-relative path, algorithm, actual, expected)`` of a file that does not match its record;
``actual`` is '' when the file cannot be read (``size`` as the algorithm: byte counts differ)."""

MHL_FOLDER = _FOLDER
"""The folder an ASC MHL history lives in (``ascmhl``), beside the media it covers."""

REHASH_RULE = _HASH_CHANGED
"""The :class:`~reelwatch.api.RuleInfo` of ``integrity.hash_changed``, raised by ``reelwatch rehash``
(sampled re-hashing finds a file whose bytes changed while its size and mtime did not)."""

__all__ = ["MHL_FOLDER", "REHASH_RULE", "Discrepancy", "MHLError", "Manifest", "ManifestError", "Mismatch", "NotLegacyMHL", "asset_at", "cached_manifest", "cached_tree", "group_assets",
           "history_roots", "manifest_mismatches", "manifests_below", "member_files", "mhl_mismatches",
           "normalize_algo", "verify", "verify_manifest", "volume_relpath"]
