"""A copy of a card on another machine, as its own node published it.

A node reads only its own disks. For a copy on another node of the fleet, the node holding it
publishes a record of it each time it judges the card (:func:`record_of`: names, sizes, checksums
of every file, and the copy's check against the card's seal); the others turn the record back
into a :class:`~.mirrorset.Listing` and a :class:`~.cardseal.SealCheck` (:func:`from_record`) and
compare it with their own copies as if it were mounted here. Its files' paths are
``fleet:<volume>/<card>/<file>``: :class:`FleetHistory` answers their checksums from the record,
never from a disk.

A record whose checksums are not all there yet (its node has not hashed them) is not a verified
copy: the card waits for it, as for a copy still being written.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ..core.hookspecs import History
from .cardseal import SealCheck
from .mirrorset import Listing, Place, Slot, file_hashes

PREFIX = "fleet:"
SEAL_FIELDS = ("seals", "differ", "missing", "unlisted", "broken", "changed")


def record_of(listing: Listing | None, digests: Mapping[str, str | None], seal: SealCheck | None,
              algo: str) -> dict[str, Any]:
    """What a node publishes about its copy (``listing`` None: the card is not on it)."""
    if listing is None:
        return {"present": False}
    return {"present": True, "algo": algo,
            "files": {rel: [size, digests.get(path)] for rel, (size, path) in sorted(listing.files.items())},
            "arriving": sorted(listing.arriving), "unreadable": sorted(listing.unreadable), "bytes": listing.bytes,
            "newest_mtime_ns": listing.newest_mtime_ns, "newest_ctime": listing.newest_ctime,
            "seal": {k: sorted(getattr(seal, k)) for k in SEAL_FIELDS} if seal is not None else None}


def from_record(record: Mapping[str, Any] | None, label: str, card: str, node: str,
                algo: str) -> tuple[Listing | None, SealCheck | None, dict[str, str], str]:
    """(listing, seal check, checksums by path, why it cannot be compared yet) of a published copy;
    no listing and no reason: the card is not on that copy (as far as its node has seen)."""
    if not record or not record.get("present"):
        return None, None, {}, ""
    files: dict[str, list[Any]] = dict(record.get("files") or {})
    unhashed = [rel for rel, (_, digest) in files.items() if not digest]
    if record.get("algo") != algo or unhashed or record.get("seal") is None:
        return None, None, {}, f"{node} has not verified its copy yet"
    listing = Listing(arriving=list(record.get("arriving") or ()), unreadable=list(record.get("unreadable") or ()),
                      bytes=int(record.get("bytes") or 0), newest_mtime_ns=int(record.get("newest_mtime_ns") or 0),
                      newest_ctime=float(record.get("newest_ctime") or 0.0))
    digests: dict[str, str] = {}
    for rel, (size, digest) in files.items():
        path = f"{PREFIX}{label}/{card}/{rel}"
        listing.files[rel] = (int(size), path)
        digests[path] = str(digest)
    seal = SealCheck(**{k: list(v) for k, v in dict(record["seal"]).items() if k in SEAL_FIELDS})
    return listing, seal, digests, ""


class FleetHistory:
    """The history handed to the comparison: checksums of copies on other nodes come from what
    their nodes published; everything else from the real history."""

    def __init__(self, history: History, digests: Mapping[str, str]) -> None:
        self._history = history
        self._digests = dict(digests)

    @property
    def batch(self) -> int:
        return self._history.batch

    def file_hash(self, path: str, algo: str = "xxh128") -> str:
        if path.startswith(PREFIX):
            if path not in self._digests:
                raise FileNotFoundError(path)  # never read from a disk: counted as unreadable
            return self._digests[path]
        return self._history.file_hash(path, algo)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._history, name)


def fleet_view(slots: Sequence[Slot], lists: dict[str, Listing], absent: list[tuple[str, str]], history: History,
               algo: str, me: str, card: Callable[[Place], str],
               seal_check: Callable[[Place, Listing], SealCheck],
               tag: Mapping[str, str] | None = None) -> tuple[dict[str, Listing], list[tuple[str, str]],
                                                                        dict[str, SealCheck], History]:
    """The card as the fleet knows it, for a set with copies on other nodes (``place.node``).

    First this node publishes its own copies (``lists``: what is on its disks now; checksums of
    every file and the seal check), then it reads the others' records. A copy whose node cannot
    vouch for it now, or that is not verified yet, joins ``absent`` with the reason. ``tag`` goes
    into this node's records (the mirror set and card: what another node judges again when they change). Returns the
    listings and the absent copies in the set's order, the seal checks of the other nodes' copies,
    and the history to compare with."""
    remote = [s for s in slots if any(p.node for p in s.places)]
    if not remote:
        return lists, absent, {}, history
    publish = getattr(history, "publish_copy", None)
    read = getattr(history, "fleet_copy", None)
    for slot in slots:
        for place in slot.places:
            if place.node or not place.available or publish is None:
                continue
            listing = lists.get(place.label)
            digests = file_hashes([p for _, p in listing.files.values()], history, algo) if listing else {}
            seal = seal_check(place, listing) if listing is not None else None
            publish(me, place.label, card(place), {**record_of(listing, digests, seal, algo), **(tag or {})})
    lists, absent = dict(lists), list(absent)
    seals: dict[str, SealCheck] = {}
    known: dict[str, str] = {}
    for slot in remote:
        place = slot.places[0]
        got = read(place.node, place.label, card(place)) if read is not None else {
            "why": "this state is not shared with other nodes"}
        if got.get("why"):
            absent.append((slot.label, str(got["why"])))
            continue
        listing, seal, digests, why = from_record(got.get("record"), place.label, card(place), place.node, algo)
        if listing is None or seal is None:
            absent.append((slot.label, why))
            continue
        lists[place.label], seals[place.label] = listing, seal
        known.update(digests)
    order = [p.label for s in slots for p in s.places]
    rank = {s.label: i for i, s in enumerate(slots)}
    lists = {lab: lists[lab] for lab in order if lab in lists}
    absent.sort(key=lambda a: rank.get(a[0], len(rank)))
    return lists, absent, seals, FleetHistory(history, known)  # type: ignore[return-value]
