"""One copy is not a backup: cards on real folders, listed the way the mirror rule lists them
(reelwatch.integrity.mirrorset.walk), judged by the forecast engine with the clock injected."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from reelwatch.forecast import CardState, CopyState, Forecaster, InMemoryDeliveries, OffloadSettings
from reelwatch.integrity.mirrorset import Place, walk
from reelwatch.core.model import Asset, Severity

MIN = 60.0
SETTINGS = OffloadSettings(second_copy_within=30 * MIN, forget_after=48 * 3600)
CLIPS = [f"A002C00{i}_240503_R2EC.mov" for i in range(1, 5)]


def _offload(root: Path, card: str = "A002R2EC", clips: list[str] = CLIPS) -> None:
    (root / card).mkdir(parents=True, exist_ok=True)
    for name in clips:
        (root / card / name).write_bytes(name.encode() * 1000)


def _state(card: str, copies: list[tuple[str, Path | None, str]], now: float) -> CardState:
    """How the daemon will hand a card over: each copy listed by mirrorset.walk, or why it is not there."""
    states = []
    for label, root, why in copies:
        listing = walk(Place(label, root, ""), card, (), now) if root is not None else None
        if listing is None:
            states.append(CopyState(label, None, why=why))
        else:
            states.append(CopyState(label, {rel: size for rel, (size, _) in listing.files.items()},
                                    len(listing.arriving), listing.newest_ctime))
    first = copies[0][1]
    asset = Asset(volume=copies[0][0], root=str(first), relpath=f"{card}/", size=0, mtime_ns=0)
    return CardState("offload", card, asset, tuple(states))


class Cart:
    def __init__(self, tmp_path: Path) -> None:
        self.raid, self.shuttle = tmp_path / "raid_a", tmp_path / "SHUTTLE_02"
        self.raid.mkdir()
        self.fc = Forecaster(offload=SETTINGS, production="Harbour Lights")
        self.t0 = time.time()

    def report(self, card: str = "A002R2EC", shuttle_mounted: bool = True, minutes: float = 0.0) -> None:
        shuttle = self.shuttle if shuttle_mounted and self.shuttle.exists() else None
        why = "" if shuttle_mounted else "shuttle is not mounted"
        self.fc.cards([_state(card, [("raid_a", self.raid, ""), ("shuttle", shuttle, why)], self.t0 + minutes * MIN)])

    def at(self, minutes: float):
        return list(self.fc.tick(self.t0 + minutes * MIN, InMemoryDeliveries()).transitions)


def test_a_card_on_one_copy_too_long_is_reported_once_and_resolved_by_the_second_copy(tmp_path):
    cart = Cart(tmp_path)
    _offload(cart.raid)
    cart.report(shuttle_mounted=False)
    assert cart.at(1) == [] and cart.at(29) == []
    found = cart.at(31)
    assert [t.kind for t in found] == ["new"]
    f = found[0].finding
    assert f.rule == "forecast.one_copy" and f.severity == Severity.WARNING and f.owner == "dit"
    assert f.message == ("Card A002R2EC has been on one copy only (raid_a) for more than 30 min: one copy is not a "
                         "backup (shuttle is not mounted)")
    assert f.fix.startswith("copy card A002R2EC to shuttle now (mount the drive first if it is not)")
    assert f.asset.volume == "raid_a" and f.asset.relpath == "A002R2EC/"
    assert f.details["files"] == 4 and f.details["copies"] == ["raid_a"]
    assert cart.at(45) == [] and cart.at(300) == []  # said once
    shutil.copytree(cart.raid / "A002R2EC", cart.shuttle / "A002R2EC")
    cart.report(minutes=301)
    found = cart.at(301)
    assert [(t.kind, t.finding.message) for t in found] == [
        ("resolved", "Card A002R2EC is now on 2 copies: raid_a and shuttle")]
    assert cart.at(400) == []


def test_a_second_copy_in_progress_is_progress_a_stalled_one_is_not(tmp_path):
    cart = Cart(tmp_path)
    _offload(cart.raid)
    _offload(cart.shuttle, clips=CLIPS[:2])  # the shuttle copy is running
    cart.report()
    assert cart.at(20) == []
    found = cart.at(40)  # and stopped 40 minutes ago, half done
    assert [t.kind for t in found] == ["new"]
    assert found[0].finding.message.endswith("one copy is not a backup (the copy on shuttle has 2 of 4 files)")


def test_the_clock_starts_when_the_card_last_changed():
    """A slow card reader: half the card lands, the rest 25 minutes later; 30 minutes count from then."""
    fc = Forecaster(offload=SETTINGS)
    t0 = 1_714_730_000.0
    asset = Asset(volume="raid_a", root="/mnt/raid_a", relpath="A002R2EC/", size=0, mtime_ns=0)
    half = {name: 1000 for name in CLIPS[:2]}
    fc.cards([CardState("offload", "A002R2EC", asset, (CopyState("raid_a", half, newest=t0), CopyState("shuttle")))])
    assert fc.tick(t0 + 25 * MIN, InMemoryDeliveries()).transitions == ()
    whole = {name: 1000 for name in CLIPS}
    fc.cards([CardState("offload", "A002R2EC", asset,
                        (CopyState("raid_a", whole, newest=t0 + 25 * MIN), CopyState("shuttle")))])
    assert fc.tick(t0 + 31 * MIN, InMemoryDeliveries()).transitions == ()
    assert fc.tick(t0 + 54 * MIN, InMemoryDeliveries()).transitions == ()
    found = fc.tick(t0 + 56 * MIN, InMemoryDeliveries()).transitions
    assert len(found) == 1 and found[0].finding.message.endswith("(not on shuttle yet)")


def test_a_card_backed_up_on_a_shuttle_that_left_is_not_reported(tmp_path):
    cart = Cart(tmp_path)
    _offload(cart.raid)
    shutil.copytree(cart.raid / "A002R2EC", cart.shuttle / "A002R2EC")
    cart.report()
    assert cart.at(1) == []
    shutil.rmtree(cart.shuttle)  # the shuttle went to the lab with its copy
    cart.report(shuttle_mounted=False, minutes=2)
    assert cart.at(60) == [] and cart.at(600) == []


def test_old_cards_are_not_judged_and_a_restart_says_nothing_twice(tmp_path):
    cart = Cart(tmp_path)
    _offload(cart.raid, card="A001R2EC")
    cart.report(card="A001R2EC", shuttle_mounted=False)
    assert cart.at(49 * 60) == []  # already older than forget_after when first judged
    _offload(cart.raid)
    cart.report(shuttle_mounted=False)
    assert len(cart.at(31)) == 1
    again = Forecaster(offload=SETTINGS)
    again.restore(cart.fc.snapshot())
    assert again.tick(cart.t0 + 40 * MIN, InMemoryDeliveries()).transitions == ()
    shutil.copytree(cart.raid / "A002R2EC", cart.shuttle / "A002R2EC")
    again.cards([_state("A002R2EC", [("raid_a", cart.raid, ""), ("shuttle", cart.shuttle, "")], cart.t0 + 41 * MIN)])
    assert [t.kind for t in again.tick(cart.t0 + 41 * MIN, InMemoryDeliveries()).transitions] == ["resolved"]
