"""Offload mirrors ("can I format this card?") on real trees, a real state database, the real plugin
manager and pipeline, the real ``reelwatch check`` and, when present, the ASC MHL reference scenarios."""

from __future__ import annotations

import json
import os
import shutil
import stat
import time
from fractions import Fraction
from pathlib import Path

import pytest

from conftest import ROOT, corpus_path, reelwatch, write_config
from reelwatch.checking.runtime import load_runtime
from reelwatch.core.config import ConfigError
from reelwatch.integrity.hashing import hash_file
from reelwatch.core.manager import load_plugin_file
from reelwatch.integrity.mhl.create import create_generation
from reelwatch.checking.pipeline import Pipeline, file_asset
from reelwatch.state.store import Store, StoreHistory

PLUGIN = load_plugin_file(ROOT / "plugins" / "mirrors.py", "test_mirrors")
CARD = "A002R2EC"
CLIPS = {f"Clips/A002C00{i}_141024_R2EC.mov": bytes([i]) * (1000 + i) for i in range(6, 9)}
CLIPS["Sidecar.txt"] = b"camera sidecar\n"


def mirror_toml(copies: str = '{volume = "raid_a", folder = "Camera Media"}, '
                              '{volume = "shuttle", folder = "Camera Media"}', **extra: object) -> str:
    lines = ['[[rules.mirrors.sets]]', 'name = "offload"', f"copies = [{copies}]"]
    lines += [f"{k} = {json.dumps(v)}" for k, v in extra.items()]
    return "\n".join(lines) + "\n"


def card(root: Path, files: dict[str, bytes], folder: str = f"Camera Media/{CARD}") -> Path:
    base = root / folder
    for rel, data in files.items():
        (base / rel).parent.mkdir(parents=True, exist_ok=True)
        (base / rel).write_bytes(data)
    return base


def corrupt_in_place(path: Path) -> None:
    """Flip one byte, keeping size and mtime: what a failing disk or a sneaky edit leaves behind."""
    st = path.stat()
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


class Production:
    """Two volumes, the shipped plugins, a state database and the pipeline, as the daemon has them."""

    def __init__(self, tmp_path: Path, extra: str | None = None, shuttle_settle: float = 0,
                 volumes: dict[str, str] | None = None) -> None:
        self.tmp = tmp_path
        self.config_path = write_config(tmp_path, volumes=volumes or {"raid_a": "dit", "shuttle": "dit"},
                                        settle=0, extra=mirror_toml() if extra is None else extra)
        if shuttle_settle:
            text = self.config_path.read_text()
            block = f'path = "{tmp_path / "shuttle"}"\nkind = "ingest"\nowner = "dit"\nsettle = 0\n'
            assert block in text
            self.config_path.write_text(text.replace(block, block.replace("settle = 0", f"settle = {shuttle_settle}")))
        runtime = load_runtime(self.config_path, None)
        self.pm, self.config = runtime.pm, runtime.config
        self.store = Store(tmp_path / "state.db")
        self.pipeline = Pipeline(self.pm, self.config, self.store)
        self.raid, self.shuttle = tmp_path / "raid_a", tmp_path / "shuttle"

    def assets(self, volume: str, sub: str = "") -> list:
        root = self.tmp / volume
        if (root / sub).is_file():
            return [file_asset(volume, str(root), sub)]
        out = []
        for dirpath, _, names in os.walk(root / sub):
            for n in names:
                a = file_asset(volume, str(root), (Path(dirpath) / n).relative_to(root).as_posix())
                if a is not None:
                    out.append(a)
        return out

    def batch(self, *where: tuple[str, str]) -> list:
        assets = [a for volume, sub in where for a in self.assets(volume, sub)]
        found = self.pipeline.finish_batch(assets, self.store.next_batch())
        return [f for f in found if f.rule.startswith("mirror.")]

    def open(self, status: tuple[str, ...] = ("open", "acked")) -> list:
        return [r for r in self.store.findings(status=status) if r.rule.startswith("mirror.")]

    def notices(self) -> list[tuple[str, str, str]]:
        return [(r["role"], r["kind"], json.loads(r["data"])["rule"])
                for r in self.store.query("SELECT role, kind, data FROM notices ORDER BY id")]


def test_matching_copies_are_safe_to_format_ignoring_litter_and_mhl_history(tmp_path):
    prod = Production(tmp_path)
    card(prod.raid, CLIPS)
    create_generation(card(prod.shuttle, CLIPS))  # only the shuttle copy carries an ASC MHL history
    card(prod.shuttle, {".DS_Store": b"\0\0\0\1Bud1", "Clips/._A002C006_141024_R2EC.mov": b"appledouble"})
    found = prod.batch(("raid_a", ""), ("shuttle", ""))
    assert [(f.rule, f.severity.label, f.owner) for f in found] == [("mirror.safe_to_format", "info", "dit")]
    total = sum(len(v) for v in CLIPS.values())
    assert found[0].message == (f"Card {CARD} is safe to format: all 4 files ({total / 1000:.1f} kB) match on "
                                "raid_a and shuttle (xxh128), and match the card's ASC MHL history")
    assert found[0].asset.volume == "raid_a" and found[0].asset.relpath == f"Camera Media/{CARD}"
    assert found[0].details["batch_scope"] == "raid_a/Camera Media"
    assert ("dit", "new", "mirror.safe_to_format") in prod.notices()
    assert ("supervisor", "affects", "mirror.safe_to_format") in prod.notices()


def test_mismatch_names_the_files_and_the_copy_and_resolves_after_recopy(tmp_path):
    prod = Production(tmp_path)
    card(prod.raid, CLIPS)
    names = sorted(CLIPS)
    shuttle = {k: v for k, v in CLIPS.items() if k != names[1]}
    shuttle[names[0]] = CLIPS[names[0]][:500]  # a copy cut short
    card(prod.shuttle, shuttle)
    found = prod.batch(("raid_a", ""), ("shuttle", ""))
    assert [f.rule for f in found] == ["mirror.mismatch"]
    assert found[0].severity.label == "error"
    assert found[0].message == (f"Do not format card {CARD}: 1 file does not match between raid_a and shuttle "
                                f"({names[0]}), and the shuttle copy is missing 1 file ({names[1]})")
    assert found[0].details["missing"] == {"shuttle": [names[1]]}
    assert set(found[0].impacts) == {"supervisor", "editorial"}
    assert {r for r, k, rule in prod.notices() if rule == "mirror.mismatch"} == {"dit", "supervisor", "editorial"}

    for rel in (names[0], names[1]):  # the DIT offloads the card again, to both copies
        shutil.copy2(prod.raid / "Camera Media" / CARD / rel, prod.shuttle / "Camera Media" / CARD / rel)
    found = prod.batch(("raid_a", ""), ("shuttle", ""))
    assert [f.rule for f in found] == ["mirror.safe_to_format"]
    assert [(r.rule, r.status) for r in prod.open(("open", "resolved"))] == [
        ("mirror.mismatch", "resolved"), ("mirror.safe_to_format", "open")]
    assert ("dit", "resolved", "mirror.mismatch") in prod.notices()


def test_same_size_corruption_is_found_by_checksum(tmp_path):
    prod = Production(tmp_path)
    card(prod.raid, CLIPS)
    card(prod.shuttle, CLIPS)
    corrupt_in_place(prod.shuttle / "Camera Media" / CARD / "Sidecar.txt")
    found = prod.batch(("raid_a", ""), ("shuttle", ""))
    assert [f.message for f in found] == [
        f"Do not format card {CARD}: 1 file does not match between raid_a and shuttle (Sidecar.txt)"]
    different = found[0].details["different"][0]
    assert different["file"] == "Sidecar.txt"
    assert different["copies"]["raid_a"]["xxh128"] == hash_file(prod.raid / "Camera Media" / CARD / "Sidecar.txt")


def test_recopy_to_the_shuttle_alone_resolves_the_mismatch(tmp_path):
    prod = Production(tmp_path)
    card(prod.raid, CLIPS)
    card(prod.shuttle, {**CLIPS, "Sidecar.txt": b"cut"})
    assert [f.rule for f in prod.batch(("raid_a", ""), ("shuttle", ""))] == ["mirror.mismatch"]
    card(prod.shuttle, {"Sidecar.txt": CLIPS["Sidecar.txt"]})  # copied again to the shuttle: only it is touched
    assert [f.rule for f in prod.batch(("shuttle", f"Camera Media/{CARD}/Sidecar.txt"))] == ["mirror.safe_to_format"]
    assert [(r.rule, r.status) for r in prod.open(("open", "resolved"))] == [
        ("mirror.mismatch", "resolved"), ("mirror.safe_to_format", "open")]


def test_same_state_gives_the_same_finding_and_no_new_notice(tmp_path):
    prod = Production(tmp_path)
    card(prod.raid, CLIPS)
    card(prod.shuttle, {k: v for k, v in CLIPS.items() if k != "Sidecar.txt"})
    first = prod.batch(("raid_a", ""), ("shuttle", ""))
    notices = prod.notices()
    second = prod.batch(("shuttle", ""), ("raid_a", ""))
    assert [f.message for f in first] == [f.message for f in second] == [
        f"Do not format card {CARD} yet: the copy on shuttle is incomplete"]
    assert first[0].severity.label == "warning"
    assert prod.notices() == notices
    assert len(prod.open()) == 1


def test_a_batch_of_another_card_keeps_every_verdict_in_the_scope(tmp_path):
    prod = Production(tmp_path)
    card(prod.raid, CLIPS)
    card(prod.shuttle, CLIPS)
    [safe] = prod.batch(("raid_a", ""), ("shuttle", ""))
    card(prod.raid, {"A003C001_141024_R2EC.mov": b"x" * 2000}, folder="Camera Media/A003R2EC")
    found = prod.batch(("raid_a", "Camera Media/A003R2EC"))
    assert {(f.rule, f.asset.relpath) for f in found} == {
        ("mirror.safe_to_format", f"Camera Media/{CARD}"), ("mirror.missing_copy", "Camera Media/A003R2EC")}
    missing = next(f for f in found if f.rule == "mirror.missing_copy")
    assert missing.message == "Card A003R2EC is not on shuttle yet: do not format it until it has been copied there"
    rows = prod.open(("open", "resolved"))
    assert [(r.rule, r.status) for r in rows] == [("mirror.safe_to_format", "open"), ("mirror.missing_copy", "open")]
    assert rows[0].data["message"] == safe.message


def test_sizes_first_and_each_file_hashed_once(tmp_path):
    prod = Production(tmp_path)
    card(prod.raid, CLIPS)
    card(prod.shuttle, {**CLIPS, "Sidecar.txt": b"different length"})
    reads: list[str] = []

    def hasher(path: str, algo: str) -> str:
        reads.append(path)
        return hash_file(path, algo)

    history = StoreHistory(prod.store, 1, _hasher=hasher)
    assets = prod.assets("raid_a") + prod.assets("shuttle")
    plugin = prod.pm.pluggy.get_plugin("mirrors")  # the module whose config model validated the config
    [f] = plugin.batch_done(assets=assets, history=history, config=prod.config)
    assert f.rule == "mirror.mismatch" and reads == []  # names or sizes differ: nothing is read
    card(prod.shuttle, CLIPS)
    assert [f.rule for f in plugin.batch_done(assets=assets, history=history, config=prod.config)] == [
        "mirror.safe_to_format"]
    assert len(reads) == len(set(reads)) == 2 * len(CLIPS)
    plugin.batch_done(assets=assets, history=history, config=prod.config)
    assert len(reads) == 2 * len(CLIPS)  # cached in the state database against size and mtime


def test_a_file_still_being_written_is_incomplete_not_a_mismatch(tmp_path):
    prod = Production(tmp_path, shuttle_settle=60)
    card(prod.raid, CLIPS)
    card(prod.shuttle, {k: v[: len(v) // 2] for k, v in CLIPS.items()})  # changed less than 60 s ago
    [f] = prod.batch(("raid_a", ""), ("shuttle", ""))
    assert f.message == f"Do not format card {CARD} yet: the copy on shuttle is incomplete"
    assert (f.details["different_count"], f.details["missing_count"]) == (0, {"shuttle": len(CLIPS)})


@pytest.mark.parametrize("in_flight", [".A002C009_141024_R2EC.mov.Xy12Ab", "A002C009_141024_R2EC.mov.part",
                                       "A002C009_141024_R2EC.mov.tmp"], ids=["rsync", "part", "tmp"])
def test_a_card_whose_next_clip_is_still_being_copied_is_not_safe_to_format(tmp_path, in_flight):
    """An offload tool copies a card clip by clip to both drives at once, each clip under a temp name
    until it is whole. Between two clips the copies agree on what has landed so far; before, that
    was "safe to format" (said after the first clip, retracted when the next one landed: seen with
    real daemons copying file by file). A copy in flight on any drive is a card not yet copied."""
    prod = Production(tmp_path)
    landed = {k: v for k, v in CLIPS.items() if "C008" not in k}
    for root in (prod.raid, prod.shuttle):
        card(root, {**landed, f"Clips/{in_flight}": b"half a clip"})
    found = prod.batch(("raid_a", ""), ("shuttle", ""))
    assert [f.rule for f in found] == ["mirror.incomplete"], [(f.rule, f.message) for f in found]
    assert found[0].message == f"Do not format card {CARD} yet: the copies on raid_a and shuttle are incomplete"
    for root in (prod.raid, prod.shuttle):  # the copy finishes: the temp name becomes the clip
        (root / "Camera Media" / CARD / "Clips" / in_flight).unlink()
        card(root, CLIPS)
    assert [f.rule for f in prod.batch(("raid_a", ""), ("shuttle", ""))] == ["mirror.safe_to_format"]
    assert [r.rule for r in prod.open()] == ["mirror.safe_to_format"]


def test_litter_beside_a_card_does_not_hold_its_verdict(tmp_path):
    prod = Production(tmp_path)
    for root in (prod.raid, prod.shuttle):
        card(root, {**CLIPS, "Clips/._A002C006_141024_R2EC.mov": b"appledouble", "notes.txt~": b"backup",
                    ".DS_Store": b"\0\0\0\1Bud1"})
    assert [f.rule for f in prod.batch(("raid_a", ""), ("shuttle", ""))] == ["mirror.safe_to_format"]


def test_missing_copy_is_reported_while_the_card_is_recent(tmp_path):
    prod = Production(tmp_path, extra=mirror_toml(pending_hours=0.5 / 3600))
    card(prod.raid, CLIPS)
    [f] = prod.batch(("raid_a", ""))
    assert (f.rule, f.severity.label) == ("mirror.missing_copy", "info")
    assert f.details["absent"] == {"shuttle": ""}
    time.sleep(0.6)  # the shuttle that lacks it is taken to have moved on
    assert prod.batch(("raid_a", "")) == []
    assert [r.status for r in prod.open(("open", "resolved"))] == ["resolved"]


def test_an_unmounted_copy_is_named_with_where_it_should_be(tmp_path):
    prod = Production(tmp_path)
    card(prod.raid, CLIPS)
    prod.shuttle.rmdir()
    [f] = prod.batch(("raid_a", ""))
    assert f.rule == "mirror.missing_copy"
    assert f.message == (f"Card {CARD} cannot be compared with shuttle (shuttle is not available at {prod.shuttle}): "
                         "do not format it until it can be")


def test_three_copies_name_the_odd_one_out(tmp_path):
    copies = ", ".join(f'{{volume = "{v}", folder = "Camera Media"}}' for v in ("raid_a", "raid_b", "lto"))
    prod = Production(tmp_path, extra=mirror_toml(copies), volumes={"raid_a": "dit", "raid_b": "dit", "lto": "dit"})
    for v in ("raid_a", "raid_b", "lto"):
        card(tmp_path / v, CLIPS)
    corrupt_in_place(tmp_path / "lto" / "Camera Media" / CARD / "Sidecar.txt")
    [f] = prod.batch(("raid_a", ""), ("raid_b", ""), ("lto", ""))
    assert f.message == (f"Do not format card {CARD}: the lto copy has 1 file that does not match the other copies "
                         "(Sidecar.txt)")


def test_unreadable_files_and_folders_are_not_safe(tmp_path, monkeypatch):
    """Root reads everything, so the refusals are injected: at the hash of one file, at the listing
    of one folder."""
    prod = Production(tmp_path)
    card(prod.raid, CLIPS)
    card(prod.shuttle, CLIPS)
    locked = prod.shuttle / "Camera Media" / CARD / "Sidecar.txt"

    def hasher(path: str, algo: str) -> str:
        if path == str(locked):
            raise PermissionError(13, "Permission denied", path)
        return hash_file(path, algo)

    plugin = prod.pm.pluggy.get_plugin("mirrors")
    history = StoreHistory(prod.store, 1, _hasher=hasher)
    assets = prod.assets("raid_a") + prod.assets("shuttle")
    [f] = plugin.batch_done(assets=assets, history=history, config=prod.config)
    assert (f.rule, f.message) == ("mirror.mismatch", f"Do not format card {CARD}: 1 file cannot be read on shuttle "
                                                      "(Sidecar.txt)")
    real = os.scandir
    clips = prod.shuttle / "Camera Media" / CARD / "Clips"

    def scandir(path="."):
        if os.path.normpath(str(path)) == str(clips):
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(plugin.os, "scandir", scandir)
    [f] = plugin.batch_done(assets=assets, history=prod.store.history(1), config=prod.config)
    assert f.message == f"Do not format card {CARD}: 1 folder cannot be read on shuttle (Clips/)"


def test_shuttle_drives_under_a_mount_root_with_cards_at_the_root(tmp_path):
    drive = tmp_path / "drives" / "SHUTTLE 01"
    extra = mirror_toml('{volume = "raid_a"}, {volume = "shuttle"}')
    config = write_config(tmp_path, volumes={"raid_a": "dit"}, settle=0, extra=extra)
    text = config.read_text().replace(
        "[state]", f'[[volumes]]\nname = "shuttle"\npath = "{tmp_path}/drives/*"\nowner = "dit"\nsettle = 0\n\n[state]')
    config.write_text(text)
    runtime = load_runtime(config, None)
    card(tmp_path / "raid_a", CLIPS, folder=CARD)
    card(drive, CLIPS, folder=CARD)
    card(tmp_path / "raid_a", CLIPS, folder="A001R2EC")
    store = Store(":memory:")
    pipeline = Pipeline(runtime.pm, runtime.config, store)
    found = [f for f in pipeline.finish_batch([file_asset("shuttle-SHUTTLE_01", str(drive), f"{CARD}/Sidecar.txt")],
                                              store.next_batch()) if f.rule.startswith("mirror.")]
    # the batch touched A002 on the drive: A002 is judged (in its own scope), A001 is not
    assert [(f.rule, f.asset.relpath, f.details["batch_scope"]) for f in found] == [
        ("mirror.safe_to_format", f"{CARD}/", f"raid_a/{CARD}")]
    assert "match on raid_a and shuttle-SHUTTLE_01" in found[0].message
    store.close()


def test_config_is_validated_with_plain_messages(tmp_path):
    sections = {"mirrors": PLUGIN.MirrorsConfig}
    from reelwatch.core.config import build_config

    def problems(section: dict) -> str:
        with pytest.raises(ConfigError) as err:
            build_config({"rules": {"mirrors": section}}, sections=sections)
        return str(err.value)

    one = {"volume": "raid_a", "folder": "Camera Media"}
    assert "needs at least 2 copies" in problems({"sets": [{"name": "offload", "copies": [one]}]})
    assert "did you mean 'copies'" in problems({"sets": [{"name": "offload", "copys": [one, one]}]})
    assert "overlap" in problems({"sets": [{"name": "o", "copies": [one, {"volume": "raid_a"}]}]})
    two = [one, {"volume": "shuttle", "folder": ""}]
    assert "needs a folder on every copy" in problems({"sets": [{"name": "o", "copies": two, "unit": "folder"}]})
    assert "unknown hash algorithm" in problems({"sets": [{"name": "o", "copies": two, "algo": "crc99"}]})
    assert "must be unique" in problems({"sets": [{"name": "o", "copies": two}, {"name": "o", "copies": two}]})
    assert "plain folder" in problems({"sets": [{"name": "o", "copies": [one, {"volume": "s", "folder": "../x"}]}]})
    bad = write_config(tmp_path, volumes={"raid_a": "dit", "shuttle": "dit"},
                       extra=mirror_toml('{volume = "raid_a"}, {volume = "shutle"}'))
    with pytest.raises(ConfigError) as err:
        load_runtime(bad, None)
    assert "no volume named 'shutle' (did you mean 'shuttle'?)" in str(err.value)


def test_reelwatch_check_over_both_copies_answers_the_dit(tmp_path):
    from reelwatch.demo import mediagen
    config = write_config(tmp_path, volumes={"raid_a": "dit", "shuttle": "dit"}, settle=0, extra=mirror_toml())
    clip = mediagen.make_clip(tmp_path / "raid_a" / "Camera Media" / CARD / "A002C006_141024_R2EC.mov",
                              width=320, height=180, rate=Fraction(24000, 1001))
    shutil.copytree(tmp_path / "raid_a" / "Camera Media", tmp_path / "shuttle" / "Camera Media")

    def check() -> tuple[int, list[dict]]:
        out = reelwatch("check", str(tmp_path / "raid_a" / "Camera Media"), str(tmp_path / "shuttle" / "Camera Media"),
                        "--config", str(config), "--format", "json")
        assert out.returncode in (0, 1), out.stderr
        return out.returncode, [f for f in json.loads(out.stdout)["findings"] if f["rule"].startswith("mirror.")]

    code, found = check()
    assert code == 0
    assert [f["message"] for f in found] == [
        f"Card {CARD} is safe to format: its only file ({clip.stat().st_size / 1000:.1f} kB) matches on raid_a and "
        "shuttle (xxh128)"]
    corrupt_in_place(tmp_path / "shuttle" / "Camera Media" / CARD / clip.name)
    code, found = check()
    assert code == 1
    assert [(f["rule"], f["message"]) for f in found] == [("mirror.mismatch", (
        f"Do not format card {CARD}: 1 file does not match between raid_a and shuttle ({clip.name})"))]


@pytest.mark.parametrize(("scenario", "rule"), [("scenario_02", "mirror.safe_to_format"),
                                                ("scenario_04", "mirror.mismatch")])
def test_asc_mhl_reference_scenarios(tmp_path, scenario, rule):
    """travel_01 and file_server hold the same card with different ASC MHL histories; in scenario 04
    Sidecar.txt was altered on the file server."""
    src = corpus_path("mhl", "ascmhl_scenarios", scenario)
    for name in ("travel_01", "file_server"):
        shutil.copytree(src / name, tmp_path / name)
        for p in [tmp_path / name, *(tmp_path / name).rglob("*")]:
            p.chmod(p.stat().st_mode | stat.S_IWUSR)
    prod = Production(tmp_path, volumes={"file_server": "dit", "travel_01": "dit"},
                      extra=mirror_toml('{volume = "file_server"}, {volume = "travel_01"}'))
    [f] = prod.batch(("file_server", ""), ("travel_01", ""))
    assert f.rule == rule
    if rule == "mirror.mismatch":
        assert f.message == ("Do not format card A002R2EC: 1 file does not match between file_server and travel_01 "
                             "(Sidecar.txt)")
    else:
        assert "all 3 files" in f.message


def test_every_rule_is_documented():
    doc = (ROOT / "docs" / "rules.md").read_text()
    for info in PLUGIN.rules():
        assert f"| `{info.id}` |" in doc
        assert info.example in doc
