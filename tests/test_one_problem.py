"""One problem, one finding, one message: root causes carry their consequences, the same content on
several copies is one finding with several locations, one name gets one finding, and the words fit
the facts. Real clips (PyAV), real ASC MHL seals, the real pipeline, state database and outbox."""

from __future__ import annotations

import json
import os
import shutil
import time
from fractions import Fraction
from pathlib import Path

import pytest

from conftest import reelwatch, write_config
from reelwatch.demo import mediagen
from reelwatch.checking.runtime import load_runtime
from reelwatch.integrity.mhl.create import create_generation
from reelwatch.notify.outbox import Outbox
from reelwatch.checking.pipeline import Pipeline, file_asset
from reelwatch.probe.pool import ProbePool
from reelwatch.state.store import Store
from test_mirrors import mirror_toml

NTSC = Fraction(24000, 1001)
CARD = "A002R2EC"
SPEC = """
[rules.spec.profiles.camera]
codec = ["ProRes"]
frame_rate = ["24000/1001"]
audio_sample_rate = 48000
timecode = "required"

[[rules.spec.apply]]
volumes = ["raid_a", "shuttle"]
globs = ["Camera Media/**"]
profile = "camera"

[[rules.naming.apply]]
volumes = ["raid_a", "shuttle"]
glob = "Camera Media/**"
preset = "arri"
"""


@pytest.fixture(scope="module")
def pool():
    with ProbePool(1, timeout=60) as probes:
        yield probes.start()


class Cart:
    """A RAID and a shuttle with one mirror set, the camera spec and ARRI naming, checked as the daemon does."""

    def __init__(self, tmp_path: Path, pool: ProbePool, clock: float | None = None) -> None:
        self.tmp = tmp_path
        self.config_path = write_config(tmp_path, volumes={"raid_a": "dit", "shuttle": "dit"}, settle=0,
                                        extra=mirror_toml() + SPEC)
        text = self.config_path.read_text()  # the DIT's unacknowledged errors go to the supervisor
        self.config_path.write_text(text.replace("[roles.dit]\n", "[roles.dit]\nescalate_to = \"supervisor\"\n"
                                                                   "escalate_after = 60\n", 1))
        runtime = load_runtime(self.config_path, pool)
        self.pm, self.config = runtime.pm, runtime.config
        self.store = Store(tmp_path / "state.db", **({"clock": lambda: clock} if clock else {}))
        self.pipeline = Pipeline(self.pm, self.config, self.store)

    def card(self, volume: str) -> Path:
        return self.tmp / volume / "Camera Media" / CARD

    def check(self, *paths: Path) -> list:
        """Check files (as the daemon does when they land) and run the batch rules over them."""
        batch = self.store.next_batch()
        assets = []
        for p in paths:
            volume = p.relative_to(self.tmp).parts[0]
            asset = file_asset(volume, str(self.tmp / volume), p.relative_to(self.tmp / volume).as_posix())
            assets.append(asset)
            self.pipeline.process(asset, batch)
        self.pipeline.finish_batch(assets, batch)
        return assets

    def told(self) -> list:
        """Open findings someone was told about."""
        return [r for r in self.store.findings(status=("open", "acked")) if r.roles]

    def notices(self, kinds: tuple[str, ...] = ("new", "affects")) -> list[tuple[str, str, str]]:
        rows = self.store.query(f"SELECT role, data FROM notices WHERE kind IN ({','.join('?' * len(kinds))}) "
                                "ORDER BY id", kinds)
        return [(r["role"], json.loads(r["data"])["rule"], json.loads(r["data"])["relpath"]) for r in rows]


def clip(path: Path, **kw: object) -> Path:
    return mediagen.make_clip(path, width=320, height=180, rate=kw.pop("rate", NTSC), **kw)  # type: ignore[arg-type]


def test_a_half_copied_clip_is_one_finding_with_its_consequences_listed_under_it(tmp_path, pool):
    cart = Cart(tmp_path, pool)
    name = "A002C007_141024_R2EC.mov"
    camera = tmp_path / "camera" / CARD
    good = clip(camera / "Clips" / name)
    create_generation(camera)
    for volume in ("raid_a", "shuttle"):
        shutil.copytree(camera, cart.card(volume))
    cart.check(cart.card("raid_a") / "Clips" / name, cart.card("shuttle") / "Clips" / name)
    assert {r.rule for r in cart.told()} == {"mirror.safe_to_format"}  # a good offload
    cut = cart.card("shuttle") / "Clips" / name
    mediagen.truncate(good, cut, keep=0.5)  # copied again to the shuttle, and the copy was cut short
    os.utime(cut, ns=(cut.stat().st_atime_ns, cut.stat().st_mtime_ns + 10**9))
    cart.check(cut)
    told = cart.told()
    assert len(told) == 1, [(r.rule, r.volume, r.data["message"]) for r in told]
    [root] = told
    assert not [r for r in cart.told() if r.rule == "mirror.safe_to_format"]
    assert (root.rule, root.severity.label, root.volume) == ("sanity.truncated", "blocker", "shuttle")
    also = {a["rule"] for a in root.data["details"]["also"]}
    assert {"mhl.hash_mismatch", "integrity.changed_after_ingest", "spec.codec", "spec.audio",
            "spec.timecode"} <= also, also
    verdict = next(r for r in cart.store.findings() if r.rule == "mirror.mismatch")
    assert verdict.roles == () and verdict.data["details"]["explained"]  # recorded, nobody told twice
    # every role hears about the broken clip once, and the supervisor too (changed after ingest reaches them)
    per_role = {}
    for role, rule, _rel in cart.notices():
        if rule != "mirror.safe_to_format":
            per_role.setdefault(role, []).append(rule)
    assert per_role == {r: ["sanity.truncated"] for r in ("dit", "editorial", "vfx", "sound", "supervisor")}
    # unacknowledged, the root cause escalates; the verdict that only repeats it does not
    outbox = Outbox(cart.store, cart.config, lambda m, targets: True, clock=lambda: time.time() + 3600)
    assert outbox.escalate() == 1
    [(rule,)] = cart.store.query("SELECT json_extract(data, '$.rule') FROM notices WHERE kind='escalated'")
    assert rule == "sanity.truncated"


def test_a_clip_with_no_audio_is_not_told_sound_must_resample_it(tmp_path, pool):
    cart = Cart(tmp_path, pool)
    silent = clip(cart.card("raid_a") / "Clips" / "A002C011_141024_R2EC.mov", audio_channels=0)
    cart.check(silent)
    [f] = [r for r in cart.told() if r.rule == "spec.audio"]
    assert "resample" not in f.data["impact"] and "convert" not in f.data["impact"]
    assert f.data["impact"].startswith("There is no sound in this clip")


def test_the_same_clip_on_the_raid_and_the_shuttle_is_one_finding_with_two_locations(tmp_path, pool):
    cart = Cart(tmp_path, pool)
    name = "A002C010_141024_R2EC.mov"
    raid = clip(cart.card("raid_a") / "Clips" / name, rate=Fraction(25))
    shuttle = cart.card("shuttle") / "Clips" / name
    shuttle.parent.mkdir(parents=True)
    shutil.copy2(raid, shuttle)
    cart.check(raid)
    cart.check(shuttle)
    [f] = [r for r in cart.told() if r.rule == "spec.frame_rate"]
    assert [(p["volume"], p["relpath"]) for p in f.data["locations"]] == [
        ("raid_a", f"Camera Media/{CARD}/Clips/{name}"), ("shuttle", f"Camera Media/{CARD}/Clips/{name}")]
    spec = [n for n in cart.notices() if n[1] == "spec.frame_rate"]
    assert sorted(role for role, _, _ in spec) == ["dit", "editorial", "sound", "vfx"]  # once per role
    assert [r.id for r in cart.store.findings(volume="shuttle")] == [f.id]
    listed = json.loads(reelwatch("findings", "--config", str(cart.config_path), "--volume", "shuttle",
                                  "--format", "json").stdout)
    assert [(x["rule"], len(x["locations"])) for x in listed] == [("spec.frame_rate", 2)]
    # the shuttle copy is replaced by a good clip: that location goes, the finding stays on the RAID
    clip(shuttle)
    cart.check(shuttle)
    [f] = [r for r in cart.told() if r.rule == "spec.frame_rate"]
    assert (f.volume, f.data["locations"]) == ("raid_a", [])
    assert not [n for n in cart.notices(("resolved",)) if n[1] == "spec.frame_rate"]
    os.remove(raid)
    clip(raid)
    cart.check(raid)
    assert not [r for r in cart.told() if r.rule == "spec.frame_rate"]
    assert sorted(r for r, rule, _ in cart.notices(("resolved",)) if rule == "spec.frame_rate") == [
        "dit", "editorial", "sound", "vfx"]


def test_a_name_with_a_space_and_a_hash_is_one_finding(tmp_path, pool):
    cart = Cart(tmp_path, pool)
    odd = clip(cart.card("raid_a") / "Clips" / "A002C012 take#2.mov")
    cart.check(odd)
    names = [r for r in cart.told() if r.rule.startswith(("naming.", "sanity.name"))]
    assert [(r.rule, r.severity.label) for r in names] == [("naming.characters", "error")]
    assert names[0].data["message"].startswith("'A002C012 take#2.mov' contains a space and '#'")
    assert [a["rule"] for a in names[0].data["details"]["also"]] == ["sanity.name_chars"]


def test_changed_after_ingest_says_when_reelwatch_first_checked_it(tmp_path, pool):
    cart = Cart(tmp_path, pool, clock=1_750_000_000.0)  # 2025-06-15 15:06:40 UTC
    path = cart.card("raid_a") / "Sidecar.txt"
    path.parent.mkdir(parents=True)
    path.write_text("camera sidecar\n")
    os.utime(path, (1_600_000_000, 1_600_000_000))  # written in 2020 (the camera's clock)
    cart.check(path)
    path.write_text("camera sidecaR\n")  # same size, rewritten
    cart.check(path)
    [f] = [r for r in cart.told() if r.rule == "integrity.changed_after_ingest"]
    assert "reelwatch first checked it at 2025-06-15 15:06:40 UTC" in f.data["message"]
    assert "2020-09-13" not in f.data["message"]


@pytest.fixture
def sent() -> list:
    return []


def test_one_message_per_role_for_a_problem_on_both_copies(tmp_path, pool, sent):
    cart = Cart(tmp_path, pool)
    name = "A002C010_141024_R2EC.mov"
    raid = clip(cart.card("raid_a") / "Clips" / name, rate=Fraction(25))
    shutil.copytree(cart.card("raid_a"), cart.card("shuttle"))
    cart.check(raid, cart.card("shuttle") / "Clips" / name)
    outbox = Outbox(cart.store, cart.config, lambda m, targets: sent.append(m) or True)
    outbox.digest(force=True)
    while outbox.deliver():
        pass
    items = [(m.role, n.finding["rule"]) for m in sent if m.kind == "findings" for n in m.notices]
    assert sorted(items) == sorted((r, "spec.frame_rate") for r in ("dit", "editorial", "sound", "vfx"))
    dit = next(m for m in sent if m.role == "dit" and m.kind == "findings")
    from reelwatch.notify.render import render
    assert f"Also on: shuttle: {cart.card('shuttle') / 'Clips' / name}" in render(dit).text
