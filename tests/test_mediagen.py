"""Real-media tests for reelwatch.demo.mediagen: every fact is read back with MediaInfo."""

from __future__ import annotations

import sys
from fractions import Fraction
from pathlib import Path

import pytest

from reelwatch.demo import mediagen
from reelwatch.demo.mediagen import (
    frame_grab,
    have_pyav,
    make_clip,
    make_image_sequence,
    make_wav,
    truncate,
)

MediaInfo = pytest.importorskip("pymediainfo").MediaInfo
NTSC = Fraction(24000, 1001)


@pytest.fixture
def av():
    """Skip media tests when PyAV is missing."""
    return pytest.importorskip("av")


def parse(path: Path):
    return MediaInfo.parse(str(path))


def video(path: Path):
    tracks = parse(path).video_tracks
    assert len(tracks) == 1, f"expected one video track in {path.name}"
    return tracks[0]


def timecodes(path: Path) -> list[str]:
    return [t.time_code_of_first_frame for t in parse(path).other_tracks if t.type == "Time code"]


# --------------------------------------------------------------------------- no PyAV


def test_imports_and_fails_clearly_without_pyav(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "av", None)  # makes `import av` raise ImportError
    assert have_pyav() is False
    for call in (lambda: make_clip(tmp_path / "a.mov", width=320, height=180),
                 lambda: make_wav(tmp_path / "a.wav"),
                 lambda: make_image_sequence(tmp_path / "seq"),
                 lambda: frame_grab(tmp_path / "a.mov", tmp_path / "a.jpg")):
        with pytest.raises(RuntimeError, match=r"pip install 'reelwatch\[media\]'"):
            call()
    src = tmp_path / "x.bin"
    src.write_bytes(b"0123456789")
    assert truncate(src, keep=0.3).read_bytes() == b"012"  # pure file op, no PyAV needed


# --------------------------------------------------------------------------- codecs


@pytest.mark.parametrize("codec, profile", [
    ("prores_proxy", "422 Proxy"), ("prores_lt", "422 LT"), ("prores_422", "422"),
    ("prores_hq", "422 HQ"), ("prores_4444", "4444"),
])
def test_prores_mov(av, tmp_path, codec, profile):
    path = make_clip(tmp_path / f"{codec}.mov", codec=codec, width=320, height=180)
    info = parse(path)
    general = info.general_tracks[0]
    assert (general.format, general.format_profile) == ("MPEG-4", "QuickTime")
    v = video(path)
    assert (v.format, v.format_profile, v.commercial_name) == ("ProRes", profile, "ProRes")
    assert (v.width, v.height, v.frame_rate) == (320, 180, "23.976")
    assert v.frame_count == "6"
    assert v.chroma_subsampling == ("4:4:4" if codec == "prores_4444" else "4:2:2")
    (a,) = info.audio_tracks
    assert (a.format, a.sampling_rate, a.bit_depth, a.channel_s) == ("PCM", 48000, 24, 2)
    assert timecodes(path) == ["01:00:00:00"]
    assert info.other_tracks[0].format == "QuickTime TC"


def test_prores_mxf_16bit_audio(av, tmp_path):
    path = make_clip(tmp_path / "hq.mxf", codec="prores_hq", width=320, height=180, rate=25,
                     audio_bits=16, audio_channels=4, timecode="10:00:00:00")
    general = parse(path).general_tracks[0]
    assert (general.format, general.format_profile) == ("MXF", "OP-1a")
    v = video(path)
    assert (v.format, v.format_profile, v.bit_depth, v.frame_rate) == ("ProRes", "422 HQ", 10,
                                                                        "25.000")
    (a,) = parse(path).audio_tracks
    assert (a.format, a.sampling_rate, a.bit_depth, a.channel_s) == ("PCM", 48000, 16, 4)
    assert timecodes(path) == ["10:00:00:00"] * 3  # material + source package + SMPTE TC
    assert [t.format for t in parse(path).other_tracks] == ["MXF TC", "MXF TC", "SMPTE TC"]


@pytest.mark.parametrize("codec, profile, name, depth", [
    ("dnxhr_lb", "RI@LB", "DNxHR LB", 8), ("dnxhr_sq", "RI@SQ", "DNxHR SQ", 8),
    ("dnxhr_hq", "RI@HQ", "DNxHR HQ", 8), ("dnxhr_hqx", "RI@HQX", "DNxHR HQX", 10),
])
def test_dnxhr_mov(av, tmp_path, codec, profile, name, depth):
    path = make_clip(tmp_path / f"{codec}.mov", codec=codec, width=320, height=180, rate=25)
    v = video(path)
    assert (v.format, v.format_profile, v.commercial_name) == ("VC-3", profile, name)
    assert (v.width, v.height, v.frame_rate, v.bit_depth) == (320, 180, "25.000", depth)
    assert parse(path).general_tracks[0].commercial_name == f"MPEG-4 {name}"
    assert timecodes(path) == ["01:00:00:00"]


@pytest.mark.parametrize("suffix, rate, fps, name", [
    (".mxf", 24, "24.000", "DNxHD 36"),
    (".mov", NTSC, "23.976", "DNxHD 36"),
    (".mov", Fraction(30000, 1001), "29.970", "DNxHD 45"),
])
def test_dnxhd_1080(av, tmp_path, suffix, rate, fps, name):
    path = make_clip(tmp_path / f"dnxhd{suffix}", codec="dnxhd", rate=rate, frames=2)
    v = video(path)
    assert (v.format, v.format_profile, v.commercial_name) == ("VC-3", "HD@LB", name)
    assert (v.width, v.height, v.frame_rate, v.bit_depth) == (1920, 1080, fps, 8)
    assert timecodes(path)[0] == "01:00:00:00"


@pytest.mark.parametrize("kwargs, match", [
    (dict(codec="dnxhd", width=640, height=360), "DNxHD cannot encode 640x360"),
    (dict(codec="dnxhd", rate=30), "DNxHD cannot encode 1920x1080 @ 30"),
    (dict(codec="dnxhr_lb", width=128, height=72), "at least 256x120"),
    (dict(codec="prores_hq", width=321, height=180), "odd size"),
    (dict(codec="nope"), "unknown codec"),
    (dict(codec="prores_hq", container="mp4"), "cannot go in mp4"),
    (dict(codec="prores_hq", container="mxf", rate=12), "MXF cannot carry 12 fps"),
    (dict(codec="prores_hq", container="mxf", audio_rate=44100), "MXF audio must be 48000"),
    (dict(codec="prores_hq", audio_bits=32), "audio_bits must be 16 or 24"),
    (dict(codec="prores_hq", timecode="bogus"), "timecode must look like"),
])
def test_make_clip_rejects_invalid_combos(tmp_path, kwargs, match):
    target = tmp_path / "bad.mov"
    with pytest.raises(ValueError, match=match):
        make_clip(target, **kwargs)
    assert not target.exists()


def test_h264_mp4_and_mov(av, tmp_path):
    mp4 = make_clip(tmp_path / "a.mp4", codec="h264", width=320, height=180, rate=25,
                    audio_channels=6)
    general = parse(mp4).general_tracks[0]
    assert (general.format, general.format_profile) == ("MPEG-4", "Base Media")
    v = video(mp4)
    assert (v.format, v.width, v.height, v.frame_rate, v.bit_depth) == ("AVC", 320, 180,
                                                                        "25.000", 8)
    assert v.format_profile.startswith("High@")
    (a,) = parse(mp4).audio_tracks
    assert (a.format, a.sampling_rate, a.channel_s) == ("AAC", 48000, 6)
    assert timecodes(mp4) == ["01:00:00:00"]

    mov = make_clip(tmp_path / "a.mov", codec="h264", width=320, height=180, audio_bits=16)
    assert parse(mov).general_tracks[0].format_profile == "QuickTime"
    assert video(mov).frame_rate == "23.976"
    (a,) = parse(mov).audio_tracks
    assert (a.format, a.bit_depth) == ("PCM", 16)


def test_no_audio_no_timecode_and_drop_frame(av, tmp_path):
    bare = make_clip(tmp_path / "bare.mov", codec="prores_lt", width=320, height=180,
                     audio_channels=0, timecode=None)
    assert parse(bare).audio_tracks == [] and parse(bare).other_tracks == []
    df = make_clip(tmp_path / "df.mov", codec="prores_proxy", width=320, height=180,
                   rate=29.97, timecode="01:00:00;00")
    assert video(df).frame_rate == "29.970"
    assert timecodes(df) == ["01:00:00;00"]


def test_clip_is_deterministic_and_moving(av, tmp_path):
    a = make_clip(tmp_path / "a.mxf", codec="dnxhr_lb", width=320, height=180)
    b = make_clip(tmp_path / "b.mxf", codec="dnxhr_lb", width=320, height=180)
    assert a.read_bytes() == b.read_bytes()
    with av.open(str(a)) as container:
        frames = [bytes(f.planes[0]) for f in container.decode(video=0)]
    assert len(frames) == 6
    assert frames[0] != frames[3]  # the bars scroll


# --------------------------------------------------------------------------- truncation


def test_truncated_faststart_mov_keeps_video_track(av, tmp_path):
    src = make_clip(tmp_path / "fs.mov", codec="prores_hq", width=320, height=180, faststart=True)
    assert parse(src).general_tracks[0].istruncated is None
    cut = truncate(src, tmp_path / "fs_cut.mov", keep=0.5)
    assert cut.stat().st_size == src.stat().st_size // 2
    general = parse(cut).general_tracks[0]
    assert general.istruncated == "Yes"
    assert "is more than maximal permitted size" in general.general_compliance
    v = video(cut)
    assert (v.format, v.format_profile, v.width) == ("ProRes", "422 HQ", 320)
    assert timecodes(cut) == ["01:00:00:00"]
    assert frame_grab(cut, tmp_path / "fs.jpg") is not None  # first half still decodes


def test_truncated_plain_mov_loses_its_tracks(av, tmp_path):
    src = make_clip(tmp_path / "plain.mov", codec="prores_hq", width=320, height=180)
    truncate(src, keep=0.5)  # in place
    info = parse(src)
    assert [t.track_type for t in info.tracks] == ["General"]
    assert info.general_tracks[0].istruncated == "Yes"
    assert info.general_tracks[0].format == "MPEG-4"
    assert frame_grab(src, tmp_path / "plain.jpg") is None
    assert not (tmp_path / "plain.jpg").exists()


def test_truncated_mxf_keeps_tracks_and_flags_size(av, tmp_path):
    src = make_clip(tmp_path / "a.mxf", codec="prores_hq", width=320, height=180)
    cut = truncate(src, tmp_path / "cut.mxf", keep=0.5)
    general = parse(cut).general_tracks[0]
    assert general.istruncated == "Yes"
    assert "is less than expected size" in general.general_compliance
    assert video(cut).format_profile == "422 HQ"
    assert len(parse(cut).audio_tracks) == 1
    assert timecodes(cut)[0] == "01:00:00:00"


def test_truncate_arguments(tmp_path):
    src = tmp_path / "s.bin"
    src.write_bytes(bytes(range(200)))
    assert truncate(src, tmp_path / "sub" / "d.bin", keep=0.25).read_bytes() == bytes(range(50))
    assert src.stat().st_size == 200
    with pytest.raises(ValueError):
        truncate(src, keep=1.5)


# --------------------------------------------------------------------------- wav / images


@pytest.mark.parametrize("rate, bits, channels", [(48000, 24, 2), (44100, 16, 1), (96000, 24, 6)])
def test_make_wav(av, tmp_path, rate, bits, channels):
    path = make_wav(tmp_path / "a.wav", rate=rate, bits=bits, channels=channels, seconds=0.5)
    info = parse(path)
    assert info.general_tracks[0].format == "Wave"
    (a,) = info.audio_tracks
    assert (a.format, a.sampling_rate, a.bit_depth, a.channel_s) == ("PCM", rate, bits, channels)
    assert a.duration == 500


def test_dpx_sequence(av, tmp_path):
    paths = make_image_sequence(tmp_path / "seq", skip=(1004,))
    assert [p.name for p in paths] == [f"plate.{n}.dpx" for n in range(1001, 1011) if n != 1004]
    assert not (tmp_path / "seq" / "plate.1004.dpx").exists()
    (img,) = parse(paths[0]).image_tracks
    assert (img.format, img.width, img.height, img.bit_depth) == ("DPX", 256, 144, 10)
    assert img.format_settings.startswith("Big")
    assert paths[0].read_bytes() != paths[1].read_bytes()


@pytest.mark.parametrize("ext, bits, fmt, depth", [
    ("exr", 16, "EXR", None), ("tiff", 16, "TIFF", 16), ("dpx", 8, "DPX", 8),
])
def test_other_image_formats(av, tmp_path, ext, bits, fmt, depth):
    paths = make_image_sequence(tmp_path, "shot_v001", ext, 1, 3, width=64, height=32,
                                padding=6, sep="_", bits=bits)
    assert [p.name for p in paths] == [f"shot_v001_00000{n}.{ext}" for n in (1, 2, 3)]
    assert parse(paths[0]).general_tracks[0].format == fmt
    (img,) = parse(paths[0]).image_tracks
    assert (img.width, img.height, img.bit_depth) == (64, 32, depth)


def test_image_sequence_rejects_bad_depth(tmp_path):
    with pytest.raises(ValueError, match="unsupported image format"):
        make_image_sequence(tmp_path, ext="tiff", bits=10)


# --------------------------------------------------------------------------- frame grabs


def test_frame_grab_clip_and_image(av, tmp_path):
    clip = make_clip(tmp_path / "c.mov", codec="prores_hq", width=640, height=360, frames=12)
    jpg = frame_grab(clip, tmp_path / "out" / "c.jpg", max_width=320)
    assert jpg == tmp_path / "out" / "c.jpg"
    (img,) = parse(jpg).image_tracks
    assert (img.format, img.width, img.height) == ("JPEG", 320, 180)

    png = frame_grab(clip, tmp_path / "c.png")  # 640 wide: not scaled
    (img,) = parse(png).image_tracks
    assert (img.format, img.width, img.height) == ("PNG", 640, 360)

    (dpx,) = make_image_sequence(tmp_path / "seq", first=1, last=1)
    (img,) = parse(frame_grab(dpx, tmp_path / "d.jpg")).image_tracks
    assert (img.format, img.width, img.height) == ("JPEG", 256, 144)


def test_frame_grab_never_raises(av, tmp_path):
    garbage = tmp_path / "garbage.mov"
    garbage.write_bytes(b"\x00not a movie" * 500)
    empty = tmp_path / "empty.dpx"
    empty.write_bytes(b"")
    wav = make_wav(tmp_path / "a.wav", seconds=0.1)
    for src in (garbage, empty, wav, tmp_path / "missing.mxf", tmp_path):
        assert frame_grab(src, tmp_path / "x.jpg") is None
    assert not (tmp_path / "x.jpg").exists()


def test_codec_table_is_complete():
    assert set(mediagen.CODECS) == {
        "prores_proxy", "prores_lt", "prores_422", "prores_hq", "prores_4444", "dnxhd",
        "dnxhr_lb", "dnxhr_sq", "dnxhr_hq", "dnxhr_hqx", "h264"}
