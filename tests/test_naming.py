"""Naming conventions: template engine, presets on real-world names, config, and the plugin end to end."""

from __future__ import annotations

import csv
import io
import os
import re
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from reelwatch.core.config import ConfigError, build_config
from reelwatch.core.manager import PluginManager, load_plugin_file
from reelwatch.core.model import Asset, Facts, SequenceInfo
from reelwatch.naming import (FIELDS, PRESETS, TemplateError, compile_convention, preset_convention, quote,
                              sanitize)

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"
PLUGIN = ROOT / "plugins" / "naming.py"
VFX = "{show}_{seq}_{shot}_{task}_v{version:03d}.{ext}"


def corpus(*parts: str) -> Path:
    path = CORPUS.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"corpus not available: {path}")
    return path


@pytest.fixture(scope="module")
def pm() -> PluginManager:
    manager = PluginManager()
    manager.load(entry_points=False)
    assert "naming" in manager.plugin_names(), manager.load_errors
    return manager


def make_config(pm: PluginManager, apply: list[dict[str, Any]], root: Path = Path("/tmp")) -> Any:
    raw = {"volumes": [{"name": "ingest", "path": str(root / "ingest"), "owner": "dit"},
                       {"name": "delivery", "path": str(root / "delivery"), "kind": "delivery"}],
           "rules": {"naming": {"apply": apply}}}
    config = build_config(raw, sections=pm.config_sections())
    pm.hook.configure.call_historic(kwargs={"config": config})
    return config


def asset(volume: str, relpath: str, sequence: SequenceInfo | None = None, root: str = "/tmp") -> Asset:
    return Asset(volume=volume, root=root, relpath=relpath, size=1, mtime_ns=1, sequence=sequence)


def naming_findings(pm: PluginManager, a: Asset, config: Any, facts: Facts | None = None) -> list[Any]:
    found = pm.check(a, facts or Facts(kind="media"), None, config)
    assert not [f for f in found if f.rule == "reelwatch.plugin_error" and f.plugin == "naming"], found
    return [f for f in found if f.rule.startswith("naming.")]


# -- template engine ---------------------------------------------------------------------------
def test_template_fields_are_flat_strings_as_written() -> None:
    conv = compile_convention(VFX)
    assert conv.fields("AGM_TCC_0010_comp_v003.mov") == {
        "show": "AGM", "seq": "TCC", "shot": "0010", "task": "comp", "version": "003", "ext": "mov"}
    assert conv.version_padding() == 3
    assert compile_convention("{show}_{shot}_v{version}.{ext}").version_padding() is None
    assert conv.fields("AGM_TCC_0010_comp_v03.mov") is None
    assert conv.fields("AGM_TCC_0010_comp_v1000.mov")["version"] == "1000"  # printf: 03d writes 1000
    assert conv.example == "ABC_TCC_0010_comp_v001.exr"


def test_field_overrides_inline_and_by_config() -> None:
    inline = compile_convention("{show}_{shot:[0-9]{4}}.{ext}")
    assert inline.fields("AGM_0010.mov") and inline.fields("AGM_010.mov") is None
    mapped = compile_convention("{show}_{shot}.{ext}", fields={"shot": "05d"})
    assert mapped.fields("AGM_00010.mov") and mapped.fields("AGM_0010.mov") is None
    private = compile_convention("{show}_{token:[a-f0-9]{6}}.{ext}")
    assert private.match("AGM_00ff0a.mov")[1]["token"] == "00ff0a"
    assert private.fields("AGM_00ff0a.mov") == {"show": "AGM", "ext": "mov"}  # private fields are not facts


def test_optional_parts_repeated_fields_and_case() -> None:
    conv = compile_convention("{show}_{shot}[_{task}]_v{version:03d}[.{frame}].{ext}")
    assert conv.fields("AGM_010_v001.mov") == {"show": "AGM", "shot": "010", "version": "001", "ext": "mov"}
    assert conv.fields("AGM_010_comp_v001.1001.exr")["frame"] == "1001"
    reel = compile_convention("{camera}{reel}_{camera}.{ext}")
    assert reel.fields("A001_A.mov") and reel.fields("A001_B.mov") is None
    assert "must be the same both times" in reel.diagnose("A001_B.mov").problems[0].message
    loose = compile_convention(VFX, case_sensitive=False)
    assert loose.fields("agm_tcc_0010_COMP_V001.MOV") is not None


@pytest.mark.parametrize("template, problem", [
    ("{shto}_{shot}", "unknown field 'shto' (did you mean 'show' or 'shot'?)"),
    ("{show", "is not closed"),
    ("{shot:[0-9}", "is not a valid regular expression"),
    ("{shot:3d}", "write 03d"),
    ("[_{task}", "is not closed with ']'"),
    ("{show}]", "unmatched ']'"),
    ("{x:(?P<a>1)}", "must not use named groups"),
    ("{shot:a*}", "matches an empty name part"),
    ("{Show}", "must be lowercase letters"),
])
def test_template_errors_name_the_template_and_the_problem(template: str, problem: str) -> None:
    with pytest.raises(TemplateError) as err:
        compile_convention(template)
    assert repr(template) in str(err.value) and problem in str(err.value)


# -- diagnosis ----------------------------------------------------------------------------------
def test_diagnosis_names_the_field_and_the_correction() -> None:
    arri = preset_convention("arri")
    d = arri.diagnose("A004C03_20100610_R1JL.mov")
    assert [p.message for p in d.problems] == ["clip number 'C03' must be 3 digits: C003"]
    assert d.corrected == "A004C003_20100610_R1JL.mov"
    bad_date = arri.diagnose("A004C010_20101310_R1JL.mov")
    assert bad_date.problems[0].message.startswith("date '20101310' must be a real date")
    assert bad_date.corrected is None
    vfx = compile_convention(VFX)
    d = vfx.diagnose("AGM_TCC_0010_Comp_V001.mov")
    assert [p.message for p in d.problems] == ["task 'Comp' must be lowercase letters: comp",
                                               "version 'V001' must begin with lowercase 'v': v001"]
    assert d.corrected == "AGM_TCC_0010_comp_v001.mov"
    d = vfx.diagnose("AGM-TCC_10_comp_v01.mov")
    assert [(p.category, p.message) for p in d.problems] == [
        ("field", "separator '-' after show code 'AGM' must be '_'"),
        ("field", "shot number '10' must be 3 or 4 digits: 010"),
        ("version_padding", "version 'v01' must be 3 digits: v001")]
    assert d.corrected == "AGM_TCC_010_comp_v001.mov"


def test_mismatch_explains_how_far_the_name_follows() -> None:
    vfx = compile_convention(VFX)
    d = vfx.diagnose("AGM_TCC_0010.mov")
    assert not d.ok and not d.problems
    assert d.mismatch == ("it follows the convention up to 'AGM_TCC_0010', then has '.mov' where '_' "
                          "and the task should be")
    assert "does not start with the camera letter" in preset_convention("arri").diagnose("clip_1.mov").mismatch
    assert "it ends after" in preset_convention("arri").diagnose("A004C010_20100610_R1JL").mismatch


def test_hostile_names_never_crash_and_stay_data() -> None:
    conv = preset_convention("netflix_vfx_version")
    start = time.perf_counter()
    for name in ("(.*)+[" * 20, "a\nb\x00c.mov", "_" * 250, "A_" * 120 + ".exr", "é" * 50, "", ".", "{show}"):
        d = conv.diagnose(sanitize(name)[0])
        assert not d.ok and (d.problems or d.mismatch)
    assert time.perf_counter() - start < 2
    assert quote("a\nb") == "'a\\x0ab'"
    assert sanitize("Café & co.mov") == ("Cafe_co.mov", ("é", " ", "&"))


# -- presets on real-world names ------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_accepts_its_documented_names(name: str) -> None:
    preset = PRESETS[name]
    conv = preset_convention(name)
    for valid in preset.valid + (preset.example,):
        fields = conv.fields(valid)
        assert fields is not None, (valid, conv.diagnose(valid))
        assert set(fields) <= set(FIELDS) and all(isinstance(v, str) for v in fields.values())


def test_spec_examples_are_quoted_from_the_corpus_and_parse_right() -> None:
    spec = corpus("naming", "NAMING_SPECS.md").read_text()
    cases = {
        "arri": {"A004C010_20100610_R1JL": {"camera": "A", "reel": "004", "clip": "010", "date": "20100610"},
                 "A002C006_141024_R2EC": {"date": "141024"}},
        "red": {"A001_C001_12046M.RDC": {"reel": "001", "clip": "001"}, "A002_C001_0908R4_001.R3D": {"reel": "002"},
                "A001_C001_070828.RDC": {"date": "070828"}},
        "canon": {"A001C001_2505193L_CANON.MXF": {"date": "250519"}},
        "sony": {"C0001.MXF": {"clip": "0001"}, "C0001S01.MXF": {"clip": "0001"}},
        "netflix_vfx_version": {"AGM_104_065_010_comp_NFX_v001": {"show": "AGM", "episode": "104", "scene": "065",
                                                                  "shot": "010", "task": "comp", "vendor": "NFX",
                                                                  "version": "001"}},
        "netflix_plate": {"AGM_104_065_010_PL01_v001.1023.exr": {"plate": "PL01", "frame": "1023"},
                          "ATBP_0A1_010_FG01_v001.01000": {"seq": "0A1", "shot": "010", "frame": "01000"}},
        "netflix_vfx_shot": {"AGM_104_TCC_065_0010": {"seq": "TCC", "scene": "065", "shot": "0010"},
                             "AGM_TCC_0010": {"seq": "TCC", "shot": "0010"}, "AGM_065_010": {"scene": "065"}},
    }
    for preset, names in cases.items():
        conv = preset_convention(preset)
        for name, expected in names.items():
            assert name in spec, name
            full = name + ".exr" if name.endswith("01000") else name
            fields = conv.fields(full if preset != "arri" else name + ".mov")
            assert fields is not None and expected.items() <= fields.items(), (name, fields)
    # the spec's own negatives: names it says are not assignable or illegal
    assert preset_convention("sony").fields("C0000.MXF") is None
    assert "C0000.MXF" in spec
    assert preset_convention("netflix_vfx_version").fields("AGM_104_065_010_comp_NFX_V001") is None


def test_ascmhl_scenario_clip_names_follow_arri() -> None:
    root = corpus("mhl", "ascmhl_scenarios")
    clips = sorted({p.name for p in root.rglob("*.mov")})
    assert len(clips) >= 4
    arri = preset_convention("arri")
    for name in clips:
        fields = arri.fields(name)
        assert fields and fields["date"] == "141024" and re.fullmatch(r"A00[23]", fields["camera"] + fields["reel"])


def test_wavinfo_names_agree_with_the_sound_report() -> None:
    folder = corpus("media", "wavinfo")
    rows = list(csv.reader(io.StringIO((folder / "WaveAgentSoundReport.csv").read_text(errors="replace"))))
    header = next(i for i, r in enumerate(rows) if r and r[0] == "File Name")
    cols = rows[header]
    report = {r[0]: dict(zip(cols, r, strict=False)) for r in rows[header + 1:] if r and r[0].upper().endswith(".WAV")}
    sound = preset_convention("sound")
    checked = 0
    for name, row in report.items():
        if " " in name:  # 'PT A101_4.A1.wav', a Pro Tools export, and a library effect: not recorder names
            assert sound.fields(name) is None
            continue
        fields = sound.fields(name)
        assert fields is not None, (name, sound.diagnose(name))
        assert fields["scene"] == row["Scene"] and int(fields["take"]) == int(row["Take"]), (name, fields, row)
        if fields.get("reel"):
            assert fields["reel"] == row["Tape"]
        checked += 1
    assert checked >= 6
    on_disk = {p.name for p in folder.rglob("*") if p.suffix.lower() == ".wav"}
    assert {"A101_3.WAV", "A101_4.WAV", "Sr001-2C-01_01.WAV", "Scene_1_2AG-T001_Tr1.WAV"} <= on_disk
    for name in ("A101_3.WAV", "A101_4.WAV", "Sr001-2C-01_01.WAV", "Scene_1_2AG-T001_Tr1.WAV"):
        assert sound.fields(name)
    for name in ("PT A101_4.A1.wav", "wavinfo Test Project - Audio - 5.1.wav"):
        assert name in on_disk and sanitize(name)[1] == (" ",)


# -- config --------------------------------------------------------------------------------------
@pytest.mark.parametrize("entry, message", [
    ({"preset": "ari"}, "rules.naming.apply[0].preset: unknown preset 'ari' (did you mean 'arri'?)"),
    ({"template": "{shto}_{v}"}, "rules.naming.apply[0].template: template '{shto}_{v}': unknown field 'shto'"),
    ({"template": VFX, "preset": "arri"}, "rules.naming.apply[0]: give either preset"),
    ({"glob": "VFX/**"}, "rules.naming.apply[0]: give either preset"),
    ({"preset": "arri", "fields": {"clip": "[0-9"}}, "rules.naming.apply[0].fields: field 'clip': pattern '[0-9'"),
    ({"preset": "arri", "colour": 1}, "rules.naming.apply[0].colour: unknown key"),
    ({"template": "{show}_{id}.{ext}", "fields": {"ide": "[0-9]+"}}, "unknown field 'id'"),
])
def test_config_errors_are_precise(pm: PluginManager, entry: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        make_config(pm, [entry])
    assert any(p.startswith(message) or message in p for p in err.value.problems), err.value.problems


def test_private_field_pattern_may_come_from_the_config_map(pm: PluginManager) -> None:
    config = make_config(pm, [{"template": "{show}_{id}.{ext}", "fields": {"id": "[0-9]{3}"}}])
    assert config.rules["naming"].apply[0].convention.fields("AGM_123.mov") == {"show": "AGM", "ext": "mov"}
    listed = make_config(pm, [{"template": [VFX, "{show}_{shot}.{ext}"], "volume": "delivery"}])
    conv = listed.rules["naming"].apply[0].convention
    assert conv.fields("AGM_010.mov") == {"show": "AGM", "shot": "010", "ext": "mov"}
    assert pm.collect(asset("delivery", "x/AGM_010.mov"), Facts(kind="media"), listed)[0]["naming"] == {
        "template": f"{VFX} | {{show}}_{{shot}}.{{ext}}", "version_padding": None}


# -- plugin hooks ---------------------------------------------------------------------------------
def test_rules_are_documented(pm: PluginManager) -> None:
    module = load_plugin_file(PLUGIN)
    ids = {r.id for r in module.rules()}
    assert ids == {"naming.mismatch", "naming.field", "naming.version_padding", "naming.frame_padding",
                   "naming.characters", "naming.path_length"}
    assert ids <= {r.id for r in pm.rule_infos()}
    doc = (ROOT / "docs" / "rules.md").read_text()
    for rid in ids:
        assert f"| `{rid}` |" in doc
    assert set(module.config_sections()) == {"naming"}


def test_collect_contract_and_scoping(pm: PluginManager) -> None:
    config = make_config(pm, [
        {"volume": "ingest", "glob": "Camera Media/**", "preset": "arri"},
        {"volume": "delivery", "glob": "VFX/**", "template": VFX},
    ])
    derived, errors = pm.collect(asset("delivery", "VFX/AGM_TCC_0010_comp_v003.mov"), Facts(kind="media"), config)
    assert not errors
    assert derived["fields"] == {"show": "AGM", "seq": "TCC", "shot": "0010", "task": "comp", "version": "003",
                                 "ext": "mov"}
    assert derived["naming"] == {"template": VFX, "version_padding": 3}
    derived, _ = pm.collect(asset("ingest", "Camera Media/A002R2EC/Clips/A002C006_141024_R2EC.mov"),
                            Facts(kind="media"), config)
    assert derived["naming"] == {"template": "arri", "version_padding": None} and derived["fields"]["clip"] == "006"
    broken, _ = pm.collect(asset("delivery", "VFX/AGM_TCC_0010_comp_v3.mov"), Facts(kind="media"), config)
    assert "fields" not in broken and broken["naming"]["version_padding"] == 3
    for outside in (asset("ingest", "Camera Media/A002R2EC/Sidecar.txt"), asset("delivery", "Other/x y.mov"),
                    asset("delivery", "VFX/ascmhl/0001_VFX_2020-01-16_091500Z.mhl"),
                    asset("ingest", "VFX/AGM_TCC_0010_comp_v3.mov")):
        assert "naming" not in pm.collect(outside, Facts(kind="media"), config)[0]
        assert naming_findings(pm, outside, config) == []


def test_owner_follows_preset_volume_kind_and_entry(pm: PluginManager) -> None:
    config = make_config(pm, [
        {"volume": "ingest", "glob": "Sound/**", "preset": "sound"},
        {"volume": "ingest", "glob": "Cards/**", "template": "{camera}{reel:03d}.{ext}"},
        {"volume": "delivery", "glob": "VFX/**", "template": VFX},
        {"volume": "delivery", "glob": "Conform/**", "template": "{show}_{episode}.{ext}"},
        {"volume": "delivery", "glob": "Plates/**", "preset": "netflix_plate", "owner": "vfx",
         "impacts": ["editorial", "colour"]},
    ])
    cases = {("ingest", "Sound/S001/a101-4.wav"): ("sound", ("editorial",), "Do not rename"),
             ("ingest", "Cards/A01.mov"): ("dit", ("editorial", "vfx"), "Do not rename"),
             ("delivery", "VFX/AGM_TCC_0010_comp_v01.mov"): ("vfx", ("editorial",), "Rename it to"),
             ("delivery", "Conform/AGM_1.mov"): ("editorial", ("vfx",), "Rename it to"),
             ("delivery", "Plates/AGM_104_065_010_PL1_v001.1001.exr"): ("vfx", ("editorial", "colour"), "Rename")}
    for (volume, rel), (owner, impacts, fix) in cases.items():
        found = naming_findings(pm, asset(volume, rel), config)
        assert found, rel
        for f in found:
            assert (f.owner, f.impacts) == (owner, impacts) and f.fix.startswith(fix), (rel, f)
            assert f.expected and f.impact and f.severity.label == "error"


def test_characters_and_path_length(pm: PluginManager) -> None:
    config = make_config(pm, [{"volume": "delivery", "template": VFX, "max_path_length": 40}])
    found = {f.rule: f for f in naming_findings(pm, asset("delivery", "VFX/long folder name/AGM TCC_0010_comp_v1.mov"),
                                                  config)}
    assert set(found) == {"naming.path_length", "naming.characters"}  # one name, one finding
    assert found["naming.characters"].message == ("'AGM TCC_0010_comp_v1.mov' contains a space, which file "
                                                   "names must not use; read as 'AGM_TCC_0010_comp_v1.mov': "
                                                   "version 'v1' must be 3 digits: v001")
    assert found["naming.characters"].fix == "Rename it to AGM_TCC_0010_comp_v001.mov and deliver it again"
    assert found["naming.path_length"].message == ("the path is 45 characters long, over the limit of 40: "
                                                       "'VFX/long folder name/AGM TCC_0010_comp_v1.mov'")
    quiet = make_config(pm, [{"volume": "delivery", "template": "{show}_{shot}.{ext}", "check_characters": False,
                              "fields": {"show": "[A-Z ]+"}}])
    assert naming_findings(pm, asset("delivery", "MY SHOW_010.mov"), quiet) == []


# -- end to end with generated media ----------------------------------------------------------------
def test_end_to_end_camera_sound_and_sequence(pm: PluginManager, tmp_path: Path) -> None:
    mediagen = pytest.importorskip("reelwatch.demo.mediagen")
    if not mediagen.have_pyav():
        pytest.skip("PyAV is not installed")
    from reelwatch.probe.pool import facts_for_file, facts_for_sequence
    from reelwatch.core.sequences import folder_assets

    ingest, delivery = tmp_path / "ingest", tmp_path / "delivery"
    clips = ingest / "Camera Media" / "A002R2EC" / "Clips"
    good = mediagen.make_clip(clips / "A002C006_141024_R2EC.mov", codec="prores_422", width=320, height=180,
                              rate=Fraction(24000, 1001), frames=2, audio_channels=0)
    bad = mediagen.make_clip(clips / "A002C07_141024_R2EC.mov", codec="prores_422", width=320, height=180,
                             rate=Fraction(24000, 1001), frames=2, audio_channels=0)
    take = mediagen.make_wav(ingest / "Sound Media" / "S001" / "A101_4.WAV", seconds=0.1)
    spaced = mediagen.make_wav(ingest / "Sound Media" / "S001" / "Scene 1 take 2.wav", seconds=0.1)
    plates = delivery / "Plates" / "AGM_104_065_010_PL01_v002"
    mediagen.make_image_sequence(plates, "AGM_104_065_010_PL01_v002", ext="dpx", first=101, last=103,
                                 width=64, height=36, padding=3)
    config = make_config(pm, [{"volume": "ingest", "glob": "Camera Media/**", "preset": "arri"},
                              {"volume": "ingest", "glob": "Sound Media/**", "preset": "sound"},
                              {"volume": "delivery", "glob": "Plates/**", "preset": "netflix_plate"}], tmp_path)

    def file_asset(volume: str, path: Path) -> tuple[Asset, Facts]:
        root = tmp_path / volume
        st = os.stat(path)
        a = Asset(volume, str(root), path.relative_to(root).as_posix(), st.st_size, st.st_mtime_ns)
        return a, Facts.from_mapping(facts_for_file(str(path)))

    a, facts = file_asset("ingest", good)
    assert facts.kind == "media"
    derived, _ = pm.collect(a, facts, config)
    assert derived["fields"] == {"camera": "A", "reel": "002", "clip": "006", "date": "141024", "ext": "mov"}
    assert naming_findings(pm, a, config, facts.with_derived(derived)) == []
    a, facts = file_asset("ingest", bad)
    [finding] = naming_findings(pm, a, config, facts)
    assert (finding.rule, finding.owner, finding.impacts) == ("naming.field", "dit", ("editorial", "vfx"))
    assert finding.message == "clip number 'C07' must be 3 digits: C007"
    assert "A002C007_141024_R2EC.mov" in finding.fix and "Do not rename" in finding.fix
    assert finding.impact.startswith("Editorial cannot relink")
    a, facts = file_asset("ingest", take)
    assert pm.collect(a, facts, config)[0]["fields"] == {"scene": "A101", "take": "4", "ext": "WAV"}
    a, facts = file_asset("ingest", spaced)
    [spaced_finding] = naming_findings(pm, a, config, facts)  # one name, one finding
    assert spaced_finding.rule == "naming.characters" and "does not follow the" in spaced_finding.message

    _, seqs = folder_assets("delivery", str(delivery), plates.relative_to(delivery).as_posix())
    [seq_asset] = seqs
    paths = [str(plates / n) for n in seq_asset.sequence.frame_names]
    facts = Facts.from_mapping(facts_for_sequence(paths, list(seq_asset.sequence.frame_sizes)))
    assert facts.kind == "image_sequence"
    derived, _ = pm.collect(seq_asset, facts, config)
    assert "fields" not in derived
    [finding] = naming_findings(pm, seq_asset, config, facts)
    assert finding.rule == "naming.frame_padding" and finding.owner == "editorial"
    assert finding.message == ("frame number '101' must be 4 or more digits: 0101 "
                               "(every frame of this sequence is named so)")
    assert "AGM_104_065_010_PL01_v002.0101.dpx" in finding.fix


def test_sequence_without_frame_field_judges_base_name(pm: PluginManager) -> None:
    config = make_config(pm, [{"volume": "delivery", "template": VFX}])
    info = SequenceInfo("AGM_TCC_0010_comp_v003.1001-1003#.exr", (1001, 1002, 1003), (9, 9, 9), 4,
                        ("AGM_TCC_0010_comp_v003.1001.exr", "AGM_TCC_0010_comp_v003.1002.exr",
                         "AGM_TCC_0010_comp_v003.1003.exr"))
    a = asset("delivery", "VFX/AGM_TCC_0010_comp_v003.1001-1003#.exr", info)
    assert pm.collect(a, Facts(kind="image_sequence"), config)[0]["fields"]["version"] == "003"
    assert naming_findings(pm, a, config, Facts(kind="image_sequence")) == []
    odd = asset("delivery", "VFX/???", SequenceInfo("not a pattern ###", (), (), 0, ()))
    assert {f.rule for f in naming_findings(pm, odd, config, Facts(kind="unreadable"))} <= {
        "naming.characters", "naming.mismatch"}


def test_documented_examples_are_what_the_plugin_says(pm: PluginManager) -> None:
    config = make_config(pm, [{"volume": "ingest", "glob": "Camera/**", "preset": "arri"},
                              {"volume": "ingest", "glob": "Sound/**", "preset": "sound"},
                              {"volume": "delivery", "template": VFX}])
    cases = {"naming.mismatch": ("ingest", "Camera/clip_1.mov"),
             "naming.field": ("ingest", "Camera/A004C03_20100610_R1JL.mov"),
             "naming.characters": ("ingest", "Sound/A101 4.wav"),
             "naming.version_padding": ("delivery", "VFX/AGM_TCC_0010_comp_v01.mov")}
    examples = {r.id: r.example for r in load_plugin_file(PLUGIN).rules()}
    doc = (ROOT / "docs" / "rules.md").read_text()
    for rid, (volume, rel) in cases.items():
        said = {f.rule: f.message for f in naming_findings(pm, asset(volume, rel), config)}
        assert said[rid] == examples[rid], rid
        assert said[rid] in doc, rid


def test_real_sequence_trees_from_pyseq(pm: PluginManager) -> None:
    from reelwatch.core.sequences import folder_assets

    folder = corpus("naming", "pyseq_tests_files")
    config = make_config(pm, [
        {"volume": "ingest", "glob": "012_*", "template": "{scene}_{task}_{shot}_v{version:03d}.{frame:04d}.{ext}",
         "fields": {"scene": "[0-9]{3}", "shot": "[0-9]{3}"}},
        {"volume": "ingest", "glob": "a.*", "template": "{task}.{frame:04d}.{ext}"},
    ], folder.parent)
    _, assets = folder_assets("ingest", str(folder), "")
    by_name = {a.relpath: a for a in assets}
    versions = []
    for pattern in ("012_vb_110_v001.1-10#.png", "012_vb_110_v002.1-10#.png"):
        a = by_name[pattern]
        derived, _ = pm.collect(a, Facts(kind="image_sequence"), config)
        versions.append(derived["fields"]["version"])
        assert "frame" not in derived["fields"] and derived["fields"]["shot"] == "110"
        assert naming_findings(pm, a, config, Facts(kind="image_sequence")) == []
    assert versions == ["001", "002"]
    tga = next(a for name, a in by_name.items() if name.startswith("a.") and name.endswith(".tga"))
    [finding] = naming_findings(pm, tga, config, Facts(kind="image_sequence"))
    assert finding.rule == "naming.frame_padding"
    assert finding.message.startswith("frame number '001' must be 4 digits: 0001")


def test_the_documented_config_is_valid(pm: PluginManager) -> None:
    import tomllib

    doc = (ROOT / "docs" / "rules.md").read_text()
    block = next(b for b in re.findall(r"```toml\n(.*?)```", doc, re.S) if "[[rules.naming.apply]]" in b)
    raw = tomllib.loads(block)
    config = build_config({"rules": raw["rules"]}, sections=pm.config_sections())
    entries = config.rules["naming"].apply
    assert [e.preset for e in entries] == ["arri", "sound", None] and entries[2].max_path_length == 256
    assert entries[2].convention.fields("AGM_TCC_0010_comp_v001.mov")["shot"] == "0010"
