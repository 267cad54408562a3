"""MediaConch policies (reelwatch.spec.mediaconch) against MediaConch's own tests, real archive
policies (BFI, NYPL, MediaArea) and real media: corpus files and clips generated with PyAV.
"""

from __future__ import annotations

import inspect
from collections import defaultdict
from fractions import Fraction
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
from lxml import etree
from pymediainfo import MediaInfo

from reelwatch.demo import mediagen
from reelwatch.checking.runtime import read_toml
from reelwatch.core.config import build_config
from reelwatch.core.manager import load_plugin_file
from reelwatch.spec.mediaconch import Outcome, PolicyError, describe, evaluate, file_fields, load_policy, parse_policy
from reelwatch.core.model import Asset, Facts, Severity
from reelwatch.probe.pool import facts_for_file, facts_for_sequence

# Parse by path, as MediaInfo's own CLI (and MediaConch) do: the probe's stream mode loses fields
# (see test_spec.py::test_daemon_probe_keeps_the_fields_spec_checks_need).
BY_PATH = {"noatime": False} if "noatime" in inspect.signature(facts_for_file).parameters else {}
from reelwatch.core.sequences import folder_assets
from reelwatch.spec.fields import UnsupportedField, mediainfo_value

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"
POLICIES = CORPUS / "policies"
SAMPLES = POLICIES / "mediaarea_MediaConch_SampleFiles"
BFI = POLICIES / "bfi_BFI_scripts" / "mediaconch"
NYPL = POLICIES / "nypl_ami-preservation" / "ami_scripts" / "MediaconchPolicies"
MDAT = CORPUS / "media" / "mediaarea_regression" / "mdatZeroed_Big_HeaderAtBegin.mov"
PLUGIN = load_plugin_file(ROOT / "plugins" / "spec.py")
NTSC = Fraction(24000, 1001)


def need(*paths: Path) -> None:
    for path in paths:
        if not path.exists():
            pytest.skip(f"corpus not available: {path}")


def facts(path: Path) -> Facts:
    return Facts.from_mapping(facts_for_file(str(path), **BY_PATH))


def judge(policy_path: Path, media: Path) -> object:
    """A policy evaluated as the plugin does: facts plus the file's own name and date fields."""
    return evaluate(load_policy(policy_path), facts(media), file_fields(str(media), media.stat().st_mtime_ns))


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return mediagen.make_clip(tmp_path_factory.mktemp("mc") / "A001C001.mov", codec="prores_hq", width=320,
                              height=180, rate=NTSC, frames=3)


def outcome(xml: str, fx: Facts) -> Outcome:
    return evaluate(parse_policy(xml), fx).outcome


def rule(op: str, value: str, requested: str = "", track: str = "Video", occ: str = "*", extra: str = "") -> str:
    op_attr = f' operator="{escape(op)}"' if op is not None else ""
    return (f'<rule name="r" value="{value}" tracktype="{track}" occurrence="{occ}"{op_attr}{extra}>'
            f"{requested}</rule>")


def policy(*rules: str, kind: str = "and", level: str = "") -> str:
    lv = f' level="{level}"' if level else ""
    return f'<policy type="{kind}" name="p"{lv}>{"".join(rules)}</policy>'


# -- MediaConch's own test list -----------------------------------------------------------------

def upstream_cases() -> list[tuple[str, str, str]]:
    listing = SAMPLES / "test_policy.txt_from_MediaConch_SourceCode"
    if not listing.exists():
        return []
    return [tuple(line.split(":")) for line in listing.read_text().split() if line.count(":") == 2]


def test_upstream_test_policy_outcomes_are_reproduced():
    cases = upstream_cases()
    if not cases:
        pytest.skip("corpus not available: MediaConch test_policy.txt")
    matched, unsupported, absent, mismatched = [], [], [], []
    for pol, media, expected in cases:
        policy_path, media_path = SAMPLES / "PolicyTestFiles" / "Policy" / pol, SAMPLES / "PolicyTestFiles" / media
        if not (policy_path.exists() and media_path.exists()):
            absent.append(pol)
            continue
        result = judge(policy_path, media_path)
        if result.outcome is Outcome.UNKNOWN:
            unsupported.append((pol, [r.reason for r in result.unknown_rules()]))
        elif result.outcome.value == expected:
            matched.append(pol)
        else:
            mismatched.append((pol, media, expected, result.outcome.value))
    print(f"\nMediaConch test_policy.txt: {len(matched)}/{len(cases)} outcomes reproduced, "
          f"{len(unsupported)} not evaluable ({[p for p, _ in unsupported]}), {len(absent)} files absent")
    assert not mismatched
    assert len(matched) == 6 and [p for p, _ in unsupported] == ["mmt.xml"]
    assert "MediaTrace" in unsupported[0][1][0]


# -- operators and combination, on a generated clip -----------------------------------------------

@pytest.mark.parametrize("xml,expected", [
    (rule("=", "Format", "ProRes"), "pass"),
    (rule("=", "Format", "prores"), "fail"),                       # strings compare exactly
    (rule("!=", "Format", "VC-3"), "pass"),
    (rule("=", "Width", "320.000"), "pass"),                       # numbers compare as numbers
    (rule("<", "Width", "1000"), "pass"),
    (rule("<=", "Width", "320"), "pass"),
    (rule(">", "Width", "320"), "fail"),
    (rule(">=", "FrameRate", "23.976"), "pass"),
    (rule("=", "FrameRate_Num", "24000"), "pass"),
    (rule("=", "Format_Profile", "422 HQ"), "pass"),
    (rule("starts with", "Format_Profile", "422"), "pass"),
    (rule("must not start with", "Format_Profile", "4444"), "pass"),
    (rule("contains", "ChromaSubsampling", ":2:"), "pass"),
    (rule("must not contain", "ScanType", "Interlaced"), "pass"),
    (rule("exists", "BitRate"), "pass"),
    (rule(None, "BitRate"), "pass"),                               # no operator means exists
    (rule("must not exist", "INVALIDFIELD"), "pass"),
    (rule("does_not_exist", "Width"), "fail"),
    (rule("=", "Format", "ProRes", occ="2"), "fail"),              # there is no second video track
    (rule("=", "Channels", "2", track="Audio"), "pass"),
    (rule("=", "SamplingRate", "48000", track="Audio", occ="all"), "pass"),
    (rule("=", "VideoCount", "1", track="General"), "pass"),
    (rule(">", "Duration", "0.1", track="General"), "pass"),      # seconds, as MediaInfo's XML prints them
    (rule("<", "Duration", "0.2", track="General"), "pass"),
    (rule("starts with", "Duration_String3", "00:00:00.1", track="General"), "pass"),
    (rule("=", "TimeCode_FirstFrame", "01:00:00:00", track="Other"), "pass"),
    (rule("=", "Format", "Matroska", track="General"), "fail"),
])
def test_operators_on_a_real_clip(clip, xml, expected):
    assert outcome(policy(xml), facts(clip)).value == expected


def test_and_or_levels_and_sources(clip):
    fx = facts(clip)
    good, bad = rule("=", "Format", "ProRes"), rule("=", "Format", "VC-3")
    assert outcome(policy(good, bad), fx) is Outcome.FAIL
    assert outcome(policy(good, bad, kind="or"), fx) is Outcome.PASS
    assert outcome(policy(good, policy(bad, good, kind="or")), fx) is Outcome.PASS
    assert outcome(policy(good, policy(bad, level="warn")), fx) is Outcome.WARN
    assert outcome(policy(policy(bad, level="warn"), level="info"), fx) is Outcome.INFO
    assert outcome(policy(rule("=", "Format", "VC-3", extra=' level="info"')), fx) is Outcome.INFO
    source = ('<rule name="video first" value="StreamOrder" tracktype="Video" occurrence="1" operator="&lt;">'
              '<source value="StreamOrder" tracktype="Audio" occurrence="1"/></rule>')
    assert outcome(policy(source), fx) is Outcome.PASS


def test_what_cannot_be_evaluated_is_unknown_never_passed(clip):
    fx = facts(clip)
    mmt = '<rule name="Magic" value="File information/Magic number" scope="mmt" operator="=">x</rule>'
    typo = '<rule name="PAR" value="PixelAspectRatio" tractype="Video" operator="=">1.000</rule>'
    good, bad = rule("=", "Format", "ProRes"), rule("=", "Format", "VC-3")
    for unknown in (mmt, typo, rule("~=", "Format", "ProRes"), rule("=", "Format", "compare"),
                    rule("=", "Format", "x", track="Menu"), rule("=", "Format_String", "ProRes"),
                    rule("exists", "File_Created_Date", track="General")):
        result = evaluate(parse_policy(policy(good, unknown)), fx)
        assert result.outcome is Outcome.UNKNOWN and len(result.unknown_rules()) == 1
        assert result.unknown_rules()[0].reason
        assert outcome(policy(bad, unknown), fx) is Outcome.FAIL          # decided without it
        assert outcome(policy(good, unknown, kind="or"), fx) is Outcome.PASS
        assert outcome(policy(bad, unknown, kind="or"), fx) is Outcome.UNKNOWN
    dated = evaluate(parse_policy(policy(rule("starts with", "File_Modified_Date", "20", track="General"))), fx,
                     {"File_Modified_Date": "2024-05-09 07:34:23 UTC"})
    assert dated.outcome is Outcome.PASS


@pytest.mark.parametrize("xml,message", [
    ("<policy type='and'><rule", "not well-formed XML"),
    ("<MediaConch><policy type='and'/></MediaConch>", "root element is <MediaConch>"),
    ("<policy type='xor' name='odd'/>", "policy 'odd' has type 'xor'"),
])
def test_bad_policy_files_raise_plain_errors(xml, message):
    with pytest.raises(PolicyError, match=message):
        parse_policy(xml, source="policy file p.xml")
    with pytest.raises(PolicyError, match="does not exist"):
        load_policy("/nonexistent/policy.xml")


def test_failed_rules_are_described_in_plain_words(clip):
    result = evaluate(parse_policy(policy(rule("=", "FrameRate", "25.000"), rule("exists", "Encoded_Date"))),
                      facts(clip))
    words = [describe(r) for r in result.failed_rules()]
    assert words == ["video frame rate is '23.976'; rule 'r' wants it to be '25.000'",
                     "video encoded date is missing; rule 'r' wants it to be present"]


# -- the field mapping, against MediaInfo's own XML -----------------------------------------------

def test_field_mapping_matches_mediainfo_xml(tmp_path, clip):
    paths = [clip, mediagen.make_clip(tmp_path / "c.mxf", codec="dnxhd", rate=NTSC, frames=2),
             mediagen.make_clip(tmp_path / "h.mp4", codec="h264", width=320, height=180, frames=2),
             mediagen.make_clip(tmp_path / "x.mov", codec="dnxhr_hqx", width=320, height=180, frames=2),
             mediagen.make_wav(tmp_path / "s.wav", seconds=0.1),
             *mediagen.make_image_sequence(tmp_path / "seq", "plate", "dpx", 1, 1),
             *mediagen.make_image_sequence(tmp_path / "seq", "plate", "exr", 1, 1)]
    same, unsupported, differ = 0, 0, []
    for path in paths:
        tracks = defaultdict(list)
        for t in MediaInfo.parse(str(path)).tracks:  # what the probe keeps: pymediainfo's to_data()
            tracks[t.track_type].append({k: v for k, v in t.to_data().items() if not k.startswith("other_")})
        seen: dict[str, int] = defaultdict(int)
        for el in etree.fromstring(MediaInfo.parse(str(path), output="XML", full=True).encode()).iter("{*}track"):
            kind = el.get("type")
            track = tracks[kind][seen[kind]]
            seen[kind] += 1
            for field in el:
                name = etree.QName(field).localname
                pairs = [(f"extra/{etree.QName(c).localname}", c.text) for c in field] if name == "extra" \
                    else [(name, field.text)]
                for key, text in pairs:
                    try:
                        value = mediainfo_value(track, key)
                    except UnsupportedField:
                        unsupported += 1
                        continue
                    if value == text:
                        same += 1
                    elif key != "StreamKindPos":   # the only field pymediainfo does not carry at all
                        differ.append((path.name, kind, key, text, value))
    print(f"\nfield mapping: {same} fields equal MediaInfo's XML, {unsupported} reported unsupported")
    assert not differ and same > 400


# -- real archive policies on corpus media ---------------------------------------------------------

def test_every_corpus_policy_parses():
    need(POLICIES)
    files = sorted(POLICIES.rglob("*.xml"))
    parsed = [load_policy(f) for f in files]
    assert len(parsed) >= 60 and all(p.rules() for p in parsed)
    dpx = load_policy(BFI / "BFI_DPX_metadata_conformance_checker.xml")
    assert sum(1 for r in dpx.rules() if r.unsupported) == 63  # MediaTrace (mmt) rules
    assert [r.name for r in load_policy(BFI / "rawcooked_mkv_policy.xml").rules() if "tracktype" in r.unsupported] \
        == ["Pixel aspect ratio is 1.0"]                       # the policy spells it 'tractype'


@pytest.mark.parametrize("name", ["h22_prores_policy.xml", "prores_transcode_check.xml", "prores_dpi_download.xml"])
def test_truncated_prores_header_passes_metadata_only_bfi_policies(name):
    need(MDAT, BFI / name)
    assert judge(BFI / name, MDAT).outcome is Outcome.PASS


def test_bfi_and_nypl_policies_fail_what_they_should():
    need(MDAT, BFI, NYPL)
    result = judge(BFI / "video_transcode_policy_ProRes.xml", MDAT)
    assert result.outcome is Outcome.FAIL
    assert "video height is '1080'; rule 'Video/Height is 576' wants it to be '576'" in map(describe,
                                                                                            result.failed_rules())
    sample = CORPUS / "media" / "pymediainfo" / "sample.mp4"
    need(sample)
    nypl = judge(NYPL / "2024_video_SC.xml", sample)
    assert nypl.outcome is Outcome.FAIL
    assert {r.rule.field for r in nypl.failed_rules()} >= {"Width", "Height", "FrameRate"}
    wav = CORPUS / "media" / "wavinfo" / "sounddevices" / "A101_4.WAV"
    need(wav)
    bfi_wav = judge(BFI / "wav_basic_policy.xml", wav)
    assert [r.rule.name for r in bfi_wav.failed_rules()] == ["General/FileExtension is wav"]  # 'WAV', case matters


# -- through the plugin: spec.policy and spec.policy_unsupported ----------------------------------

def spec_config(tmp_path: Path, policy_file: str, extra: str = "") -> object:
    path = tmp_path / "production.toml"
    path.write_text(f'[production]\nbase_frame_rate = "24000/1001"\n[[volumes]]\nname = "ingest"\n'
                    f'path = "{tmp_path}"\n[rules.spec.profiles.p]\npolicy = "{policy_file}"\n{extra}'
                    f'[[rules.spec.apply]]\nprofile = "p"\n')
    return build_config(read_toml(path), source=str(path), base_dir=str(path.resolve().parent),
                        sections=PLUGIN.config_sections())


def run(cfg: object, media: Path, fx: Facts | None = None, asset: Asset | None = None) -> list:
    st = media.stat()
    asset = asset or Asset(volume="ingest", root=str(media.parent), relpath=media.name, size=st.st_size,
                           mtime_ns=st.st_mtime_ns)
    return list(PLUGIN.check(asset=asset, facts=fx or facts(media), config=cfg) or [])


def test_plugin_reports_policy_failures_and_passes(tmp_path, clip):
    need(BFI / "h22_prores_policy.xml", MDAT)
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "h22.xml").write_bytes((BFI / "h22_prores_policy.xml").read_bytes())
    cfg = spec_config(tmp_path, "policies/h22.xml")                 # relative to the config file
    assert run(cfg, MDAT) == []                                    # metadata-only: the header passes
    dnx = mediagen.make_clip(tmp_path / "B001C001.mov", codec="dnxhr_hqx", width=320, height=180, frames=2)
    [f] = run(cfg, dnx)
    assert f.rule == "spec.policy" and f.severity is Severity.ERROR and f.owner == "dit"
    assert f.message.startswith("fails MediaConch policy 'BFI ProRes Quicktime conformance checker': ")
    assert "video format is 'VC-3'; rule 'Video/Format is ProRes' wants it to be 'ProRes'" in f.message
    assert f.details["outcome"] == "fail" and any(r["field"] == "Format" for r in f.details["rules"])


def test_plugin_warn_level_and_unreadable_policy(tmp_path, clip):
    (tmp_path / "warn.xml").write_text(policy(rule("=", "Width", "1920"), level="warn"))
    [w] = run(spec_config(tmp_path, "warn.xml"), clip)
    assert w.rule == "spec.policy" and w.severity is Severity.WARNING and w.message.startswith("gets a warning")
    missing = spec_config(tmp_path, "missing.xml")
    [e] = run(missing, clip)
    assert e.rule == "spec.policy_unsupported" and e.severity is Severity.WARNING and "does not exist" in e.message
    assert PLUGIN.config_problems(missing) == [f"rules.spec.profiles.p.policy: policy file {tmp_path}/missing.xml "
                                               "does not exist"]
    (tmp_path / "warn.xml").write_text(policy(rule("=", "Width", "320")))   # an edited policy is re-read
    assert run(spec_config(tmp_path, "warn.xml"), clip) == []


def test_plugin_reports_each_unsupported_rule_once(tmp_path, clip):
    xml = policy(rule("=", "Format", "ProRes"),
                 '<rule name="Magic" value="Generic section header/File information/Magic number" scope="mmt" '
                 'operator="=">SDPX</rule>', rule("exists", "File_Created_Date", track="General"),
                 rule("exists", "File_Modified_Date", track="General"))
    (tmp_path / "p.xml").write_text(xml)
    found = run(spec_config(tmp_path, "p.xml"), clip)
    assert [f.rule for f in found] == ["spec.policy_unsupported"] * 2
    assert found[0].message.startswith("policy 'p' rule 'Magic' was not checked: it reads the file's byte structure")
    assert found[0].message.endswith("so the policy's verdict on this file is unknown")
    assert found[0].owner == "supervisor" and found[0].severity is Severity.INFO


def test_policy_is_evaluated_per_sampled_frame_of_a_sequence(tmp_path):
    folder = tmp_path / "VFX"
    mediagen.make_image_sequence(folder, "plate", "dpx", 1001, 1004, width=256, height=144, bits=10)
    mediagen.make_image_sequence(folder, "plate", "dpx", 1003, 1003, width=256, height=144, bits=12)
    _, [asset] = folder_assets("ingest", str(tmp_path), "VFX")
    fx = Facts.from_mapping(facts_for_sequence(list(asset.member_paths()), list(asset.sequence.frame_sizes),
                                               **BY_PATH))
    (tmp_path / "dpx.xml").write_text(policy(rule("=", "Format", "DPX", track="Image"),
                                             rule("=", "BitDepth", "10", track="Image")))
    [f] = run(spec_config(tmp_path, "dpx.xml", 'frame_rate = "any"\n'), folder, fx, asset)
    assert f.rule == "spec.policy" and " in frame 1003: image bit depth is '12'" in f.message
    assert f.details["frames"] == ["frame 1003"]
