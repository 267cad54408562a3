"""Files a good QC tool flags and names a recorder really writes: MXF truncation (a VC-3 header
promising frames the file cannot hold, an Open/Incomplete header partition, an OP-Atom file
with no essence) without flagging good MXF; Zoom F8 names; the ARRI clip index after C999."""

from __future__ import annotations

import json
import shutil
from fractions import Fraction

from reelwatch.demo import mediagen
from reelwatch.builtin.sanity import truncation_evidence
from reelwatch.core.model import Facts

from conftest import corpus_path, reelwatch, write_config


def check(*paths, config=None) -> tuple[int, list[dict]]:
    args = ["check", *map(str, paths), "--format", "json"] + (["--config", str(config)] if config else [])
    out = reelwatch(*args)
    assert out.returncode in (0, 1), out.stderr
    return out.returncode, json.loads(out.stdout)["findings"]


# -- MXF ---------------------------------------------------------------------------------------

def test_corpus_mxf_that_a_qc_tool_flags_is_truncated_and_good_mxf_passes():
    folder = corpus_path("media", "regxmllib")
    code, findings = check(folder)
    assert code == 1
    says = {"indirect.mxf": "the header promises 750 frames of 3840x2160 VC-3",
            "open-incomplete-header.mxf": "header partition is still marked Open / Incomplete",
            "class14.mxf": "carries no picture or sound track at all"}
    truncated = {f["path"].rsplit("/", 1)[-1]: f["message"] for f in findings if f["rule"] == "sanity.truncated"}
    assert set(truncated) == set(says), findings
    for name, text in says.items():
        assert text in truncated[name], truncated[name]
    # audio1, audio2, video1, video2, utf8_embedded_text: Closed / Complete with their essence
    serious = {f["path"].rsplit("/", 1)[-1] for f in findings if f["severity"] in ("error", "blocker")}
    assert serious == set(says), findings


def test_good_mxf_made_here_passes_and_an_unfinalised_one_is_flagged(tmp_path):
    clips = [mediagen.make_clip(tmp_path / f"{codec}.mxf", codec=codec, width=w, height=h, rate=Fraction(24),
                                frames=3)
             for codec, w, h in (("dnxhd", 1920, 1080), ("dnxhr_lb", 320, 180), ("prores_hq", 320, 180),
                                 ("h264", 320, 180))]
    code, findings = check(*clips)
    assert code == 0 and not [f for f in findings if f["rule"] == "sanity.truncated"], findings
    # the same DNxHR file with its header partition left as a writer leaves it before finalising
    data = bytearray(clips[1].read_bytes())
    key = bytes.fromhex("060e2b34020501010d010201010204")  # header partition, closed and complete
    assert data.startswith(key)
    data[14] = 0x01  # open and incomplete
    unfinished = tmp_path / "unfinished.mxf"
    unfinished.write_bytes(bytes(data))
    code, findings = check(unfinished)
    assert code == 1 and [f["rule"] for f in findings if f["rule"] == "sanity.truncated"] == ["sanity.truncated"]


def test_vc3_frames_the_file_cannot_hold_are_missing_essence():
    """MediaInfo's own fields for a DNxHR UHD OP-Atom cut short (IsTruncated not set)."""
    general = {"format": "MXF", "format_profile": "OP-Atom", "format_settings": "Closed / Complete",
               "file_size": 1180257, "frame_count": "750"}
    video = {"format": "VC-3", "width": 3840, "height": 2160, "frame_count": "750", "stream_size": 1172756}
    facts = Facts.from_mapping({"kind": "media", "general": general, "video": [video]})
    assert "750 frames of 3840x2160 VC-3" in (truncation_evidence(facts, 1180257) or "")
    # 750 real DNxHR LB UHD frames are 749,568 bytes each: nothing to say
    assert truncation_evidence(facts, 750 * 749568 + 4096) is None


# -- names ---------------------------------------------------------------------------------------

def _naming_config(tmp_path, preset):
    return write_config(tmp_path, extra=f'[[rules.naming.apply]]\nvolume = "ingest"\npreset = "{preset}"\n')


def test_zoom_f8_names_are_valid_sound_names(tmp_path):
    real = corpus_path("media", "wavinfo", "zoom_F8", "DISCRETE", "Scene_1_2AG-T001.TAKE",
                       "Scene_1_2AG-T001_Tr1.WAV")
    config = _naming_config(tmp_path, "sound")
    take = tmp_path / "ingest" / "Scene_1_2AG-T001.TAKE"
    take.mkdir()
    for name in ("Scene_1_2AG-T001_Tr1.WAV", "Scene_1_2AG-T001_Tr1_D.WAV", "Scene_1_2AG-T001_TrL_R.WAV",
                 "Scene_1_2AG-T001_Tr1_2.WAV", "Scene_1_2AG-T001_TrQ.WAV"):
        shutil.copy(real, take / name)  # the F8's own file under each name it writes
    code, findings = check(take, config=config)
    naming = {f["path"].rsplit("/", 1)[-1] for f in findings if f["rule"].startswith("naming.")}
    assert naming == {"Scene_1_2AG-T001_TrQ.WAV"}, findings


def test_arri_clip_index_after_c999_is_d001(tmp_path, media):
    config = _naming_config(tmp_path, "arri")
    for name in ("A004C999_20100610_R1JL.mov", "A004D001_20100610_R1JL.mov", "A004C1000_20100610_R1JL.mov"):
        shutil.copy(media["prores_2398"], tmp_path / "ingest" / name)
    code, findings = check(tmp_path / "ingest", config=config)
    naming = {f["path"].rsplit("/", 1)[-1]: f for f in findings if f["rule"].startswith("naming.")}
    assert set(naming) == {"A004C1000_20100610_R1JL.mov"}, findings
    assert "clip number 'C1000' must be 3 digits" in naming["A004C1000_20100610_R1JL.mov"]["message"]
