"""Identical copies are parsed once: the DIT checks two or three offload copies of a card together.

MediaInfo's facts depend only on a file's bytes (names and dates are dropped from them), so
files with the same bytes have the same facts. Within one batch of checks, files that could be
copies of each other (same name and size, or sequences with the same frame names and sizes) are
hashed first with xxh128, the ASC MHL default and the mirror comparison's, through the state
database's hash cache: the integrity and mirror rules that follow read those hashes instead of
the files. Each group of byte-identical assets is then parsed once. Measured on two copies of a
2,000-file card (bench/bench_offload.py), parsing was the largest cost of ``check`` after hashing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from ..core.model import Asset

ALGO = "xxh128"
MAX_BYTES = 64 << 20
"""Files (or sampled frames) larger than this are parsed, not hashed first: a camera clip of many GB
parses in milliseconds, and no rule may need its xxh128."""


def _files(asset: Asset) -> list[str]:
    """The files MediaInfo reads for an asset: the file, or a sequence's sampled frames."""
    if asset.sequence is None:
        return [asset.path]
    from ..probe.pool import sample_frames
    paths = list(asset.member_paths())
    return [paths[i] for i in sample_frames(list(asset.sequence.frame_sizes))]


def _shape(asset: Asset) -> tuple[Any, ...]:
    if asset.sequence is None:
        return (asset.name, asset.size)
    return (asset.sequence.frame_names, asset.sequence.frame_sizes)


def representatives(assets: Sequence[Asset], file_hash: Any) -> dict[Asset, Asset]:
    """For each asset that is a byte-identical twin of an earlier one in ``assets``, that earlier
    one (its facts can be copied). ``file_hash(path, algo)`` is the state database's cached hash."""
    by_shape: dict[tuple[Any, ...], list[Asset]] = defaultdict(list)
    for a in assets:
        biggest = max(a.sequence.frame_sizes, default=0) if a.sequence is not None else a.size
        if 0 < biggest <= MAX_BYTES:
            by_shape[_shape(a)].append(a)
    twin_of: dict[Asset, Asset] = {}
    for group in by_shape.values():
        if len(group) < 2:
            continue
        seen: dict[tuple[str, ...], Asset] = {}
        for a in group:
            try:
                key = tuple(file_hash(p, ALGO) for p in _files(a))
            except OSError:
                continue  # unreadable here: parsed on its own, and reported as what it is
            if key in seen:
                twin_of[a] = seen[key]
            else:
                seen[key] = a
    return twin_of
