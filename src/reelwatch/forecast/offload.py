"""Offload pace per card: one copy is not a backup.

A card offloaded to the RAID and never to the shuttle drive is one failed disk away from lost,
and nobody notices until the card has been formatted. For each card of each mirror set
(``[[rules.mirrors.sets]]``), the daemon hands over how it stands on every copy
(:class:`CardState`: which files, of what size, how many still arriving, the newest change)
whenever a batch touches it; time passing is what raises the alert, so :meth:`OneCopyWatch.evaluate`
runs on every tick without touching a disk.

- A copy *holds* the card when it has every file the fullest copy has, with the same sizes, and
  nothing arriving. (Checksums are the mirror rule's job: ``mirror.mismatch``.)
- ``forecast.one_copy`` opens when fewer than two copies hold the card and nothing on any copy
  of it has changed for ``second_copy_within`` (a second copy that is still running, or a card
  still arriving on the first copy, is progress, not a problem). It resolves when a second copy
  holds it.
- A card once held by two copies with the same files is remembered as backed up, so that a
  shuttle drive that leaves the cart with its copy does not make every card on the RAID look
  like it has one copy. Cards untouched for ``forget_after`` are not judged any more.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..core.model import Asset, Finding, Severity
from . import units
from .alerts import Ledger, Transition

RULE = "forecast.one_copy"
OWNER = "dit"
REQUIRED = 2


@dataclass(frozen=True, slots=True)
class CopyState:
    """One card on one copy, as listed now."""

    label: str
    """The copy's volume, e.g. ``raid_a`` or ``shuttle-SHUTTLE_02``."""
    files: Mapping[str, int] | None = None
    """Path inside the card -> size, of the settled files; None when the card is not on this copy."""
    arriving: int = 0
    """Files still being written."""
    newest: float = 0.0
    """Newest ctime of anything of the card on this copy (wall-clock seconds)."""
    why: str = ""
    """Why the card cannot be on this copy (``shuttle is not mounted``), when it is not."""


@dataclass(frozen=True, slots=True)
class CardState:
    """One card across every copy of its mirror set."""

    set_name: str
    card: str
    asset: Asset
    """Where its finding lives: the card folder on the set's first copy (as ``mirror.*`` findings)."""
    copies: tuple[CopyState, ...]


@dataclass(frozen=True, slots=True)
class OffloadSettings:
    """``[rules.offload]`` (see :func:`reelwatch.forecast.settings.parse_offload`)."""

    second_copy_within: float = 1800.0
    forget_after: float = 48 * 3600.0
    sets: tuple[str, ...] = ()
    """Mirror set names to watch; empty: every set."""


def summarise(state: CardState) -> dict[str, Any] | None:
    """What the watch keeps about a card (JSON-able); None for a card with no files anywhere."""
    present = [c for c in state.copies if c.files is not None]
    if not present:
        return None
    fullest = max(present, key=lambda c: (len(c.files or {}), sum((c.files or {}).values())))
    ref = dict(fullest.files or {})
    if not ref and not any(c.arriving for c in present):
        return None
    holders = [c.label for c in present if c.arriving == 0 and dict(c.files or {}) == ref]
    others = []
    for c in state.copies:
        if c.label in holders:
            continue
        if c.files is None:
            others.append(c.why or f"not on {c.label} yet")
        else:
            have = sum(1 for name, size in (c.files or {}).items() if ref.get(name) == size)
            others.append(f"the copy on {c.label} has {have} of {len(ref)} files"
                          + (f", {c.arriving} still arriving" if c.arriving else ""))
    return {"set": state.set_name, "card": state.card, "volume": state.asset.volume, "root": state.asset.root,
            "relpath": state.asset.relpath, "holders": holders, "labels": [c.label for c in state.copies],
            "others": others, "files": len(ref), "bytes": sum(ref.values()),
            "activity": max(c.newest for c in present)}


class OneCopyWatch:
    """Cards that sit on one copy too long. Not thread-safe: the engine serialises calls."""

    def __init__(self, settings: OffloadSettings) -> None:
        self.settings = settings
        self.ledger = Ledger()
        self._cards: dict[str, dict[str, Any]] = {}
        self._backed_up: dict[str, list[float]] = {}
        """Card -> [files, bytes, when] of the content last seen on two copies."""

    def update(self, states: Iterable[CardState]) -> list[Transition]:
        """New listings of cards (after a batch touched them). Resolves at once when a second copy holds one."""
        out: list[Transition] = []
        for state in states:
            if self.settings.sets and state.set_name not in self.settings.sets:
                continue
            key = f"{state.set_name}/{state.card}"
            card = summarise(state)
            if card is None:
                self._cards.pop(key, None)
                continue
            self._cards[key] = card
            if len(card["holders"]) >= min(REQUIRED, len(card["labels"])):
                self._backed_up[key] = [card["files"], card["bytes"], card["activity"]]
                alert = f"{RULE}:{key}"
                if alert in self.ledger:
                    out.append(self.ledger.resolve(alert, self._finding(
                        card, f"Card {card['card']} is now on {len(card['holders'])} copies: "
                              f"{units.listed(card['holders'])}", Severity.INFO)))
        return out

    def evaluate(self, now: float) -> list[Transition]:
        s = self.settings
        out: list[Transition] = []
        for key, card in sorted(self._cards.items()):
            idle = now - float(card["activity"])
            backed = self._backed_up.get(key)
            if backed is not None and backed[:2] == [card["files"], card["bytes"]]:
                continue
            alert = f"{RULE}:{key}"
            if alert in self.ledger or idle < s.second_copy_within or idle >= s.forget_after:
                continue
            out.append(self.ledger.raise_(alert, self._one_copy(card), {"since": card["activity"]}))
        for key in [k for k, c in self._cards.items() if now - float(c["activity"]) >= s.forget_after]:
            if f"{RULE}:{key}" not in self.ledger:
                del self._cards[key]
        for key in [k for k, b in self._backed_up.items() if now - b[2] >= s.forget_after]:
            del self._backed_up[key]
        return out

    def _one_copy(self, card: Mapping[str, Any]) -> Finding:
        within = units.span(self.settings.second_copy_within)
        name, holders = card["card"], list(card["holders"])
        if holders:
            message = (f"Card {name} has been on one copy only ({holders[0]}) for more than {within}: "
                       "one copy is not a backup")
        else:
            message = (f"Card {name} is not completely on any copy, and nothing of it has changed for more than "
                       f"{within}: one copy is not a backup, and this one is not finished")
        if card["others"]:
            message += f" ({'; '.join(card['others'])})"
        missing = [lab for lab in card["labels"] if lab not in holders]
        return self._finding(
            card, message, Severity.WARNING,
            expected=f"card {name} on at least {REQUIRED} copies ({units.listed(list(card['labels']))}) within "
                     f"{within} of its offload",
            impact="until then its media exists once: one failed drive or one mistaken format loses it",
            fix=f"copy card {name} to {units.listed(missing)} now (mount the drive first if it is not), and keep "
                "the card until reelwatch says it is safe to format")

    def _finding(self, card: Mapping[str, Any], message: str, severity: Severity, *, expected: str = "",
                 impact: str = "", fix: str = "") -> Finding:
        asset = Asset(volume=str(card["volume"]), root=str(card["root"]), relpath=str(card["relpath"]),
                      size=int(card["bytes"]), mtime_ns=0)
        details = {"set": card["set"], "card": card["card"], "copies": list(card["holders"]),
                   "files": card["files"], "bytes": card["bytes"], "others": list(card["others"])}
        return Finding(rule=RULE, severity=severity, asset=asset, message=message, owner=OWNER, expected=expected,
                       impact=impact, fix=fix, details=details)

    def snapshot(self) -> dict[str, Any]:
        return {"alerts": self.ledger.snapshot(), "cards": dict(self._cards), "backed_up": dict(self._backed_up)}

    def restore(self, data: Mapping[str, Any]) -> None:
        self.ledger.restore(data.get("alerts") or {})
        self._cards = {str(k): dict(v) for k, v in (data.get("cards") or {}).items()}
        self._backed_up = {str(k): list(v) for k, v in (data.get("backed_up") or {}).items()}
