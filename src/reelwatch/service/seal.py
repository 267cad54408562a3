"""Opt-in ASC MHL generations: the only write reelwatch may make to a watched volume.

When a volume has ``mhl_generate = true``, every top-level folder (a card or roll) touched
by a batch is sealed with a new ASC MHL generation after its checks, using the hashes the
checks already computed (cached in the state database). A damaged existing history is
never extended: that is reported instead.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import structlog

from ..core.config import Config
from ..core.hookspecs import History
from ..integrity.mhl.create import Author, MHLError, create_generation
from ..core.model import Asset
from ..state.store import Store

log = structlog.get_logger("reelwatch.seal")


def folders_to_seal(assets: Iterable[Asset], config: Config) -> dict[tuple[str, str], Path]:
    """(volume, folder) -> absolute folder, for the volumes that opted in."""
    out: dict[tuple[str, str], Path] = {}
    for asset in assets:
        volume = config.volume(asset.volume)
        if volume is None or not volume.mhl_generate:
            continue
        head = asset.relpath.split("/", 1)[0] if "/" in asset.relpath else ""
        out[(asset.volume, head)] = Path(asset.root) / head
    return out


def seal(assets: Iterable[Asset], config: Config, store: Store, history: History) -> list[str]:
    """Write a generation for each opted-in folder of the batch; returns the problems met."""
    integrity = config.rules.get("integrity")
    algo = getattr(integrity, "create_algorithm", None) or "xxh128"
    problems: list[str] = []
    for (volume, head), folder in sorted(folders_to_seal(assets, config).items()):
        try:
            result = create_generation(folder, algo, hasher=history.file_hash,
                                       author=Author(name=f"reelwatch ({config.production.name})"))
        except (MHLError, OSError, ValueError) as exc:
            problems.append(f"{volume}/{head}: {exc}")
            log.error("mhl_not_written", volume=volume, folder=head or ".", error=str(exc))
            store.audit("mhl_refused", volume=volume, relpath=head or ".", error=str(exc))
            continue
        written = [str(p) for p in result.written]
        log.info("mhl_written", volume=volume, folder=head or ".", manifests=len(written))
        store.audit("mhl_generated", volume=volume, relpath=head or ".", manifests=written,
                    problems=[p.kind for p in result.problems])
    return problems
