"""Image sequences: grouping (reelwatch.core.sequences) and the rules of plugins/sequences.py.

Real DPX/EXR frames are generated with PyAV and probed with MediaInfo; the grouping is compared
with fileseq and with pyseq's expected ``lss`` listing on their own fixture trees.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from reelwatch.core.config import ConfigError, build_config
from reelwatch.core.manager import PluginManager, load_plugin_file
from reelwatch.core.model import Facts
from reelwatch.probe.pool import facts_for_sequence
from reelwatch.core.sequences import (
    describe_ranges,
    folder_assets,
    frame_key,
    group_names,
    missing_ranges,
    related_runs,
    scan_folder,
    sequence_asset,
)

ROOT = Path(__file__).resolve().parents[1]
NAMING = ROOT.parent / "shared" / "corpus" / "naming"
PLUGIN = ROOT / "plugins" / "sequences.py"
SANITY = ROOT / "src" / "reelwatch" / "builtin" / "sanity.py"


# -- the grouping library ----------------------------------------------------------------

@pytest.mark.parametrize("name,key", [
    ("plate.1001.dpx", ("plate.", ".dpx", 4)),
    ("AGM_104_065_010_PL01_v002.1023.exr", ("AGM_104_065_010_PL01_v002.", ".exr", 4)),
    ("shot_0001.tif", ("shot_", ".tif", 4)),
    ("PLATE.1001.DPX", ("PLATE.", ".DPX", 4)),
    ("0001.exr", ("", ".exr", 4)),
    ("bar.-001.exr", ("bar.", ".exr", 4)),          # printf %04d of -1
    ("plate-1001.dpx", ("plate-", ".dpx", 4)),      # a hyphen after a letter is a separator
    ("A001_C002_0101AB_000123.dng", ("A001_C002_0101AB_", ".dng", 6)),
    ("clip.0001.mov", None),                        # not an image format
    ("A001C003_001.R3D", None),                     # spanned camera clip, not frames
    ("comp_v002.tif", None),                        # a version number, not a frame
    ("._plate.1001.dpx", None),                     # AppleDouble litter
    (".plate.1001.dpx", None),
    ("foo_0001_extra.exr", None),
    ("plate.dpx", None),
    ("still.20240115123456.jpg", None),             # more digits than a frame number has
    ("", None),
])
def test_frame_key(name, key):
    assert frame_key(name) == key


def test_frame_key_groups_frames_of_each_version():
    # Its speed is measured in bench/bench_frame_key.py (tests are not timed).
    names = [f"AGM_104_065_010_PL01_v{v:03d}.{i:04d}.exr" for v in range(5) for i in range(10_000)]
    keys = {frame_key(n) for n in names}
    assert keys == {(f"AGM_104_065_010_PL01_v{v:03d}.", ".exr", 4) for v in range(5)}


def test_group_names_splits_singles_sequences_and_keeps_real_range():
    names = [f"plate.{f}.dpx" for f in (1001, 1002, 1003, 1007, 1008, 1010)]
    names += ["plate.0999.dpx", "notes.txt", "ref.1001.mov", "lone.1001.exr", "._plate.1004.dpx"]
    singles, seqs = group_names(names)
    assert singles == ["._plate.1004.dpx", "notes.txt", "ref.1001.mov"]
    by = {s.pattern: s for s in seqs}
    assert set(by) == {"lone.1001#.exr", "plate.999-1010#.dpx"}
    plate = by["plate.999-1010#.dpx"]
    assert plate.frames == (999, 1001, 1002, 1003, 1007, 1008, 1010)
    assert plate.frame_names[0] == "plate.0999.dpx" and plate.padding == 4
    assert plate.frame_sizes == (0,) * 7
    assert by["lone.1001#.exr"].frames == (1001,)  # a lone frame is still a sequence asset


def test_unpadded_run_splits_at_the_digit_boundary_and_knows_its_sibling():
    _, seqs = group_names([f"plate.{f}.dpx" for f in range(995, 1003)])
    assert [s.pattern for s in seqs] == ["plate.995-999@@@.dpx", "plate.1000-1002#.dpx"]
    assert [s.pattern for s in related_runs(seqs[1], seqs)] == ["plate.995-999@@@.dpx"]
    assert related_runs(seqs[0], [seqs[0]]) == []


def test_missing_ranges_work_from_differences():
    assert missing_ranges([1001, 1002, 1003, 1007, 1008, 1010]) == [(1004, 1006), (1009, 1009)]
    assert missing_ranges([1001, 1004, 1007, 1013], step=3) == [(1010, 1010)]
    assert missing_ranges([1, 2_000_000_000]) == [(2, 1_999_999_999)]  # from differences: a frame walk would hang
    assert describe_ranges([(1004, 1006), (1009, 1009)]) == "1004-1006 and 1009"
    assert describe_ranges([(i, i) for i in range(0, 20, 2)], limit=3) == "0, 2, 4 and 7 more ranges"


def test_scan_folder_stats_frames_and_builds_the_asset(tmp_path):
    folder = tmp_path / "shots" / "010"
    folder.mkdir(parents=True)
    for f in (1, 2, 3):
        (folder / f"plate.{f:04d}.exr").write_bytes(b"x" * (100 * f))
    (folder / "readme.txt").write_text("hi")
    (folder / "sub.0001.exr").mkdir()  # a folder is not a frame
    os.utime(folder / "plate.0002.exr", ns=(1, 5_000_000_000_000_000_000))
    singles, seqs = scan_folder(folder)
    assert singles == ["readme.txt"]
    assert len(seqs) == 1 and seqs[0].frame_sizes == (100, 200, 300)
    # a frame that vanished between listing and stat is left out
    _, seqs2 = scan_folder(folder, ["plate.0001.exr", "plate.0002.exr", "plate.0003.exr", "plate.0004.exr"])
    assert seqs2[0].frames == (1, 2, 3)
    asset = sequence_asset("ingest", str(tmp_path), "shots/010", seqs[0], [1, 5_000_000_000_000_000_000, 3])
    assert asset.relpath == "shots/010/plate.1-3#.exr" and asset.size == 600
    assert asset.mtime_ns == 5_000_000_000_000_000_000
    assert asset.member_paths()[0] == str(folder / "plate.0001.exr")
    _, assets = folder_assets("ingest", str(tmp_path), "shots/010")
    assert [(a.relpath, a.size, a.mtime_ns) for a in assets] == [(asset.relpath, 600, asset.mtime_ns)]
    assert sequence_asset("v", "/r", "", seqs[0], []).relpath == "plate.1-3#.exr"


# -- against fileseq's and pyseq's own fixture trees --------------------------------------

needs_corpus = pytest.mark.skipif(not NAMING.is_dir(), reason="shared corpus not present")

# fileseq trees use the placeholder extension ".ext"; only image extensions make frames
# here, so those names are compared as ".exr". Documented deviations (docs/rules.md):
FILESEQ_DEVIATIONS = {
    "complex_ext": "compound extensions (1.a.jpg): only the last suffix is the extension",
    "seqhidden": "hidden names are never frames (fileseq lists them unless include_hidden is off)",
}


def _fileseq_runs(names):
    fileseq = pytest.importorskip("fileseq")
    out = {}
    for s in fileseq.FileSequence.findSequencesInList(sorted(names)):
        if s.frameSet() is not None:
            out[(s.basename(), s.extension(), s.zfill())] = tuple(s.frameSet())
    return out


@needs_corpus
def test_grouping_matches_fileseq_on_its_test_tree():
    compared = 0
    for dirpath, _, files in os.walk(NAMING / "fileseq_test_dirs"):
        if not files:
            continue
        rel = Path(dirpath).relative_to(NAMING / "fileseq_test_dirs").parts[0]
        names = [n[:-4] + ".exr" if n.endswith(".ext") else n for n in files]
        ours = {frame_key(s.frame_names[0]): s.frames for s in group_names(names)[1]}
        theirs = _fileseq_runs(names)
        if rel in FILESEQ_DEVIATIONS:
            assert ours != theirs, f"{rel} now agrees with fileseq: update the documented deviation"
            continue
        assert ours == theirs, rel
        compared += 1
    assert compared >= 9


@needs_corpus
def test_grouping_of_fileseq_upstream_expectations():
    seq = NAMING / "fileseq_test_dirs"
    _, broken = group_names(os.listdir(seq / "broken_seq"))
    assert [(s.pattern, missing_ranges(s.frames)) for s in broken] == [("broke.0-8#.exr", [(3, 3), (5, 5)])]
    _, neg = group_names(os.listdir(seq / "seqneg"))
    assert [(s.pattern, s.frames) for s in neg] == [("bar.-1-1#.exr", (-1, 0, 1))]
    _, step = group_names(os.listdir(seq / "step_seq"))
    assert step[0].frames == (1, 5, 9, 13, 14, 15, 16, 17)
    singles, hidden = group_names(os.listdir(seq / "seqhidden"))
    assert all(n.startswith(".") for n in singles) and len(singles) == 17
    assert {s.pattern for s in hidden} == {"bar1000-1006#.exr", "foo.1-5#.exr", "foo.1-5#.jpg"}
    # big.0999.ext .. big.1003.ext is one run: 0999 is 4 digits wide like 1000
    _, big = group_names([n.replace(".ext", ".exr") for n in os.listdir(seq / "seq") if n.startswith("big")])
    assert [s.pattern for s in big] == ["big.999-1003#.exr"]


def _lss(path: Path):
    for line in path.read_text().splitlines():
        m = re.match(r"\s*(\d+)\s+(\S+?)(?:\s+\[(.*)\])?\s*$", line)
        if not m:
            continue
        frames = []
        for part in (m.group(3) or "").split(","):
            if part.strip():
                lo, _, hi = part.strip().partition("-")
                frames += range(int(lo), int(hi or lo) + 1)
        yield int(m.group(1)), m.group(2), tuple(frames)


@needs_corpus
def test_grouping_matches_pyseq_lss_listing_where_it_applies():
    names = os.listdir(NAMING / "pyseq_tests_files")
    singles, seqs = group_names(names)
    runs = {frame_key(s.frame_names[0]): s.frames for s in seqs}
    deviations = {"negA.-%04d.exr", "file%d.03.rgb"}  # sign as separator; a number that is not the last
    checked = 0
    for count, pattern, frames in _lss(NAMING / "EXPECTED_pyseq-0.9.3_lss_output.txt"):
        m = re.fullmatch(r"(.*)%(0(\d+))?d(.*)", pattern)
        if pattern in deviations:
            continue
        if m is None:  # pyseq's single files
            if pattern == "alpha.txt":
                assert pattern in singles
            else:  # file_02.tif, file.info.03.rgb: a lone frame is a one-frame sequence here
                assert frame_key(pattern) in runs
            continue
        head, pad, tail = m.group(1), m.group(3), m.group(4)
        if pad:
            assert runs[(head, tail, int(pad))] == frames, pattern
        else:  # %d: unpadded, split where the width changes (z1_002_v2 9 | 10-12)
            got = sorted(f for (h, t, _), fr in runs.items() if (h, t) == (head, tail) for f in fr)
            assert tuple(got) == frames, pattern
        assert len(frames) == count
        checked += 1
    assert checked == 18
    assert runs[("negA.", ".exr", 5)] == (-2, -1) and runs[("negA.", ".exr", 4)] == (0, 1)
    assert runs[("z1_002_v2.", ".png", 1)] == (9,) and runs[("z1_002_v2.", ".png", 2)] == (10, 11, 12)


# -- the rule plugin ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def plugin():
    return load_plugin_file(PLUGIN)


def _manager(plugin, *, sanity: bool = False) -> PluginManager:
    pm = PluginManager()
    builtins = [("sequences", plugin)]
    if sanity:
        from reelwatch.builtin.sanity import Sanity
        builtins.insert(0, ("sanity", Sanity()))
    pm.load(builtins=builtins, entry_points=False, shipped=False)
    return pm


def _config(pm: PluginManager, section: dict | None = None, kind: str = "ingest", root: str = "/x"):
    raw: dict = {"volumes": [{"name": "vol", "path": root, "kind": kind}]}
    if section is not None:
        raw["rules"] = {"sequences": section}
    return build_config(raw, sections=pm.config_sections())


def _check(pm, config, root: Path, folder: str):
    _, assets = folder_assets("vol", str(root), folder)
    out = {}
    for asset in assets:
        facts = Facts.from_mapping(facts_for_sequence(list(asset.member_paths()), list(asset.sequence.frame_sizes)))
        derived, errors = pm.collect(asset, facts, config)
        assert not errors
        facts = facts.with_derived(derived)
        out[asset.sequence.pattern] = pm.check(asset, facts, None, config)
    return out


def _rules(findings, prefix="sequence."):
    return {f.rule: f for f in findings if f.rule.startswith(prefix)}


@pytest.fixture
def gapped(tmp_path):
    gen = pytest.importorskip("reelwatch.demo.mediagen")
    pytest.importorskip("av")
    gen.make_image_sequence(tmp_path / "plates", "plate", "dpx", 1001, 1010, skip=(1004, 1005, 1006, 1009))
    return tmp_path


def test_missing_frames_named_as_ranges_and_builtin_coexistence(plugin, gapped):
    pm = _manager(plugin, sanity=True)
    unconfigured = _check(pm, _config(pm), gapped, "plates")["plate.1001-1010#.dpx"]
    assert "sequence.missing_frames" not in _rules(unconfigured)
    assert "sanity.sequence_gap" in _rules(unconfigured, "sanity.")  # the builtin covers gaps without config
    found = _check(pm, _config(pm, {}), gapped, "plates")["plate.1001-1010#.dpx"]
    assert "sanity.sequence_gap" not in _rules(found, "sanity.")     # configured: only this plugin reports
    f = _rules(found)["sequence.missing_frames"]
    assert f.message == "frames 1004-1006 and 1009 are missing from plate.1001-1010#.dpx"
    assert f.owner == "dit" and f.impacts == ("vfx", "colour")
    assert "black frames at 1004-1006 and 1009" in f.impact
    assert f.details["missing_count"] == 4


def test_allow_gaps_and_delivery_owner(plugin, gapped):
    pm = _manager(plugin)
    cfg = _config(pm, {"allow_gaps": [{"glob": "plates/**", "frames": "1004-1006", "reason": "no plate"}]},
                  kind="delivery")
    f = _rules(_check(pm, cfg, gapped, "plates")["plate.1001-1010#.dpx"])["sequence.missing_frames"]
    assert f.message == "frame 1009 is missing from plate.1001-1010#.dpx"
    assert f.owner == "vfx" and f.impacts == ("editorial", "colour") and "vendor" in f.fix
    for section in ({"allow_gaps": [{"glob": "plates/plate.*", "frames": "*"}]},
                    {"allow_gaps": [{"frames": "1001-1010"}]}):
        assert "sequence.missing_frames" not in _rules(_check(pm, _config(pm, section), gapped, "plates")
                                                       ["plate.1001-1010#.dpx"])
    other = _config(pm, {"allow_gaps": [{"glob": "elements/**", "frames": "*"}]})
    assert "sequence.missing_frames" in _rules(_check(pm, other, gapped, "plates")["plate.1001-1010#.dpx"])


def test_bad_config_names_the_key(plugin):
    pm = _manager(plugin)
    with pytest.raises(ConfigError) as err:
        _config(pm, {"allow_gaps": [{"glob": "**", "frames": "ten to twenty"}]})
    assert "rules.sequences.allow_gaps[0].frames" in str(err.value)
    with pytest.raises(ConfigError) as err:
        _config(pm, {"short_frame_ration": 0.3})
    assert "did you mean 'short_frame_ratio'" in str(err.value)


def test_stepped_render_is_not_gapped_unless_steps_are_refused(plugin, tmp_path):
    gen = pytest.importorskip("reelwatch.demo.mediagen")
    pytest.importorskip("av")
    gen.make_image_sequence(tmp_path / "s", "twos", "exr", 1001, 1011, skip=range(1002, 1011, 2))
    pm = _manager(plugin)
    assert "sequence.missing_frames" not in _rules(_check(pm, _config(pm, {}), tmp_path, "s")["twos.1001-1011#.exr"])
    f = _rules(_check(pm, _config(pm, {"allow_steps": False}), tmp_path, "s")["twos.1001-1011#.exr"])
    assert f["sequence.missing_frames"].message.startswith("frames 1002, 1004, 1006, 1008 and 1010 are missing")


def test_short_frame_mixed_format_on_real_dpx(plugin, tmp_path):
    gen = pytest.importorskip("reelwatch.demo.mediagen")
    pytest.importorskip("av")
    paths = gen.make_image_sequence(tmp_path / "p", "plate", "dpx", 1001, 1012, bits=10)
    cut = paths[3]  # frame 1004, cut off at 97 %: still readable, MediaInfo does not notice
    cut.write_bytes(cut.read_bytes()[: int(cut.stat().st_size * 0.97)])
    gen.make_image_sequence(tmp_path / "p", "plate", "dpx", 1008, 1008, width=128, height=72, bits=12)
    pm = _manager(plugin)
    found = _rules(_check(pm, _config(pm), tmp_path, "p")["plate.1001-1012#.dpx"])
    short = found["sequence.short_frame"]
    assert short.message.startswith("frame 1004 of plate.1001-1012#.dpx is ")  # 1008 is mixed_format's, not short
    assert "cut off" in short.impact
    mixed = found["sequence.mixed_format"]
    assert "frame 1008 is 128x72 while the rest is 256x144" in mixed.message
    assert "frame 1008 is 12-bit while the rest is 10-bit" in mixed.message
    assert set(found) == {"sequence.short_frame", "sequence.mixed_format"}


def test_compressed_frames_vary_in_size_without_being_short(plugin, tmp_path):
    sizes = (1000, 900, 1100, 400, 1000, 950)  # 40 % of the neighbours: short for EXR at 0.5
    folder = tmp_path / "e"
    folder.mkdir()
    for i, size in enumerate(sizes):
        (folder / f"sh.{i + 1:04d}.exr").write_bytes(b"\0" * size)
    (folder / "sh.0003.exr").write_bytes(b"\0" * 700)  # 70 %: fine for a compressed format
    pm = _manager(plugin)
    _, (asset,) = folder_assets("vol", str(tmp_path), "e")
    findings = pm.check(asset, Facts(kind="unreadable"), None, _config(pm))
    (short,) = [f for f in findings if f.rule == "sequence.short_frame"]
    assert short.message.startswith("frame 4 of sh.1-6#.exr is 400 bytes")


def test_padding_convention_and_padding_change_in_one_folder(plugin, tmp_path):
    folder = tmp_path / "pad"
    folder.mkdir()
    for f in range(995, 1004):
        (folder / f"plate.{f}.dpx").write_bytes(b"\0" * 64)
    for f in range(1, 4):
        (folder / f"seq.{f:04d}.exr").write_bytes(b"\0" * 64)
    pm = _manager(plugin)
    found = _check(pm, _config(pm, {"padding": 4}), tmp_path, "pad")
    low = [f for f in found["plate.995-999@@@.dpx"] if f.rule == "sequence.padding"]
    assert any("have 3 digits (plate.995.dpx); the convention here is 4" in f.message for f in low)
    assert any("next to plate.1000-1003#.dpx (4-digit)" in f.message and "padding changes inside one run"
               in f.message for f in low)
    high = [f.message for f in found["plate.1000-1003#.dpx"] if f.rule == "sequence.padding"]
    assert high == ["plate.1000-1003#.dpx (4-digit frame numbers) sits next to plate.995-999@@@.dpx (3-digit) "
                    "in the same folder: the padding changes inside one run"]
    assert not [f for f in found["seq.1-3#.exr"] if f.rule == "sequence.padding"]
    # the same frames written twice with two paddings
    for f in range(1, 4):
        (folder / f"seq.{f:02d}.exr").write_bytes(b"\0" * 64)
    twice = _check(pm, _config(pm), tmp_path, "pad")["seq.1-3@@.exr"]
    assert any("the same frames exist with two paddings" in f.message for f in twice)


def test_odd_facts_and_vanished_folder_do_not_crash(plugin, tmp_path):
    folder = tmp_path / "o"
    folder.mkdir()
    for f in range(1, 5):
        (folder / f"x.{f:04d}.dpx").write_bytes(b"\0" * 10)
    pm = _manager(plugin)
    _, (asset,) = folder_assets("vol", str(tmp_path), "o")
    odd = Facts.from_mapping({"kind": "image_sequence", "image": [
        {"frame_index": 99, "width": 1}, {"frame_index": "x"}, {"frame_index": 0, "width": "wide", "height": None},
        {"frame_index": 1, "width": 2048, "bit_depth": "ten", "frame_kind": "unreadable"}],
        "derived": {"sequence_siblings": [{"bogus": 1}, "nonsense", {"pattern": "x.1@.dpx", "first": "one"}]}})
    for facts in (odd, Facts(kind="missing")):
        findings = pm.check(asset, facts, None, _config(pm, {}))
        assert all(f.rule.startswith("sequence.") for f in findings), findings
    for child in folder.iterdir():
        child.unlink()
    folder.rmdir()
    derived, errors = pm.collect(asset, Facts(kind="missing"), _config(pm))
    assert derived == {} and errors == []


def test_every_rule_is_documented(plugin):
    doc = (ROOT / "docs" / "rules.md").read_text()
    ids = [r.id for r in plugin.rules()]
    assert len(ids) == 4
    for rule_id in ids:
        assert re.search(rf"^\|\s*`?{re.escape(rule_id)}`?\s*\|", doc, re.M), rule_id


RAWCOOKED = ROOT.parent / "shared" / "corpus" / "media" / "rawcooked_regression" / "BuggyPackages" / "MissingImageInSequence"


@pytest.mark.skipif(not RAWCOOKED.is_dir(), reason="shared corpus not present")
def test_rawcooked_sequences_with_missing_frames_are_flagged(plugin):
    pm = _manager(plugin)
    config = _config(pm, {}, root=str(RAWCOOKED))
    expected = {
        "MissingSecondFrame": "frame 2 is missing from 1-10@@@@@@.dpx",
        "MissingPenultimateFrame": "frame 9 is missing from 1-10@@@@@@.dpx",
        "MissingAllBut2Frames": "frames 9002-900009 are missing from 9001-900010@@@@@@.dpx",
    }
    for folder, message in expected.items():
        (findings,) = _check(pm, config, RAWCOOKED, folder).values()
        assert [(f.rule, f.message) for f in findings] == [("sequence.missing_frames", message)], folder
