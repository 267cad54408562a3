"""Spec profiles (reelwatch.spec.profiles + plugins/spec.py) on real generated media.

Every clip is encoded with PyAV and probed with MediaInfo; configs are real TOML files loaded
with the plugin's own section model.
"""

from __future__ import annotations

import inspect
import time
import wave
from fractions import Fraction
from pathlib import Path

import pytest

from reelwatch.demo import mediagen
from reelwatch.checking.runtime import read_toml
from reelwatch.core.config import ConfigError, build_config
from reelwatch.core.manager import PluginManager, load_plugin_file
from reelwatch.core.model import Asset, Facts, Severity
from reelwatch.probe.pool import facts_for_file, facts_for_sequence

# Parse by path, as MediaInfo's own CLI (and MediaConch) do: the probe's stream mode loses fields
# (see test_spec.py::test_daemon_probe_keeps_the_fields_spec_checks_need).
BY_PATH = {"noatime": False} if "noatime" in inspect.signature(facts_for_file).parameters else {}
from reelwatch.core.sequences import folder_assets

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"
PLUGIN = load_plugin_file(ROOT / "plugins" / "spec.py")
NTSC = Fraction(24000, 1001)

CAMERA = """
[rules.spec.profiles.camera_prores]
container = ["QuickTime"]
codec = ["ProRes"]
codec_profile = ["422 HQ", "4444"]
resolution = ["320x180", "3840x2160"]
scan_type = "Progressive"
bit_depth = [10, 12]
chroma_subsampling = ["4:2:2", "4:4:4"]
audio_codec = ["PCM"]
audio_sample_rate = 48000
audio_bit_depth = [24]
audio_channels = [2, 8]
timecode = "01:00:00:00"

[[rules.spec.apply]]
volumes = ["ingest"]
globs = ["Camera Media/**"]
profile = "camera_prores"
"""


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("spec_media")
    lib: dict[str, Path] = {}

    def clip(key: str, **kw: object) -> None:
        kw = {"width": 320, "height": 180, "frames": 3, **kw}
        lib[key] = mediagen.make_clip(out / f"{key}.{kw.pop('ext', 'mov')}", **kw)  # type: ignore[arg-type]

    clip("hq_2398", codec="prores_hq", rate=NTSC)
    clip("hq_24", codec="prores_hq", rate=24)
    clip("hq_25", codec="prores_hq", rate=25)
    clip("p4444", codec="prores_4444", rate=NTSC)
    clip("hqx", codec="dnxhr_hqx", rate=NTSC)
    clip("small", codec="prores_hq", rate=NTSC, width=256, height=144)
    clip("a441", codec="prores_hq", rate=NTSC, audio_rate=44100)
    clip("a16_mono", codec="prores_hq", rate=NTSC, audio_bits=16, audio_channels=1)
    clip("notc", codec="prores_hq", rate=NTSC, timecode=None)
    clip("tc_late", codec="prores_hq", rate=NTSC, timecode="00:59:59:00")
    clip("h264", codec="h264", rate=NTSC, ext="mp4")
    return lib


def config(tmp_path: Path, body: str, *, base: str | None = "24000/1001", kind: str = "ingest") -> object:
    prod = f'[production]\nname = "Test"\nbase_frame_rate = "{base}"\n' if base else ""
    text = (prod + f'[[volumes]]\nname = "ingest"\npath = "{tmp_path}"\nkind = "{kind}"\n'
            f'[[volumes]]\nname = "delivery"\npath = "{tmp_path}"\nkind = "delivery"\n' + body)
    path = tmp_path / "production.toml"
    path.write_text(text)
    return build_config(read_toml(path), source=str(path), base_dir=str(path.resolve().parent),
                        sections=PLUGIN.config_sections())


def check(cfg: object, media: Path, *, volume: str = "ingest", relpath: str | None = None) -> list:
    st = media.stat()
    asset = Asset(volume=volume, root=str(media.parent), relpath=relpath or f"Camera Media/{media.name}",
                  size=st.st_size, mtime_ns=st.st_mtime_ns)
    facts = Facts.from_mapping(facts_for_file(str(media), **BY_PATH))
    return list(PLUGIN.check(asset=asset, facts=facts, config=cfg) or [])


def rules(findings: list) -> list[str]:
    return sorted(f.rule for f in findings)


# -- the schema ------------------------------------------------------------------------------

def test_config_schema_accepts_scalars_and_lists(tmp_path):
    cfg = config(tmp_path, CAMERA)
    spec = cfg.rules["spec"]
    prof = spec.profiles["camera_prores"]
    assert prof.scan_type == ("Progressive",) and prof.audio_sample_rate == (48000,)
    assert prof.frame_rate is None  # inherits the production's base rate
    assert spec.apply[0].globs == ("Camera Media/**",)


@pytest.mark.parametrize("body,expect", [
    ('[rules.spec.profiles.p]\nframe_rate = "23.98"\n', "'23.98' is ambiguous: write 24000/1001 (23.976) or 2398/100"),
    ('[rules.spec.profiles.p]\nframe_rate = "fast"\n', "is not a frame rate"),
    ('[rules.spec.profiles.p]\ncolor_primaries = ["BT.709"]\n', "did you mean 'colour_primaries'"),
    ('[rules.spec.profiles.p]\nresolution = ["1920 by 1080"]\n', "write WIDTHxHEIGHT"),
    ('[rules.spec.profiles.p]\ntimecode = "1:00:00"\n', "is not a timecode"),
    ('[rules.spec.profiles.p]\nmin_duration = -1\n', "min_duration"),
    ('[rules.spec.profiles.camera]\n[[rules.spec.apply]]\nprofile = "camara"\n',
     "apply[0].profile: no profile named 'camara' (did you mean 'camera'?)"),
    ('[rules.spec.profiles.a]\nextends = "b"\n[rules.spec.profiles.b]\nextends = "a"\n', "loop: a -> b -> a"),
    ('[rules.spec.profiles.a]\nextends = "nope"\n', "no profile named 'nope'"),
])
def test_config_errors_are_precise(tmp_path, body, expect):
    with pytest.raises(ConfigError) as err:
        config(tmp_path, body)
    assert expect in str(err.value)
    assert "rules.spec" in str(err.value)


def test_unknown_volumes_in_apply_are_reported_at_configure(tmp_path):
    cfg = config(tmp_path, CAMERA.replace('volumes = ["ingest"]', 'volumes = ["ingset"]'))
    assert PLUGIN.config_problems(cfg) == ["rules.spec.apply[0].volumes: no volume named 'ingset' (did you mean "
                                           "'ingest'?); defined: ingest, delivery"]
    PLUGIN.configure(config=cfg)  # logs, never raises


def test_ntsc_aliases_are_exact(tmp_path):
    cfg = config(tmp_path, '[rules.spec.profiles.p]\nframe_rate = ["23.976", "29.97", 25]\n')
    assert cfg.rules["spec"].profiles["p"].frame_rate == ("23.976", "29.97", "25")


def test_extends_merges_own_settings_over_the_base(tmp_path):
    cfg = config(tmp_path, CAMERA + '[rules.spec.profiles.vfx_plate]\nextends = "camera_prores"\n'
                 'codec_profile = ["4444"]\n')
    merged = cfg.rules["spec"].resolved("vfx_plate")
    assert merged.codec_profile == ("4444",) and merged.codec == ("ProRes",) and merged.timecode == "01:00:00:00"


# -- property families on generated media ----------------------------------------------------

def test_prores_hq_at_23976_passes_a_24000_1001_profile(tmp_path, clips):
    assert check(config(tmp_path, CAMERA), clips["hq_2398"]) == []


def test_same_clip_at_24_fails_with_a_frame_rate_finding(tmp_path, clips):
    [f] = check(config(tmp_path, CAMERA), clips["hq_24"])
    assert f.rule == "spec.frame_rate" and f.severity is Severity.ERROR
    assert f.message == "frame rate is 24 fps; this production shoots 23.976 (24000/1001)"
    assert f.owner == "dit" and f.impacts == ("editorial", "sound", "vfx")
    assert "sync drift against 23.976 (24000/1001) fps sound" in f.impact and "VFX plates" in f.impact


def test_25_fps_fails_and_delivery_volume_owner_is_vfx(tmp_path, clips):
    cfg = config(tmp_path, CAMERA.replace('volumes = ["ingest"]', 'volumes = ["ingest", "delivery"]'))
    [f] = check(cfg, clips["hq_25"])
    assert f.message == "frame rate is 25 fps; this production shoots 23.976 (24000/1001)"
    [d] = check(cfg, clips["hq_25"], volume="delivery")
    assert d.rule == "spec.frame_rate" and d.owner == "vfx" and d.impacts == ("editorial",)
    assert "Re-render at 23.976 (24000/1001) fps" in d.fix


def test_profile_frame_rate_overrides_base_and_any_opts_out(tmp_path, clips):
    body = CAMERA.replace('timecode = "01:00:00:00"', 'timecode = "01:00:00:00"\nframe_rate = ["25", "24000/1001"]')
    cfg = config(tmp_path, body)
    assert check(cfg, clips["hq_25"]) == [] and check(cfg, clips["hq_2398"]) == []
    [f] = check(cfg, clips["hq_24"])
    assert f.message == "frame rate is 24 fps; profile 'camera_prores' allows 25 or 23.976 (24000/1001)"
    any_rate = config(tmp_path, CAMERA.replace('timecode = "01:00:00:00"', 'frame_rate = "any"'))
    assert check(any_rate, clips["hq_24"]) == []


def test_dnxhr_hqx_against_required_prores(tmp_path, clips):
    [f] = check(config(tmp_path, CAMERA), clips["hqx"])
    assert f.rule == "spec.codec"
    assert f.message == "codec is DNxHR HQX; profile 'camera_prores' allows ProRes (422 HQ or 4444)"
    assert f.impacts == ("editorial", "vfx")


@pytest.mark.parametrize("codec,profiles", [('["DNxHR"]', '["HQX"]'), ('["VC-3"]', '["DNxHR HQX", "HQ"]'),
                                             ('["ProRes", "DNxHR"]', '["4444", "RI@HQX"]')])
def test_allowed_sets_accept_commercial_names(tmp_path, clips, codec, profiles):
    body = CAMERA.replace('codec = ["ProRes"]', f"codec = {codec}").replace(
        'codec_profile = ["422 HQ", "4444"]', f"codec_profile = {profiles}")
    cfg = config(tmp_path, body)
    assert check(cfg, clips["hqx"]) == []
    assert rules(check(cfg, clips["hq_2398"])) == (["spec.codec"] if "422 HQ" not in profiles else [])


def test_prores_4444_passes_and_bit_depth_is_nominal(tmp_path, clips):
    assert check(config(tmp_path, CAMERA), clips["p4444"]) == []
    [f] = check(config(tmp_path, CAMERA.replace("bit_depth = [10, 12]", "bit_depth = 12")), clips["hq_2398"])
    assert f.rule == "spec.bit_depth"
    assert f.message == "bit depth is 10-bit (nominal for ProRes 422 HQ); profile 'camera_prores' allows 12-bit"


def test_wrong_resolution(tmp_path, clips):
    [f] = check(config(tmp_path, CAMERA), clips["small"])
    assert f.rule == "spec.resolution"
    assert f.message == "picture is 256x144; profile 'camera_prores' allows 320x180 or 3840x2160"
    cfg = config(tmp_path, CAMERA.replace('resolution = ["320x180", "3840x2160"]', "width = [256, 320]"))
    assert check(cfg, clips["small"]) == []


def test_audio_441_vs_48k_and_bit_depth_and_channels(tmp_path, clips):
    cfg = config(tmp_path, CAMERA)
    [f] = check(cfg, clips["a441"])
    assert f.rule == "spec.audio"
    assert f.message == "audio sample rate is 44.1 kHz; profile 'camera_prores' allows 48 kHz"
    assert f.owner == "dit" and f.impacts == ("sound", "editorial")
    messages = sorted(x.message for x in check(cfg, clips["a16_mono"]))
    assert messages == ["audio bit depth is 16-bit; profile 'camera_prores' allows 24-bit",
                        "the number of audio channels is 1; profile 'camera_prores' allows 2 or 8"]


def test_missing_and_late_timecode(tmp_path, clips):
    cfg = config(tmp_path, CAMERA)
    [f] = check(cfg, clips["notc"])
    assert f.rule == "spec.timecode"
    assert f.message == "the file has no timecode; profile 'camera_prores' requires timecode starting at 01:00:00:00"
    [g] = check(cfg, clips["tc_late"])
    assert g.message.startswith("timecode starts at 00:59:59:00 (from the QuickTime TC track)")
    required = config(tmp_path, CAMERA.replace('timecode = "01:00:00:00"', 'timecode = "required"'))
    assert check(required, clips["tc_late"]) == [] and rules(check(required, clips["notc"])) == ["spec.timecode"]


def test_unreadable_timecode_start_is_a_notice_not_an_error(tmp_path, clips):
    # MediaInfo sees the tmcd track but not its start when it is fed the file as a stream
    data = facts_for_file(str(clips["hq_2398"]), **BY_PATH)
    data["other"] = [{k: v for k, v in t.items() if k != "time_code_of_first_frame"} for t in data["other"]]
    asset = Asset(volume="ingest", root=str(tmp_path), relpath="Camera Media/a.mov", size=1, mtime_ns=1)
    [f] = PLUGIN.check(asset=asset, facts=Facts.from_mapping(data), config=config(tmp_path, CAMERA))
    assert f.rule == "spec.timecode" and f.severity is Severity.INFO
    assert f.message == ("the file has a QuickTime TC track but its start could not be read, so it was not "
                         "checked against 01:00:00:00")
    required = config(tmp_path, CAMERA.replace('timecode = "01:00:00:00"', 'timecode = "required"'))
    assert PLUGIN.check(asset=asset, facts=Facts.from_mapping(data), config=required) == []


def test_h264_review_copy_fails_container_codec_depth_chroma_audio(tmp_path, clips):
    found = check(config(tmp_path, CAMERA), clips["h264"])
    assert set(rules(found)) == {"spec.container", "spec.codec", "spec.bit_depth", "spec.chroma", "spec.audio"}
    container = next(f for f in found if f.rule == "spec.container")
    assert container.message == "container is MPEG-4 (Base Media); profile 'camera_prores' allows QuickTime"
    info = [f for f in found if f.severity is Severity.INFO]
    assert [f.message for f in info] == ["audio bit depth could not be read, so it was not checked against 24-bit"]


def test_scan_type_and_colour_tags(tmp_path, clips):
    cfg = config(tmp_path, CAMERA.replace('scan_type = "Progressive"', 'scan_type = "Interlaced"\n'
                                          'colour_primaries = "BT.709"'))
    found = {f.rule: f for f in check(cfg, clips["hq_2398"])}
    assert found["spec.scan"].message == "scan type is Progressive; profile 'camera_prores' allows Interlaced"
    assert found["spec.colour"].message == "colour primaries are not tagged; profile 'camera_prores' allows BT.709"
    assert found["spec.colour"].severity is Severity.WARNING and found["spec.colour"].impacts == ("colour", "editorial")


def test_duration_minimum_and_zero(tmp_path, clips):
    cfg = config(tmp_path, CAMERA.replace('timecode = "01:00:00:00"', "min_duration = 10"))
    [f] = check(cfg, clips["hq_2398"])
    assert f.rule == "spec.duration" and f.message.startswith("duration is 0.12") and "at least 10 s" in f.message
    empty = tmp_path / "empty.wav"
    with wave.open(str(empty), "wb") as w:  # a real WAV with no samples: MediaInfo says 0 ms
        w.setnchannels(2), w.setsampwidth(3), w.setframerate(48000), w.writeframes(b"")
    sound = config(tmp_path, '[rules.spec.profiles.sound]\naudio_sample_rate = 48000\n'
                   '[[rules.spec.apply]]\nprofile = "sound"\n')
    [z] = check(sound, empty, relpath="Sound/empty.wav")
    assert z.rule == "spec.duration" and z.message.startswith("duration is 0 s")


def test_no_picture_and_no_audio(tmp_path, clips):
    wav = mediagen.make_wav(tmp_path / "S001T001.wav", rate=48000, bits=24, channels=2, seconds=0.2)
    cfg = config(tmp_path, CAMERA)
    found = {f.rule: f.message for f in check(cfg, wav)}
    assert found["spec.container"] == "container is Wave; profile 'camera_prores' allows QuickTime"
    assert found["spec.codec"] == "the file has no picture track; profile 'camera_prores' requires ProRes"
    quiet = mediagen.make_clip(tmp_path / "mos.mov", width=320, height=180, frames=2, audio_channels=0)
    assert [f.message for f in check(cfg, quiet)] == ["the file has no audio; profile 'camera_prores' requires audio"]
    # only the inherited base rate: an audio-only file is not a frame-rate problem
    assert check(config(tmp_path, '[rules.spec.profiles.s]\n[[rules.spec.apply]]\nprofile = "s"\n'), wav) == []


def test_scoping_first_match_wins_and_unscoped_files_are_left_alone(tmp_path, clips):
    body = CAMERA + '[rules.spec.profiles.any_mov]\ncontainer = "QuickTime"\nframe_rate = "any"\n' \
        '[[rules.spec.apply]]\nprofile = "any_mov"\n'
    cfg = config(tmp_path, body)
    assert rules(check(cfg, clips["hq_25"])) == ["spec.frame_rate"]               # Camera Media/** -> camera
    assert check(cfg, clips["hq_25"], relpath="Editorial/hq_25.mov") == []        # elsewhere -> any_mov
    assert check(config(tmp_path, ""), clips["hq_25"]) == []                      # no [rules.spec] at all


def test_image_sequence_frames_are_named(tmp_path):
    folder = tmp_path / "VFX" / "010"
    mediagen.make_image_sequence(folder, "plate", "dpx", 1001, 1006, width=256, height=144, bits=10)
    mediagen.make_image_sequence(folder, "plate", "dpx", 1004, 1004, width=128, height=72, bits=12)
    _, [asset] = folder_assets("plates", str(tmp_path), "VFX/010")
    facts = Facts.from_mapping(facts_for_sequence(list(asset.member_paths()), list(asset.sequence.frame_sizes),
                                                  **BY_PATH))
    cfg = config(tmp_path, '[rules.spec.profiles.plate]\ncontainer = "DPX"\nresolution = "256x144"\n'
                 'bit_depth = 10\n[[rules.spec.apply]]\nglobs = ["VFX/**"]\nprofile = "plate"\n')
    found = {f.rule: f for f in PLUGIN.check(asset=asset, facts=facts, config=cfg)}
    assert set(found) == {"spec.resolution", "spec.bit_depth"}  # DPX has no frame rate: base rate not checked
    assert found["spec.resolution"].message == "picture is 128x72 in frame 1004; profile 'plate' allows 256x144"
    assert found["spec.bit_depth"].details["where"] == ["frame 1004"]


def test_broadcast_wav_timecode_from_bext_at_the_base_rate(tmp_path):
    wav = CORPUS / "media" / "wavinfo" / "sounddevices" / "A101_4.WAV"
    if not wav.exists():
        pytest.skip(f"corpus not available: {wav}")
    body = '[rules.spec.profiles.sound]\ntimecode = "12:40:15:00"\n[[rules.spec.apply]]\nprofile = "sound"\n'
    assert check(config(tmp_path, body), wav, relpath="Sound/A101_4.WAV") == []
    [f] = check(config(tmp_path, body, base="24"), wav, relpath="Sound/A101_4.WAV")
    assert f.message.startswith("timecode starts at 12:41:00:15 (from the bext time reference)")


def test_corrupt_and_odd_facts_never_crash(tmp_path, clips):
    cfg = config(tmp_path, CAMERA)
    asset = Asset(volume="ingest", root=str(tmp_path), relpath="Camera Media/x.mov", size=1, mtime_ns=1)
    odd = Facts.from_mapping({"kind": "media", "general": {"format": None, "duration": "n/a"},
                              "video": [{"format": "ProRes", "width": "wide", "framerate_num": "24000",
                                         "framerate_den": "0", "bit_depth": "ten"}], "other": [{"type": "Time code"}]})
    found = PLUGIN.check(asset=asset, facts=odd, config=cfg)
    assert "spec.container" in rules(found)
    assert PLUGIN.check(asset=asset, facts=Facts(kind="unreadable", error="x"), config=cfg) is None


def test_shipped_plugin_documents_every_rule_and_owns_its_section():
    pm = PluginManager()
    pm.load(entry_points=False)
    assert "spec" in pm.config_sections()
    ids = {r.id for r in pm.rule_infos() if r.id.startswith("spec.")}
    assert ids == {"spec.container", "spec.codec", "spec.resolution", "spec.frame_rate", "spec.scan",
                   "spec.bit_depth", "spec.chroma", "spec.colour", "spec.audio", "spec.timecode",
                   "spec.duration", "spec.policy", "spec.policy_unsupported"}
    doc = (ROOT / "docs" / "rules.md").read_text()
    for rule_id in ids:
        assert f"`{rule_id}`" in doc


def test_daemon_probe_keeps_the_fields_spec_checks_need(clips):
    """The daemon's probe (default mode) must report what a path-based MediaInfo parse reports
    for the properties spec profiles check: timecode, scan type, codec profile, bit depth."""
    fields = {"video": ("format_profile", "scan_type", "bit_depth", "chroma_subsampling"),
              "other": ("time_code_of_first_frame",)}
    lost = []
    for key in ("hqx", "hq_2398"):
        daemon, by_path = facts_for_file(str(clips[key])), facts_for_file(str(clips[key]), **BY_PATH)
        for kind, names in fields.items():
            a, b = (daemon.get(kind) or [{}]), (by_path.get(kind) or [{}])
            a, b = (a if isinstance(a, dict) else a[0]), (b if isinstance(b, dict) else b[0])
            lost += [f"{key}: {kind}.{n}" for n in names if b.get(n) is not None and a.get(n) != b.get(n)]
    assert not lost, (f"the daemon's probe loses {lost}: probe.parse_tracks feeds MediaInfo a stream with "
                      "a 4 MiB buffer; a path-based parse (or a 64 KiB buffer) keeps these fields")


def test_profile_evaluation_is_tiny_next_to_a_mediainfo_parse(tmp_path, clips):
    cfg = config(tmp_path, CAMERA)
    media = clips["hq_24"]
    st = media.stat()
    asset = Asset(volume="ingest", root=str(media.parent), relpath="Camera Media/x.mov", size=st.st_size,
                  mtime_ns=st.st_mtime_ns)
    t0 = time.perf_counter()
    for _ in range(5):
        facts = Facts.from_mapping(facts_for_file(str(media), **BY_PATH))
    parse = (time.perf_counter() - t0) / 5
    t0 = time.perf_counter()
    for _ in range(200):
        PLUGIN.check(asset=asset, facts=facts, config=cfg)
    evaluation = (time.perf_counter() - t0) / 200
    print(f"\nspec profile: {evaluation * 1e6:.0f} us per file; MediaInfo parse {parse * 1e3:.1f} ms")
    assert evaluation < parse / 5
