"""Matching events to real clips (PyAV media probed by MediaInfo, real BWF from the corpus,
real image sequences), conform checks, impact wording, versions and waiting events."""

from __future__ import annotations

import os
import shutil
from fractions import Fraction
from pathlib import Path

import pytest

from conftest import corpus_path
from reelwatch.demo import mediagen
from reelwatch.probe.worker import facts_for_file
from reelwatch.core.model import Asset, Facts, Severity
from reelwatch.core.sequences import folder_assets
from reelwatch.timeline import (Clip, Event, MemoryCatalog, clip_from_asset, conform, diff, impact_roles, impact_text,
                                keys_for, match_timeline, read_cut_list, relevant, uses_of, wanted_keys)
from reelwatch.timeline.match import match_event
from reelwatch.timeline.timecode import tc_to_frames

NTSC = Fraction(24000, 1001)
DATA = Path(__file__).resolve().parent / "data" / "timelines"


def real_clip(volume: str, root: Path, rel: str, **kw: object) -> tuple[Asset, Facts]:
    path = root / rel
    if not path.exists():
        mediagen.make_clip(path, width=320, height=180, audio_channels=0, **kw)  # type: ignore[arg-type]
    st = path.stat()
    facts = Facts.from_mapping(facts_for_file(str(path)))
    return Asset(volume, str(root), rel, st.st_size, st.st_mtime_ns), facts


def edl(path: Path, title: str, events: list[tuple[str, str, str, str, str, list[str]]]) -> Path:
    """Avid-style EDL: (reel, src in, src out, rec in, rec out, comment lines) per event."""
    lines = [f"TITLE:   {title}", "FCM: NON-DROP FRAME", ""]
    for n, (reel, si, so, ri, ro, comments) in enumerate(events, 1):
        lines.append(f"{n:03d}  {reel:<8} V     C        {si} {so} {ri} {ro}")
        lines += [f"* {c}" for c in comments]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def production(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """Two volumes with ARRI clips (one copied to both, one truncated on the NAS), a 25 fps clip,
    a clip whose long name only an 8-character reel points at, and two cards with C0001.mov."""
    base = tmp_path_factory.mktemp("prod")
    ingest, nas = base / "ingest", base / "nas"
    assets: dict[str, tuple[Asset, Facts]] = {}
    assets["a010"] = real_clip("ingest", ingest, "A004R1JL/A004C010_20100610_R1JL.mov", frames=48,
                               rate=NTSC, timecode="01:00:00:00")
    (nas / "A004R1JL").mkdir(parents=True)
    shutil.copy2(ingest / "A004R1JL/A004C010_20100610_R1JL.mov", nas / "A004R1JL/A004C010_20100610_R1JL.mov")
    assets["a010_nas"] = real_clip("nas", nas, "A004R1JL/A004C010_20100610_R1JL.mov")
    assets["a011"] = real_clip("ingest", ingest, "A004R1JL/A004C011_20100610_R1JL.mov", frames=48, rate=NTSC,
                               timecode="02:00:00:00")
    full = real_clip("ingest", ingest, "A004R1JL/A004C012_20100610_R1JL.mov", frames=48, rate=NTSC,
                     timecode="03:00:00:00")
    assets["a012"] = full
    mediagen.truncate(ingest / "A004R1JL/A004C012_20100610_R1JL.mov", nas / "A004R1JL/A004C012_20100610_R1JL.mov",
                      keep=0.5)
    assets["a012_cut"] = real_clip("nas", nas, "A004R1JL/A004C012_20100610_R1JL.mov")
    assets["b25"] = real_clip("ingest", ingest, "B001R2EC/B001C003_141024_R2EC.mov", frames=24, rate=Fraction(25),
                              timecode="04:00:00:00")
    assets["long"] = real_clip("ingest", ingest, "misc/LONGREELNAME_01.mov", frames=24, rate=NTSC,
                               timecode="05:00:00:00")
    assets["card1"] = real_clip("ingest", ingest, "CARD1/C0001.mov", frames=24, rate=NTSC, timecode="06:00:00:00")
    assets["card2"] = real_clip("ingest", ingest, "CARD2/C0001.mov", frames=24, rate=NTSC, timecode="07:00:00:00")
    return {"base": base, "assets": assets}


def catalog_of(production: dict[str, object], *skip: str) -> MemoryCatalog:
    assets = production["assets"]
    assert isinstance(assets, dict)
    return MemoryCatalog(clip_from_asset(a, f) for k, (a, f) in assets.items() if k not in skip)


def cut(tmp_path: Path) -> Path:
    return edl(tmp_path / "AGM_104_R2_v12.edl", "AGM_104_R2_v12", [
        # 1: by clip name; the clip is on two volumes
        ("A004R1JL", "01:00:00:04", "01:00:01:04", "01:00:00:00", "01:00:01:00",
         ["FROM CLIP NAME:  A004C010_20100610_R1JL"]),
        # 2: reel only: the clip whose timecode covers 02:00:00:10 on reel A004R1JL
        ("A004R1JL", "02:00:00:10", "02:00:01:10", "01:00:01:00", "01:00:02:00", []),
        # 3: by source file path (Windows, as written) to a clip truncated on the NAS
        ("A004R1JL", "03:00:00:00", "03:00:01:00", "01:00:02:00", "01:00:03:00",
         ["FROM CLIP NAME:  A004C012", "FROM CLIP: E:\\AGM\\A004R1JL\\A004C012_20100610_R1JL.mov"]),
        # 4: a 25 fps clip in a 23.976 cut, past its end (24 frames from 04:00:00:00)
        ("B001R2EC", "04:00:00:12", "04:00:01:12", "01:00:03:00", "01:00:04:00",
         ["FROM CLIP NAME:  B001C003_141024_R2EC"]),
        # 5: a reel cut to 8 characters from LONGREELNAME_01
        ("LONGREEL", "05:00:00:02", "05:00:00:10", "01:00:04:00", "01:00:04:08", []),
        # 6: C0001 on two cards, told apart by the card folder as reel
        ("CARD2", "07:00:00:02", "07:00:00:10", "01:00:04:08", "01:00:04:16", ["FROM CLIP NAME:  C0001"]),
        # 7: a clip nobody copied
        ("A005R1JL", "01:00:00:00", "01:00:01:00", "01:00:04:16", "01:00:05:16",
         ["FROM CLIP NAME:  A005C001_20100611_R1JL"]),
    ])


def test_events_match_real_clips_the_way_an_assistant_editor_relinks(production, tmp_path):
    (tl,) = read_cut_list(cut(tmp_path), NTSC).timelines
    ms = match_timeline(tl, catalog_of(production))
    got = [(m.status, m.method, sorted(c.where for c in m.clips)) for m in ms]
    assert got[0] == ("matched", "clip name", ["ingest:A004R1JL/A004C010_20100610_R1JL.mov",
                                               "nas:A004R1JL/A004C010_20100610_R1JL.mov"])
    assert got[1] == ("matched", "reel and source timecode", ["ingest:A004R1JL/A004C011_20100610_R1JL.mov"])
    assert got[2][:2] == ("matched", "file name") and len(got[2][2]) == 2  # the card copy and the cut copy
    assert got[3] == ("matched", "clip name", ["ingest:B001R2EC/B001C003_141024_R2EC.mov"])
    assert got[4] == ("matched", "reel and source timecode", ["ingest:misc/LONGREELNAME_01.mov"])
    assert got[5] == ("matched", "clip name and reel", ["ingest:CARD2/C0001.mov"])
    assert got[6][0] == "unmatched"
    assert ms[6].note == ("nothing is known by clip name 'A005C001_20100611_R1JL'; no known clip on reel 'A005R1JL' "
                          "covers source 01:00:00:00-01:00:00:23")


def test_same_name_same_timecode_on_two_cards_is_ambiguous_and_listed(production, tmp_path):
    cat = catalog_of(production)
    twin = clip_from_asset(*production["assets"]["card1"])  # type: ignore[index]
    cat.add(Clip("ingest", "CARD3/C0001.mov", "C0001.mov", size=twin.size + 1, rate=NTSC, start=tc_to_frames(
        "06:00:00:00", NTSC) + 0, duration=48, reels=("CARD3",)))
    cat.add(Clip("ingest", "CARD4/C0001.mov", "C0001.mov", rate=NTSC, start=tc_to_frames("06:00:00:01", NTSC),
                 duration=48))
    ev = Event(1, "V", "video", 0, 8, tc_to_frames("06:00:00:02", NTSC), tc_to_frames("06:00:00:10", NTSC), NTSC,
               clip_name="C0001")
    m = match_event(ev, cat)
    assert m.status == "ambiguous"
    assert sorted(c.where for c in m.clips) == ["ingest:CARD1/C0001.mov", "ingest:CARD3/C0001.mov",
                                                "ingest:CARD4/C0001.mov"]
    assert "one of 2 different clips" in m.note  # CARD1 and CARD3 share name and timecode: copies
    # the reel tells them apart when the cut list gives it
    m = match_event(Event(1, "V", "video", 0, 8, ev.source_in, ev.source_out, NTSC, clip_name="C0001",
                          reel="CARD4"), cat)
    assert (m.status, [c.where for c in m.clips]) == ("matched", ["ingest:CARD4/C0001.mov"])


def test_conform_report_offline_failing_range_rate_and_summary_by_reel(production, tmp_path):
    (tl,) = read_cut_list(cut(tmp_path), NTSC).timelines
    assets = production["assets"]
    ms = match_timeline(tl, catalog_of(production))
    open_findings = {("nas", "A004R1JL/A004C012_20100610_R1JL.mov"): [("sanity.truncated", "blocker")],
                     ("ingest", "A004R1JL/A004C010_20100610_R1JL.mov"): [("naming.field", Severity.WARNING)]}
    report = conform(tl, ms, lambda v, p: open_findings.get((v, p), []))
    by_rule = {}
    for issue in report.issues:
        by_rule.setdefault(issue.rule, []).append(issue)
    assert set(by_rule) == {"conform.offline", "conform.media_error", "conform.source_range", "conform.frame_rate"}
    (offline,) = by_rule["conform.offline"]
    assert offline.message == ("A005C001_20100611_R1JL is offline: used in 1 event (record 01:00:04:16); nothing is "
                               "known by clip name 'A005C001_20100611_R1JL'; no known clip on reel 'A005R1JL' covers "
                               "source 01:00:00:00-01:00:00:23")
    assert offline.events == (7,) and offline.owner == "editorial" and offline.fix
    (failing,) = by_rule["conform.media_error"]
    assert failing.message == ("1 event (record 01:00:02:00) uses A004C012_20100610_R1JL.mov, which has open "
                               "problems: sanity.truncated (blocker) on nas:A004R1JL/A004C012_20100610_R1JL.mov")
    (short,) = by_rule["conform.source_range"]
    assert short.message == ("event 4 uses 04:00:00:12-04:00:01:11 of B001C003_141024_R2EC.mov, which runs "
                             "04:00:00:00-04:00:00:23: 12 frames have no media")
    (rate,) = by_rule["conform.frame_rate"]
    assert "B001C003_141024_R2EC.mov at 25 fps in a 23.976 (24000/1001) fps timeline" in rate.message
    s = report.summary
    assert s.text() == ("AGM_104_R2_v12.edl: 7 events, 1 offline, 2 failing (1 with media errors, 1 past the "
                        "clip's end, 1 at another frame rate)")
    assert s.by_reel["A004R1JL"].events == 3 and s.by_reel["A004R1JL"].failing == 1
    assert s.reel_lines()[0] == "A004R1JL: 3 events (1 failing)"
    # each issue is a finding on the cut list file
    asset = Asset("nas", "/nas", "Editorial/AGM_104_R2_v12.edl", 100, 1)
    f = offline.finding(asset)
    assert f.rule == "conform.offline" and f.severity == Severity.ERROR and f.details["events"] == (7,)
    assert report.worst == Severity.ERROR
    _ = assets


def test_offline_when_every_copy_has_gone(production, tmp_path):
    (tl,) = read_cut_list(cut(tmp_path), NTSC).timelines
    cat = catalog_of(production)
    for rel in ("A004R1JL/A004C011_20100610_R1JL.mov",):
        clip = next(c for c in cat.by_name(rel.rsplit("/", 1)[1]))
        cat.add(Clip(**{**{f: getattr(clip, f) for f in Clip.__slots__}, "present": False}))  # type: ignore[arg-type]
    report = conform(tl, match_timeline(tl, cat))
    msg = next(i.message for i in report.issues if i.rule == "conform.offline" and 2 in i.events)
    assert msg == ("A004C011_20100610_R1JL.mov is offline: used in 1 event (record 01:00:01:00); its copies are gone "
                   "or their volumes are not mounted: ingest:A004R1JL/A004C011_20100610_R1JL.mov")


def test_impact_text_names_the_cut_the_records_and_the_vfx_shot(production, tmp_path):
    cat = catalog_of(production)
    name = "FROM CLIP NAME:  A004C010_20100610_R1JL"
    cut_list = edl(tmp_path / "AGM_104_R2_v12.edl", "AGM_104_R2_v12", [
        ("A004R1JL", "01:00:00:04", "01:00:00:10", "01:02:03:04", "01:02:03:10", [name]),
        ("A004R1JL", "01:00:00:20", "01:00:01:00", "01:05:10:00", "01:05:10:04", [name]),
        ("A004R1JL", "01:00:01:00", "01:00:01:10", "01:07:22:12", "01:07:22:22", [name])])
    pull = edl(tmp_path / "AGM_104_VFX_pull_v03.edl", "AGM_104 VFX pulls", [
        ("A004R1JL", "01:00:00:00", "01:00:01:23", "01:00:00:00", "01:00:01:23",
         [name.replace("NAME:  ", "NAME:  "), "LOC: 01:00:00:00 YELLOW AGM_104_065_010 comp"])])
    uses = []
    for path in (cut_list, pull):
        (tl,) = read_cut_list(path, NTSC).timelines
        uses += uses_of(tl, match_timeline(tl, cat))[("nas", "A004R1JL/A004C010_20100610_R1JL.mov")]
    assert impact_text(uses) == ("used in 3 events of AGM_104_R2_v12 (record 01:02:03:04, 01:05:10:00, "
                                 "01:07:22:12); VFX shot AGM_104_065_010 pulls it")
    assert impact_roles(uses) == ("editorial", "vfx")
    assert impact_text([]) == "" and impact_roles([]) == ()


def test_sound_by_scene_and_take_from_real_bwf():
    root = corpus_path("media", "wavinfo")
    clips = []
    for rel in ("sounddevices/A101_3.WAV", "sounddevices/A101_4.WAV", "protools/PT A101_4.A1.wav",
                "metacorder/Sr001-2C-01_01.WAV"):
        st = (root / rel).stat()
        asset = Asset("sound", str(root), rel, st.st_size, st.st_mtime_ns)
        clips.append(clip_from_asset(asset, Facts.from_mapping(facts_for_file(str(root / rel))),
                                     base_rate=NTSC))
    a101_4 = clips[1]
    assert (a101_4.scene, a101_4.take, a101_4.roll, a101_4.tc_range()) == ("A101", "4", "18Y12M31",
                                                                           "12:40:15:00-12:40:17:23")
    cat = MemoryCatalog(clips)
    src = tc_to_frames("12:40:15:10", NTSC)
    # an AAF sound event carries scene and take but names the clip its own way
    ev = Event(1, "A1", "audio", 0, 10, src, src + 10, NTSC, clip_name="Sc A101 Tk 4 mix", scene="A101", take="4",
               reel="18Y12M31")
    m = match_event(ev, cat)
    # the Sound Devices original and Pro Tools' re-export are the same take at the same timecode: listed
    assert m.status == "ambiguous" and m.method == "reel and source timecode"
    assert sorted(c.name for c in m.clips) == ["A101_4.WAV", "PT A101_4.A1.wav"]
    # the same take recorded on a second roll at the same timecode: the event's roll decides
    cat.add(Clip(**{**{f: getattr(a101_4, f) for f in Clip.__slots__},  # type: ignore[arg-type]
                    "relpath": "roll2/A101_4b.WAV", "name": "A101_4b.WAV", "roll": "SR002"}))
    ev2 = Event(1, "A1", "audio", 0, 10, src, src + 10, NTSC, clip_name="Sc A101 Tk 4 mix", scene="A101", take="4",
                reel="SR002")
    m = match_event(ev2, cat)
    assert (m.status, m.method, [c.name for c in m.clips]) == (
        "matched", "reel and source timecode", ["A101_4b.WAV"])  # SR002 is that file's roll, and a reel name
    # by its own name an EDL sound event is decisive
    m = match_event(Event(1, "A1", "audio", 0, 10, src, src + 10, NTSC, clip_name="A101_4", reel="18Y12M31"), cat)
    assert (m.status, m.method, m.clip.name) == ("matched", "clip name", "A101_4.WAV")
    # MetaCorder's roll-scene-take name, by scene and take read from the clip name
    mc = clips[3]
    assert (mc.scene, mc.take, mc.roll) == ("2C", "01", "Sr001")
    assert mc.start is not None
    ev = Event(1, "A1", "audio", 0, 10, mc.start + 2, mc.start + 12, NTSC, clip_name="Sr001-2C-1_mix", reel="Sr001")
    assert match_event(ev, cat).clip.name == "Sr001-2C-01_01.WAV"
    # picture never relinks to a sound file
    pic = Event(1, "V", "video", 0, 10, src, src + 10, NTSC, clip_name="A101_4")
    assert match_event(pic, cat).status == "unmatched"


def test_image_sequences_by_base_and_frame_range(tmp_path):
    vfx = tmp_path / "vfx"
    mediagen.make_image_sequence(vfx / "ZZ100_501", "ZZ100_501.take_1", "exr", 1, 40, width=32, height=18)
    _, (seq_asset,) = folder_assets("vfx", str(vfx), "ZZ100_501")
    assert seq_asset.relpath == "ZZ100_501/ZZ100_501.take_1.1-40#.exr"
    clip = clip_from_asset(seq_asset, None)
    assert clip.kind == "sequence" and clip.frames == (1, 40)
    cat = MemoryCatalog([clip])
    (tl,) = read_cut_list(DATA / "otio-cmx3600-adapter" / "avid_example.edl", NTSC).timelines
    first, second = match_timeline(tl, cat)
    assert (first.status, first.method, first.clip.where) == ("matched", "image sequence", seq_asset and
                                                              "vfx:ZZ100_501/ZZ100_501.take_1.1-40#.exr")
    assert second.status == "unmatched"
    # frame ranges: an event that needs frames 30-50 of a 1-40 sequence runs 10 frames short
    from reelwatch.timeline import SeqRef
    ev = Event(3, "V", "video", 0, 21, 0, 21, Fraction(24), clip_name="x",
               sequence=SeqRef("ZZ100_501.take_1.", ".exr", 30, 50))
    report = conform(tl, [match_event(ev, cat)])
    (issue,) = report.issues
    assert issue.message == ("event 3 uses frames 30-50 of ZZ100_501.take_1.1-40#.exr, which holds frames 1-40: "
                             "10 frames have no media")


def test_versions_differ_by_events_added_removed_trimmed_and_moved(tmp_path):
    n = "FROM CLIP NAME:  "
    v11 = edl(tmp_path / "AGM_104_R2_v11.edl", "AGM_104_R2_v11", [
        ("A004R1JL", "01:00:00:00", "01:00:01:00", "01:00:00:00", "01:00:01:00", [n + "A004C010"]),
        ("A004R1JL", "02:00:00:00", "02:00:01:00", "01:00:01:00", "01:00:02:00", [n + "A004C011"]),
        ("A004R1JL", "03:00:00:00", "03:00:01:00", "01:00:02:00", "01:00:03:00", [n + "A004C012"]),
        ("B001R2EC", "04:00:00:00", "04:00:01:00", "01:00:03:00", "01:00:04:00", [n + "B001C003"])])
    v12 = edl(tmp_path / "AGM_104_R2_v12.edl", "AGM_104_R2_v12", [
        ("A004R1JL", "01:00:00:00", "01:00:01:00", "01:00:00:00", "01:00:01:00", [n + "A004C010"]),
        ("A004R1JL", "03:00:00:00", "03:00:01:00", "01:00:01:00", "01:00:02:00", [n + "A004C012"]),
        ("B001R2EC", "04:00:00:00", "04:00:01:12", "01:00:02:00", "01:00:03:12", [n + "B001C003"]),
        ("A005R1JL", "01:00:00:00", "01:00:00:12", "01:00:03:12", "01:00:04:00", [n + "A005C001"])])
    (old,) = read_cut_list(v11, NTSC).timelines
    (new,) = read_cut_list(v12, NTSC).timelines
    d = diff(old, new)
    assert d.text() == "AGM_104_R2_v12.edl against AGM_104_R2_v11.edl: 1 added, 1 removed, 1 trimmed, 1 moved; " \
                       "1 unchanged"
    kinds = {c.kind: c.what for c in d.changes}
    assert kinds["added"] == "A005C001 at record 01:00:03:12 (source 01:00:00:00-01:00:00:11)"
    assert kinds["removed"] == "A004C011 at record 01:00:01:00 (source 02:00:00:00-02:00:00:23)"
    assert kinds["moved"] == "A004C012: record 01:00:02:00 became 01:00:01:00"
    assert kinds["trimmed"] == ("B001C003: source 04:00:00:00-04:00:00:23 became 04:00:00:00-04:00:01:11, record "
                                "01:00:03:00 became 01:00:02:00")
    assert diff(new, new).text().endswith("no change in events; 4 unchanged")


def test_a_new_clip_finds_the_events_waiting_for_it(production, tmp_path):
    (tl,) = read_cut_list(cut(tmp_path), NTSC).timelines
    cat = catalog_of(production, "long", "a011")
    ms = match_timeline(tl, cat)
    waiting = [m.event for m in ms if m.status != "matched"]
    assert [e.number for e in waiting] == [2, 5, 7]
    arrived = clip_from_asset(*production["assets"]["long"])  # type: ignore[index]
    # what the store does: events whose wanted keys meet the new clip's keys are matched again
    assert [e.number for e in waiting if relevant(arrived, e)] == [5]
    assert ("reel8", "longreel") in keys_for(arrived) and ("reel8", "longreel") in wanted_keys(waiting[1])
    cat.add(arrived)
    assert match_event(waiting[1], cat).status == "matched"
    a011 = clip_from_asset(*production["assets"]["a011"])  # type: ignore[index]
    assert [e.number for e in waiting if relevant(a011, e)] == [2]  # by its ARRI tape name A004R1JL


class CountingCatalog:
    """Any scan would need to iterate; this catalog only answers keyed lookups, and counts them."""

    def __init__(self, inner: MemoryCatalog) -> None:
        self.inner, self.calls = inner, 0

    def __getattr__(self, name: str):  # by_name, by_reel ...
        method = getattr(self.inner, name)

        def call(*a: object) -> object:
            self.calls += 1
            return method(*a)
        return call


def test_matching_is_a_few_indexed_lookups_per_event(production, tmp_path):
    (tl,) = read_cut_list(cut(tmp_path), NTSC).timelines
    counting = CountingCatalog(catalog_of(production))
    match_timeline(tl, counting)  # type: ignore[arg-type]
    assert counting.calls <= 12 * len(tl.events)


def test_memory_catalog_add_replace_remove_and_reel_prefix():
    c = Clip("v", "a/LONGREELNAME_01.mov", "LONGREELNAME_01.mov")
    cat = MemoryCatalog([c, Clip("v", "b/LONGREELNAME_01.mov", "LONGREELNAME_01.mov")])
    assert len(cat) == 2 and len(cat.by_name("longreelname_01.MOV")) == 2
    assert len(cat.by_reel("LONGREEL")) == 2 and cat.by_reel("LONGREE") == []  # prefixes only at the 8-char limit
    cat.add(Clip("v", "a/LONGREELNAME_01.mov", "LONGREELNAME_01.mov", present=False))
    assert len(cat) == 2 and sorted(x.present for x in cat.by_name("LONGREELNAME_01.mov")) == [False, True]
    cat.remove("v", "a/LONGREELNAME_01.mov")
    cat.remove("v", "b/LONGREELNAME_01.mov")
    cat.remove("v", "nothing")
    assert len(cat) == 0 and cat.by_reel("LONGREEL") == [] and cat.by_stem("LONGREELNAME_01") == []
    assert os.sep == "/"


def test_sql_catalog_on_the_proposed_tables_matches_like_the_memory_one(production, tmp_path):
    import sqlite3

    from reelwatch.timeline import SqlCatalog
    from reelwatch.timeline.sqlcatalog import _SELECT
    db = sqlite3.connect(tmp_path / "state.db")
    sql = SqlCatalog(db, create=True)
    mem = catalog_of(production)
    sql.put_many(clip_from_asset(a, f) for a, f in production["assets"].values())  # type: ignore[union-attr]
    db.commit()
    (tl,) = read_cut_list(cut(tmp_path), NTSC).timelines
    assert match_timeline(tl, sql) == match_timeline(tl, mem)
    plan = " ".join(str(r) for r in db.execute("EXPLAIN QUERY PLAN " + _SELECT, ("reel", "x")))
    assert "SCAN" not in plan and "USING PRIMARY KEY" in plan
    sql.set_present("ingest", "A004R1JL/A004C011_20100610_R1JL.mov", False)
    assert match_timeline(tl, sql)[1].clip.present is False
    sql.put(Clip("ingest", "A004R1JL/A004C011_20100610_R1JL.mov", "A004C011_20100610_R1JL.mov"))  # replaced
    assert db.execute("SELECT count(*) FROM clips WHERE relpath LIKE '%C011%'").fetchone() == (1,)
    sql.remove("ingest", "A004R1JL/A004C011_20100610_R1JL.mov")
    assert sql.by_name("A004C011_20100610_R1JL.mov") == []
    assert db.execute("SELECT count(*) FROM clip_keys WHERE clip NOT IN (SELECT id FROM clips)").fetchone() == (0,)


def test_conform_rules_are_documented_in_docs_rules_md():
    from reelwatch.timeline import rule_infos
    doc = (Path(__file__).resolve().parents[1] / "docs" / "rules.md").read_text()
    infos = rule_infos()
    assert {i.id for i in infos} == {"conform.unreadable", "conform.cut_list_rate", "conform.offline",
                                     "conform.ambiguous", "conform.media_error", "conform.source_range",
                                     "conform.frame_rate"}
    missing = [i.id for i in infos if f"| `{i.id}` |" not in doc]
    assert not missing, f"rules missing from docs/rules.md: {missing}"
    assert all(i.summary and i.example and i.owner for i in infos)


def test_stored_timelines_versions_uses_and_waiting_events(production, tmp_path):
    import sqlite3

    from reelwatch.timeline import SqlCatalog, SqlTimelines
    db = sqlite3.connect(tmp_path / "state.db")
    clips, store = SqlCatalog(db, create=True), SqlTimelines(db, create=True)
    clips.put_many(clip_from_asset(a, f) for k, (a, f) in production["assets"].items()  # type: ignore[union-attr]
                   if k != "long")
    n = "FROM CLIP NAME:  A004C010_20100610_R1JL"
    v11 = edl(tmp_path / "AGM_104_R2_v11.edl", "AGM_104_R2_v11", [
        ("A004R1JL", "01:00:00:04", "01:00:00:10", "01:00:00:00", "01:00:00:06", [n])])
    v12 = cut(tmp_path)
    for path in (v11, v12):
        (tl,) = read_cut_list(path, NTSC).timelines
        stored = store.put("nas", f"Editorial/{path.name}", tl, match_timeline(tl, clips), now=1.0)
    assert stored.current and len(stored.replaced) == 1
    uses = store.uses("nas", "A004R1JL/A004C010_20100610_R1JL.mov")
    assert [(u.timeline, u.record_in) for u in uses] == [("AGM_104_R2_v12", "01:00:00:00")]  # v11 is history
    assert impact_text(uses) == "used in 1 event of AGM_104_R2_v12 (record 01:00:00:00)"
    # a late re-export of v11 does not take over
    (old,) = read_cut_list(v11, NTSC).timelines
    late = store.put("nas", "Turnover/AGM_104_R2_v11.edl", old, match_timeline(old, clips), now=2.0)
    assert not late.current and not late.replaced
    # the clip the cut waits for arrives: its events are found at once, matched and stored
    arrived = clip_from_asset(*production["assets"]["long"])  # type: ignore[index]
    waiting = store.waiting_for(arrived)
    assert waiting == {stored.id: [5]}
    clips.put(arrived)
    tl = store.timeline(stored.id)
    rematch = [match_event(e, clips) for e in tl.events if e.number in waiting[stored.id]]
    store.rematched(stored.id, tl, rematch)
    assert store.waiting_for(arrived) == {}
    assert [u.event for u in store.uses("ingest", "misc/LONGREELNAME_01.mov")] == [5]
    store.remove("nas", "Editorial/AGM_104_R2_v12.edl")
    assert store.uses("ingest", "misc/LONGREELNAME_01.mov") == []


def test_an_event_matched_by_reel_alone_is_taken_over_by_the_clip_it_names(production, tmp_path):
    """Before A004C012 is on a volume, its event is matched by reel and timecode to another
    clip that covers the same source; when A004C012 itself arrives, it takes the event over."""
    import sqlite3

    from reelwatch.timeline import SqlCatalog, SqlTimelines
    db = sqlite3.connect(tmp_path / "state.db")
    clips, store = SqlCatalog(db, create=True), SqlTimelines(db, create=True)
    asset, facts = production["assets"]["a012"]  # type: ignore[index]
    other = clip_from_asset(Asset(asset.volume, asset.root, "A004R1JL/A004C099_20100610_R1JL.mov", asset.size,
                                  asset.mtime_ns), facts)
    clips.put(other)
    path = edl(tmp_path / "AGM_104_R2_v12.edl", "AGM_104_R2_v12", [
        ("A004R1JL", "03:00:00:00", "03:00:01:00", "01:00:00:00", "01:00:01:00",
         ["FROM CLIP NAME:  A004C012_20100610_R1JL"])])
    (tl,) = read_cut_list(path, NTSC).timelines
    stored = store.put("nas", "AGM_104_R2_v12.edl", tl, match_timeline(tl, clips))
    assert [u.event for u in store.uses(other.volume, other.relpath)] == [1]  # by reel and timecode, for now
    named = clip_from_asset(asset, facts)
    assert store.waiting_for(named) == {stored.id: [1]}
    assert store.waiting_for(other) == {}  # a reel-mate does not wake the event
    clips.put(named)
    store.rematched(stored.id, tl, [match_event(tl.events[0], clips)])
    assert store.uses(other.volume, other.relpath) == []
    assert [u.event for u in store.uses(named.volume, named.relpath)] == [1]
    assert store.waiting_for(named) == {}
