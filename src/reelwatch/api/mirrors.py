"""Copies of a camera card for rule plugins: the same card on several offload drives, compared with
each other and with the card's seal (ASC MHL, checksum manifest, recorded checksums), as the
shipped mirror rule does before it says "safe to format".

A :class:`Slot` is a configured copy location, a :class:`Place` one drive under it; :func:`gather`
lists a card (a unit) on every place, :func:`compare` compares the listings, :func:`check_copy`
checks one copy against the seal. A copy on another node of a fleet is what that node published
(:func:`record_of`, :func:`from_record`; :class:`FleetHistory` answers its checksums).
"""

from __future__ import annotations

from collections.abc import Sequence

from ..integrity import mirror_wording as _wording
from ..integrity import mirrorset as _mirrorset
from ..integrity.cardseal import SILENT_CHANGE as _SILENT_CHANGE
from ..integrity.cardseal import SealCheck, check_copy
from ..integrity.fleetcopy import FleetHistory, fleet_view, from_record, record_of
from ..integrity.mirror_wording import both, mismatch_parts, seal_parts
from ..integrity.mirrorset import Listing, Place, Slot, compare, file_hashes, gather, odd_copies, unit_of, units

SILENT_CHANGE = _SILENT_CHANGE
"""The rule id (``integrity.hash_changed``) of a file whose bytes changed while its size and
modification time did not; a copy with one is never safe."""


def files(n: int) -> str:
    """``1 file`` or ``2,000 files``."""
    return _wording.files(n)


def names(rels: Sequence[str]) -> str:
    """The first few paths, comma-separated, then ``and N more``."""
    return _wording.names(rels)


def join(*parts: str) -> str:
    """Join path parts with ``/``, skipping empty ones: ``join("", "A002", "clip.mov")`` is ``A002/clip.mov``."""
    return _mirrorset.join(*parts)


__all__ = ["SILENT_CHANGE", "FleetHistory", "Listing", "Place", "SealCheck", "Slot", "both", "check_copy", "compare",
           "file_hashes", "files", "fleet_view", "from_record", "gather", "join", "mismatch_parts", "names", "odd_copies",
           "record_of", "seal_parts", "unit_of", "units"]
