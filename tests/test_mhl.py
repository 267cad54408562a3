"""ASC MHL v2: verify like the reference, create what the reference accepts, and the plugin.

The reference is the installed ``ascmhl`` 1.2 package: its ``verify`` (present in
``ascmhl.commands`` though not on its command line) and ``create``. Corpus folders are
copied to tmp_path before anything runs on them.
"""

from __future__ import annotations

import os
import shutil
import stat
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from reelwatch.core.config import build_config
from reelwatch.integrity.hashing import hash_file
from reelwatch.core.manager import load_plugin_file
from reelwatch.integrity.mhl.read import CHAIN, IgnoreSpec, MHLError, load_history, parse_chain, parse_manifest
from reelwatch.integrity.mhl.create import Author, create_generation
from reelwatch.integrity.mhl.verify import verify
from reelwatch.checking.pipeline import file_asset
from reelwatch.state.store import Store, StoreHistory

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # pathspec, used by ascmhl

ROOT = Path(__file__).resolve().parents[1]
MHL_CORPUS = ROOT.parent / "shared" / "corpus" / "mhl"
PLUGIN = ROOT / "plugins" / "integrity.py"
NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


def corpus(*parts: str) -> Path:
    path = MHL_CORPUS.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"corpus not available: {path}")
    return path


def copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    for dirpath, dirnames, filenames in os.walk(dst):
        for n in dirnames + filenames:
            p = Path(dirpath) / n
            p.chmod(p.stat().st_mode | stat.S_IWUSR)
    dst.chmod(dst.stat().st_mode | stat.S_IWUSR)
    return dst


def ref(command: str, *args: str) -> int:
    """Exit code of the reference ascmhl command, called in-process."""
    click = pytest.importorskip("click")
    commands = pytest.importorskip("ascmhl.commands")
    fn = getattr(commands, command, None)
    if fn is None:
        pytest.skip(f"ascmhl has no {command} command")
    try:
        fn.main(list(args), standalone_mode=False)
    except click.ClickException as exc:
        return exc.exit_code
    return 0


def snapshot(root: Path) -> dict[str, tuple[int, int, int]]:
    """Everything outside ascmhl/ folders: size, mtime and mode."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d != "ascmhl"]
        for n in filenames:
            st = os.stat(Path(dirpath) / n)
            out[str(Path(dirpath, n).relative_to(root))] = (st.st_size, st.st_mtime_ns, st.st_mode)
    return out


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    from reelwatch.demo import mediagen
    out = tmp_path_factory.mktemp("clips")
    return [mediagen.make_clip(out / name, width=320, height=180, frames=3, rate=Fraction(24000, 1001))
            for name in ("A002C006_141024_R2EC.mov", "A002C007_141024_R2EC.mov")]


@pytest.fixture
def card(tmp_path: Path, clips: list[Path]) -> Path:
    """A camera card folder: real clips, a sidecar, a nested folder, an empty folder, OS litter."""
    root = tmp_path / "A002R2EC"
    (root / "Clips").mkdir(parents=True)
    for c in clips:
        shutil.copy2(c, root / "Clips" / c.name)
    (root / "Sidecar.txt").write_text("camera A, reel 2\n")
    (root / "Meta" / "Deep").mkdir(parents=True)
    (root / "Meta" / "Deep" / "report & notes <1>.xml").write_text("<r/>")
    (root / "Meta" / "Deep" / "zero.bin").touch()
    (root / "Empty").mkdir()
    (root / ".DS_Store").write_bytes(b"\0\1")
    return root


# -- the reference's own scenarios and the derived negatives ------------------------------------

@pytest.mark.parametrize("rel,expected", [
    ("scenario_01/travel_01/A002R2EC", 0), ("scenario_02/travel_01/A002R2EC", 0),
    ("scenario_02/file_server/A002R2EC", 0), ("scenario_03/file_server/A002R2EC", 0),
    ("scenario_04/travel_01/A002R2EC", 0), ("scenario_04/file_server/A002R2EC", 11),
    ("scenario_05/file_server/Reels", 0), ("scenario_05/travel_01/Reels/A003R2EC", 0),
])
def test_reference_scenarios_give_the_reference_outcome(tmp_path: Path, rel: str, expected: int) -> None:
    root = copy(corpus("ascmhl_scenarios", rel), tmp_path / Path(rel).name)
    report = verify(root)
    assert report.exit_code == expected == ref("verify", str(root))
    if expected == 11:
        [p] = report.problems
        assert (p.kind, p.path, p.algo, p.expected, p.actual) == (
            "hash_mismatch", "Sidecar.txt", "xxh64", "3ab5a4166b9bde44", "70d2cf31aaa3eac4")
    else:
        assert report.problems == () and report.verified >= 3


@pytest.mark.parametrize("case,kind,path", [
    ("10_missing_file", "missing_file", "Clips/A002C007_141024_R2EC.mov"),
    ("11_modified_file", "hash_mismatch", "Sidecar.txt"),
    ("21_new_unlisted_file", "new_file", "Clips/A002C008_141024_R2EC.mov"),
    ("31_modified_manifest", "manifest_modified", "ascmhl/0001_A002R2EC_2020-01-16_091500Z.mhl"),
    ("32_missing_chain", "chain_missing", "ascmhl/ascmhl_chain.xml"),
    ("33_missing_manifest", "manifest_missing", "ascmhl/0001_A002R2EC_2020-01-16_091500Z.mhl"),
])
def test_derived_negatives_are_each_reported_as_what_they_are(tmp_path: Path, case: str, kind: str,
                                                              path: str) -> None:
    root = copy(corpus("derived_negatives_from_scenario_01", case), tmp_path / case)
    report = verify(root)
    assert [(p.kind, p.path) for p in report.problems] == [(kind, path)]
    assert report.exit_code == int(case[:2]) == ref("verify", str(root))


def test_no_history_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(MHLError, match="no ASC MHL history"):
        verify(tmp_path)


# -- creating generations, checked by the reference -----------------------------------------------

def test_our_generation_verifies_with_the_reference_and_extends(tmp_path: Path, card: Path) -> None:
    before = snapshot(card)
    result = create_generation(card, now=NOW, author=Author("Dana DIT", "dana@example.com", role="DIT"),
                               location="Stage 4", hostname="cart-1")
    assert result.exit_code == 0 and result.problems == ()
    [written] = result.written
    assert written.name == "0001_A002R2EC_2024-05-01_120000Z.mhl"
    assert snapshot(card) == before, "create wrote outside ascmhl/"
    gen = parse_manifest(written)
    files = {m.path: m for m in gen.media if not m.is_directory}
    assert set(files) == {"Clips/A002C006_141024_R2EC.mov", "Clips/A002C007_141024_R2EC.mov", "Sidecar.txt",
                          "Meta/Deep/report & notes <1>.xml", "Meta/Deep/zero.bin"}
    mov = files["Clips/A002C006_141024_R2EC.mov"]
    assert mov.entries[0].algo == "xxh128" and mov.entries[0].action == "original"
    assert mov.entries[0].value == hash_file(card / mov.path, "xxh128")
    assert ref("verify", str(card)) == 0
    assert verify(card).exit_code == 0
    again = copy(card, tmp_path / "copy" / "A002R2EC")
    assert ref("create", str(again), "-h", "xxh128") == 0  # verifies our history first
    second = parse_manifest(sorted((again / "ascmhl").glob("0002_*.mhl"))[0])
    assert {e.action for m in second.media if not m.is_directory for e in m.entries} == {"verified"}
    assert verify(again).exit_code == 0


def test_reference_generation_verifies_with_ours(tmp_path: Path, card: Path) -> None:
    assert ref("create", str(card), "-h", "xxh128") == 0
    assert verify(card).exit_code == 0
    with open(card / "Clips" / "A002C007_141024_R2EC.mov", "r+b") as f:
        f.seek(100)
        f.write(b"\xff\xfe")
    (card / "Sidecar.txt").unlink()
    (card / "Clips" / "A002C008_141024_R2EC.mov").write_bytes(b"late")
    report = verify(card)
    assert sorted((p.kind, p.path) for p in report.problems) == [
        ("hash_mismatch", "Clips/A002C007_141024_R2EC.mov"), ("missing_file", "Sidecar.txt"),
        ("new_file", "Clips/A002C008_141024_R2EC.mov")]
    assert report.exit_code == 11 == ref("verify", str(card))


def test_directory_hashes_equal_the_reference(tmp_path: Path, card: Path) -> None:
    theirs = copy(card, tmp_path / "theirs" / "A002R2EC")
    create_generation(card, "xxh64", now=NOW)
    assert ref("create", str(theirs), "-h", "xxh64") == 0
    ours_gen = load_history(card).generations[0]
    ref_gen = load_history(theirs).generations[0]
    assert ours_gen.root_hashes[0].value == ref_gen.root_hashes[0].value
    assert ours_gen.root_hashes[0].structure == ref_gen.root_hashes[0].structure

    def dirs(gen: object) -> dict[str, tuple[str, str | None]]:
        return {m.path: (m.entries[0].value, m.entries[0].structure) for m in gen.media if m.is_directory}

    assert dirs(ours_gen) == dirs(ref_gen) and "Empty" in dirs(ours_gen)


def test_nested_card_histories_under_a_reels_folder(tmp_path: Path) -> None:
    reels = copy(corpus("ascmhl_scenarios", "scenario_05", "travel_01", "Reels"), tmp_path / "Reels")
    (reels / "Summary.txt").write_text("two mags\n")
    result = create_generation(reels, "xxh64", now=NOW)
    assert [p.relative_to(reels).as_posix() for p in result.written] == [
        "A002R2EC/ascmhl/0002_A002R2EC_2024-05-01_120000Z.mhl",
        "A003R2EC/ascmhl/0002_A003R2EC_2024-05-01_120000Z.mhl",
        "ascmhl/0001_Reels_2024-05-01_120000Z.mhl"]
    top = parse_manifest(result.written[-1])
    assert [r.path for r in top.references] == [p.relative_to(reels).as_posix() for p in result.written[:2]]
    assert all(r.c4 == hash_file(reels / r.path, "c4") for r in top.references)
    assert [m.path for m in top.media if not m.is_directory] == ["Summary.txt"]
    assert ref("verify", str(reels)) == 0 and verify(reels).exit_code == 0
    (reels / "A003R2EC" / "Sidecar.txt").write_text("changed\n")
    assert [(p.kind, p.path) for p in verify(reels).problems] == [("hash_mismatch", "A003R2EC/Sidecar.txt")]


def test_next_generation_records_verified_then_failed(card: Path) -> None:
    create_generation(card, now=NOW)
    second = create_generation(card, "md5", now=datetime(2024, 5, 2, tzinfo=UTC))
    media = {m.path: m for m in parse_manifest(second.written[0]).media}
    assert [(e.algo, e.action) for e in media["Sidecar.txt"].entries] == [("md5", "verified"), ("xxh128", "verified")]
    (card / "Sidecar.txt").write_text("tampered\n")
    third = create_generation(card, now=datetime(2024, 5, 3, tzinfo=UTC))
    assert third.exit_code == 11 and [p.path for p in third.problems] == ["Sidecar.txt"]
    media = {m.path: m for m in parse_manifest(third.written[0]).media}
    assert [(e.algo, e.action) for e in media["Sidecar.txt"].entries] == [("xxh128", "failed")]
    chain = parse_chain(card / "ascmhl" / CHAIN)
    assert [c.sequence for c in chain] == [1, 2, 3]
    assert ref("verify", str(card)) == 11 == verify(card).exit_code


@pytest.mark.parametrize("case", ["31_modified_manifest", "32_missing_chain", "33_missing_manifest"])
def test_refuses_to_extend_a_broken_history(tmp_path: Path, case: str) -> None:
    root = copy(corpus("derived_negatives_from_scenario_01", case), tmp_path / case)
    before = sorted(p.name for p in (root / "ascmhl").iterdir())
    with pytest.raises(MHLError, match="damaged"):
        create_generation(root)
    assert sorted(p.name for p in (root / "ascmhl").iterdir()) == before


def test_unreadable_manifest_and_bad_names(tmp_path: Path, card: Path) -> None:
    result = create_generation(card, now=NOW)
    manifest = result.written[0]
    manifest.write_text("<hashlist version='2.0'><hashes>")  # broken XML, chain updated to match
    chain = (card / "ascmhl" / CHAIN).read_text().replace(parse_chain(card / "ascmhl" / CHAIN)[0].value,
                                                          hash_file(manifest, "c4"))
    (card / "ascmhl" / CHAIN).write_text(chain)
    assert [p.kind for p in verify(card).problems] == ["unreadable"]
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    (fresh / "bad\x01name.mov").write_bytes(b"x")
    with pytest.raises(MHLError, match="character XML cannot carry"):
        create_generation(fresh)
    with pytest.raises(ValueError):
        create_generation(fresh, "c4")


def test_pipes_and_links_are_never_read(card: Path) -> None:
    os.mkfifo(card / "Clips" / "pipe.mov")  # reading it would block forever
    os.symlink(card / "Meta", card / "link_to_folder")
    os.symlink(card / "Sidecar.txt", card / "link_to_file.txt")
    result = create_generation(card, now=NOW)
    listed = {m.path for m in parse_manifest(result.written[0]).media if not m.is_directory}
    assert "Clips/pipe.mov" not in listed and "link_to_file.txt" in listed
    assert not any(p.startswith("link_to_folder") for p in listed)
    assert verify(card).exit_code == 0  # (the reference reports the pipe as a new file; we skip it)
    (card / "Clips" / "pipe.mov").unlink()
    assert ref("verify", str(card)) == 0


def test_chain_naming_files_outside_the_history_is_not_followed(card: Path) -> None:
    create_generation(card, now=NOW)
    chain = card / "ascmhl" / CHAIN
    name = parse_chain(chain)[0].filename
    chain.write_text(chain.read_text().replace(name, "../Sidecar.txt"))
    report = verify(card)
    assert [(p.kind, p.path) for p in report.problems] == [("unreadable", "ascmhl/ascmhl_chain.xml")]
    assert "not a file of the ascmhl folder" in report.problems[0].detail


def test_what_we_write_validates_against_the_xsd(card: Path) -> None:
    etree = pytest.importorskip("lxml.etree")
    xsd = corpus("ascmhl_xsd")
    result = create_generation(card, now=NOW, author=Author("Dana", "dana@example.com", "+1 555", "DIT"),
                               comment="offload & verify")
    schema = etree.XMLSchema(etree.parse(str(xsd / "ASCMHL.xsd")))
    doc = etree.parse(str(result.written[0]))
    assert schema.validate(doc), schema.error_log
    directory = etree.parse(str(xsd / "ASCMHLDirectory.xsd"))
    for imp in directory.getroot().iter("{http://www.w3.org/2001/XMLSchema}import"):
        imp.set("schemaLocation", (xsd / "ASCMHL.xsd").as_uri())  # offline: the local copy
    chain_schema = etree.XMLSchema(directory)
    chain = etree.parse(str(card / "ascmhl" / CHAIN))
    assert chain_schema.validate(chain), chain_schema.error_log


def test_ignore_patterns() -> None:
    spec = IgnoreSpec([".DS_Store", "ascmhl/", "*.tmp", "/Proxies", "Clips/**/*.xml", "# comment"])
    assert spec.match(".DS_Store") and spec.match("Clips/.DS_Store")
    assert spec.match("Clips/ascmhl/x.mhl") and not spec.match("ascmhl")  # folder-only pattern
    assert spec.match("a/b/c.tmp") and spec.match("Proxies/p.mov") and not spec.match("Clips/Proxies/p.mov")
    assert spec.match("Clips/x/y/z.xml") and not spec.match("Sidecar.xml")


# -- the plugin -----------------------------------------------------------------------------------

@pytest.fixture
def plugin() -> ModuleType:
    return load_plugin_file(PLUGIN)


def _setup(tmp_path: Path, plugin: ModuleType, card_src: Path, rules: dict[str, Any] | None = None,
           ) -> tuple[Path, Any, StoreHistory, list[Any], list[tuple[str, str]]]:
    vol = tmp_path / "cards"
    dest = copy(card_src, vol / "Day01" / "A002R2EC")
    config = build_config({"volumes": [{"name": "cards", "path": str(vol)}],
                           "rules": {"integrity": rules or {}}}, sections=plugin.config_sections())
    calls: list[tuple[str, str]] = []

    def counting(path: str, algo: str) -> str:
        calls.append((path, algo))
        return hash_file(path, algo)

    history = StoreHistory(Store(":memory:"), 1, _hasher=counting)
    assets = [file_asset("cards", str(vol), p.relative_to(vol).as_posix())
              for p in sorted(dest.rglob("*")) if p.is_file() and "ascmhl" not in p.parts]
    return vol, config, history, assets, calls


def test_plugin_flags_a_tampered_file_in_plain_words(tmp_path: Path, plugin: ModuleType) -> None:
    vol, config, history, assets, calls = _setup(tmp_path, plugin, corpus("derived_negatives_from_scenario_01",
                                                                            "11_modified_file"))
    findings = [f for a in assets for f in plugin.check(asset=a, history=history, config=config)]
    [f] = findings
    assert f.rule == "mhl.hash_mismatch" and f.asset.relpath == "Day01/A002R2EC/Sidecar.txt"
    assert f.message.startswith("Sidecar.txt does not match the checksum recorded when the card was offloaded "
                                "(xxh64 bc96f7222665080b, expected 3ab5a4166b9bde44)")
    assert f.owner == "dit" and set(f.impacts) == {"editorial", "vfx", "supervisor"}
    assert "do not format" in f.fix and f.expected and f.impact
    assert plugin.batch_done(assets=assets, history=history, config=config) == []
    assert len(calls) == len(set(calls)) == 3, "each file is hashed once, then served from the state DB"


@pytest.mark.parametrize("case,rule,relpath", [
    ("10_missing_file", "mhl.missing_file", "Day01/A002R2EC/Clips/A002C007_141024_R2EC.mov"),
    ("21_new_unlisted_file", "mhl.new_file", "Day01/A002R2EC/Clips/A002C008_141024_R2EC.mov"),
    ("31_modified_manifest", "mhl.manifest_modified", "Day01/A002R2EC/ascmhl/0001_A002R2EC_2020-01-16_091500Z.mhl"),
    ("32_missing_chain", "mhl.chain_missing", "Day01/A002R2EC/ascmhl/ascmhl_chain.xml"),
    ("33_missing_manifest", "mhl.manifest_missing", "Day01/A002R2EC/ascmhl/0001_A002R2EC_2020-01-16_091500Z.mhl"),
])
def test_plugin_folder_level_findings(tmp_path: Path, plugin: ModuleType, case: str, rule: str,
                                     relpath: str) -> None:
    vol, config, history, assets, _ = _setup(tmp_path, plugin, corpus("derived_negatives_from_scenario_01", case))
    assert [f for a in assets for f in plugin.check(asset=a, history=history, config=config)] == []
    [f] = plugin.batch_done(assets=assets[:1], history=history, config=config)
    assert (f.rule, f.asset.relpath, f.asset.volume) == (rule, relpath, "cards")
    assert "A002R2EC" in f.message and f.fix and f.owner == "dit"
    if rule == "mhl.missing_file":
        assert (f.asset.size, f.asset.mtime_ns) == (0, 0)
        assert f.message == ("Clips/A002C007_141024_R2EC.mov is listed in the ASC MHL history of Day01/A002R2EC "
                             "but is not on the volume")


def test_plugin_scope_ignore_and_docs(tmp_path: Path, plugin: ModuleType) -> None:
    vol, config, history, assets, calls = _setup(tmp_path, plugin, corpus("derived_negatives_from_scenario_01",
                                                                            "11_modified_file"),
                                                 rules={"volumes": ["elsewhere"]})
    assert not any(plugin.check(asset=a, history=history, config=config) for a in assets)
    assert plugin.batch_done(assets=assets, history=history, config=config) == [] and calls == []
    assert plugin.ignore(volume="cards", relpath="Day01/A002R2EC/ascmhl/ascmhl_chain.xml") is True
    assert plugin.ignore(volume="cards", relpath="Day01/A002R2EC/Sidecar.txt") is None
    off = build_config({"rules": {"integrity": {"mhl": False}}}, sections=plugin.config_sections())
    assert not any(plugin.check(asset=a, history=history, config=off) for a in assets)
    with pytest.raises(Exception, match="cannot be written in ASC MHL"):
        build_config({"rules": {"integrity": {"create_algorithm": "c4"}}}, sections=plugin.config_sections())
    docs = (ROOT / "docs" / "rules.md").read_text()
    for info in plugin.rules():
        assert f"| `{info.id}` |" in docs and info.example and info.owner == "dit"


def test_plugin_reports_sequences_once_and_nested_histories(tmp_path: Path, plugin: ModuleType) -> None:
    from reelwatch.demo import mediagen
    from reelwatch.core.manager import PluginManager
    from reelwatch.core.model import Facts
    from reelwatch.core.sequences import folder_assets

    vol = tmp_path / "cards"
    reels = copy(corpus("ascmhl_scenarios", "scenario_05", "travel_01", "Reels"), vol / "Reels")
    mediagen.make_image_sequence(reels / "A003R2EC" / "VFX", "plate", "dpx", 1001, 1005, width=64, height=36)
    create_generation(reels, "xxh64", now=NOW)
    frames = sorted((reels / "A003R2EC" / "VFX").glob("*.dpx"))
    frames[2].write_bytes(frames[2].read_bytes()[:-1] + b"\0")
    frames[3].unlink()
    frames[4].unlink()
    pm = PluginManager()
    pm.load(entry_points=False)
    config = build_config({"volumes": [{"name": "cards", "path": str(vol)}]}, sections=pm.config_sections())
    history = StoreHistory(Store(":memory:"), 1)
    _, [seq] = folder_assets("cards", str(vol), "Reels/A003R2EC/VFX")
    found = [f for f in pm.check(seq, Facts(kind="image_sequence"), history, config) if f.plugin == "integrity"]
    assert [(f.rule, f.asset.relpath) for f in found] == [
        ("mhl.hash_mismatch", "Reels/A003R2EC/VFX/plate.1001-1003#.dpx")]
    assert found[0].message.startswith("1 frame of plate.1001-1003#.dpx (plate.1003.dpx) does not match")
    assert found[0].details["history"] == "Reels/A003R2EC"
    batch = [f for f in pm.batch_done([seq], history, config) if f.plugin == "integrity"]
    assert [(f.rule, f.asset.relpath) for f in batch] == [
        ("mhl.missing_file", "Reels/A003R2EC/VFX/plate.1004-1005#.dpx")]
    assert batch[0].asset.sequence is not None and batch[0].message.startswith(
        "2 frames of plate.1004-1005#.dpx (plate.1004.dpx, plate.1005.dpx) are listed in the ASC MHL history of "
        "Reels/A003R2EC but are not on the volume")


def test_plugin_when_the_volume_is_the_card(tmp_path: Path, plugin: ModuleType) -> None:
    vol = copy(corpus("derived_negatives_from_scenario_01", "10_missing_file"), tmp_path / "shuttle")
    (vol / "Sidecar.txt").write_text("changed on the shuttle drive\n")
    config = build_config({"volumes": [{"name": "shuttle", "path": str(vol)}]}, sections=plugin.config_sections())
    history = StoreHistory(Store(":memory:"), 1)
    side = file_asset("shuttle", str(vol), "Sidecar.txt")
    [f] = plugin.check(asset=side, history=history, config=config)
    assert f.rule == "mhl.hash_mismatch" and f.details["history"] == "the volume root"
    clip = file_asset("shuttle", str(vol), "Clips/A002C006_141024_R2EC.mov")
    found = plugin.batch_done(assets=[clip], history=history, config=config)
    assert sorted((f.rule, f.asset.relpath) for f in found) == [  # the untouched sidecar is verified here too
        ("mhl.hash_mismatch", "Sidecar.txt"), ("mhl.missing_file", "Clips/A002C007_141024_R2EC.mov")]
    [m] = plugin.batch_done(assets=[side], history=history, config=config)  # the sidecar is check()'s business
    assert m.message == ("Clips/A002C007_141024_R2EC.mov is listed in the ASC MHL history of the volume root but "
                         "is not on the volume")
