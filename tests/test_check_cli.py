"""``reelwatch check``: the one-shot contract (JSON keys, exit codes) on real generated media
and, when present, on the shared corpus of real camera and recorder output."""

from __future__ import annotations

import json
import shutil

import pytest

from conftest import corpus_path, reelwatch

KEYS = {"rule", "severity", "path", "message", "owner", "impacts"}


def check_json(*paths: object, config: object = None) -> tuple[int, dict]:
    args = ["check", *map(str, paths), "--format", "json"]
    if config:
        args += ["--config", str(config)]
    out = reelwatch(*args)
    assert out.returncode in (0, 1, 2), out.stderr
    return out.returncode, (json.loads(out.stdout) if out.stdout.strip() else {})


def rules_for(report: dict, name: str) -> set[str]:
    return {f["rule"] for f in report["findings"] if f["path"].endswith(name)}


def test_good_clip_exits_0_with_no_findings(media):
    code, report = check_json(media["prores_2398"])
    assert code == 0
    assert report["findings"] == []
    assert report["checked"] == 1


def test_each_sanity_problem_is_reported_with_exit_1(tmp_path, media):
    for key in ("truncated", "empty", "junk", "prores_2398"):
        shutil.copy(media[key], tmp_path / media[key].name)
    shutil.copy(media["prores_2398"], tmp_path / "Scene 4 take#2.mov")
    code, report = check_json(tmp_path)
    assert code == 1
    for f in report["findings"]:
        assert f.keys() >= KEYS
        assert f["message"] and f["owner"]
    assert rules_for(report, "A002C007_cut.mov") == {"sanity.truncated"}
    assert rules_for(report, media["empty"].name) == {"sanity.empty"}
    assert rules_for(report, media["junk"].name) == {"sanity.unreadable"}
    assert rules_for(report, "Scene 4 take#2.mov") == {"sanity.name_chars"}
    assert rules_for(report, media["prores_2398"].name) == set()
    truncated = next(f for f in report["findings"] if f["rule"] == "sanity.truncated")
    assert truncated["severity"] == "blocker" and "editorial" in truncated["impacts"]
    assert truncated["fix"]


def test_image_sequence_with_missing_frames_is_one_asset(tmp_path):
    from reelwatch.demo.mediagen import make_image_sequence
    make_image_sequence(tmp_path / "plates", name="plate", ext="dpx", first=1001, last=1010,
                        width=64, height=36, skip=(1004, 1005, 1006, 1009))
    code, report = check_json(tmp_path)
    assert code == 1
    assert report["checked"] == 1
    gap = [f for f in report["findings"] if f["rule"] == "sanity.sequence_gap"]
    assert len(gap) == 1
    assert "1004-1006 and 1009" in gap[0]["message"] and "plate.1001-1010#.dpx" in gap[0]["message"]


def test_long_path_is_reported(tmp_path, media):
    deep = tmp_path / ("d" * 120) / ("e" * 120)
    deep.mkdir(parents=True)
    shutil.copy(media["prores_2398"], deep / "A002C006_141024_R2EC.mov")
    code, report = check_json(deep)
    assert code == 0  # a warning, not an error
    assert {f["rule"] for f in report["findings"]} == {"sanity.path_length"}


def test_usage_and_config_errors_exit_2(tmp_path, media):
    assert reelwatch("check").returncode == 2
    assert reelwatch("check", str(tmp_path / "nope.mov")).returncode == 2
    bad = tmp_path / "bad.toml"
    bad.write_text("[prodution]\nname='x'\n")
    out = reelwatch("check", str(media["prores_2398"]), "--config", str(bad))
    assert out.returncode == 2
    assert "did you mean 'production'" in out.stderr


def test_table_output_names_the_problem(tmp_path, media):
    shutil.copy(media["empty"], tmp_path / "x.mov")
    import os
    out = reelwatch("check", str(tmp_path), "--format", "table", env={**os.environ, "COLUMNS": "220"})
    assert out.returncode == 1
    assert "sanity.empty" in out.stdout and "empty (0 bytes)" in out.stdout


def test_unreadable_folder_is_a_clear_finding_and_the_rest_is_checked(tmp_path, media, monkeypatch):
    """Root reads every folder, so the refusal is injected at os.scandir for that folder only."""
    import os
    import reelwatch.checking.oneshot as oneshot
    from reelwatch.checking.oneshot import run_check
    locked = tmp_path / "locked"
    locked.mkdir()
    (locked / "inside.mov").write_bytes(b"")
    shutil.copy(media["prores_2398"], tmp_path / "ok.mov")
    real = os.scandir

    def scandir(path="."):
        if os.path.normpath(str(path)) == str(locked):
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(oneshot.os, "scandir", scandir)
    report = run_check([str(tmp_path)], None)
    assert report.exit_code == 1
    rules = {f.rule: f for f in report.findings}
    assert set(rules) == {"sanity.folder_unreadable"}
    assert "Permission denied" in rules["sanity.folder_unreadable"].message
    assert report.assets == 1  # ok.mov was still checked


# -- the shared corpus of real files (skips when absent) ---------------------------------

@pytest.mark.parametrize("name", ["mdatZeroed_Big_HeaderAtBegin.mov", "mdatZeroed_Big_HeaderAtEnd.mov",
                                  "mdatZeroed_Sample2005_1.mov", "mdatZeroed_Sample_16_9.mov"])
def test_corpus_headers_without_essence_are_truncated(name):
    path = corpus_path("media", "mediaarea_regression", name)
    code, report = check_json(path)
    assert code == 1
    assert "sanity.truncated" in rules_for(report, name)


def test_corpus_truncated_mxf_is_reported():
    path = corpus_path("media", "jcodec", "timecode.mxf")
    code, report = check_json(path)
    assert code == 1 and "sanity.truncated" in rules_for(report, "timecode.mxf")


def test_corpus_intact_files_pass():
    for rel in (("media", "jcodec", "test.prores.mov"), ("media", "pymediainfo", "sample.mp4"),
                ("media", "mediaarea_regression", "MPEG-4_AVC_file1.mp4")):
        code, report = check_json(corpus_path(*rel))
        assert code == 0, report
        assert not [f for f in report["findings"] if f["severity"] in ("error", "blocker")]


def test_corpus_dpx_sequences_with_missing_frames_are_flagged():
    base = corpus_path("media", "rawcooked_regression", "BuggyPackages", "MissingImageInSequence")
    code, report = check_json(base)
    assert code == 1
    gaps = [f for f in report["findings"] if f["rule"] in ("sanity.sequence_gap", "sequence.missing_frames")]
    folders = {p.parent for p in base.rglob("*.dpx")}
    assert len(gaps) >= 1 and len({f["path"].rsplit("/", 1)[0] for f in gaps}) == len(folders)


def test_corpus_pro_tools_name_with_space_is_not_portable():
    base = corpus_path("media", "wavinfo", "protools")
    code, report = check_json(base)
    spaced = [f for f in report["findings"] if f["rule"] == "sanity.name_chars"]
    assert spaced and all(" " in f["path"].rsplit("/", 1)[-1] for f in spaced)


def test_progress_shows_long_hashes_on_a_terminal_only(tmp_path, monkeypatch):
    import reelwatch.cli.progress as cp
    monkeypatch.setattr(cp, "LONG_HASH", 1 << 20)
    big = tmp_path / "big.bin"
    big.write_bytes(b"\1" * (3 << 20))
    seen = []
    with cp.check_progress(enabled=True) as bar:
        digest = bar.hasher(str(big), "xxh128")
        seen.append(digest)
    import xxhash
    assert seen == [xxhash.xxh128(big.read_bytes()).hexdigest()]
    with cp.check_progress(enabled=False) as quiet:
        assert quiet.hasher.on_long is None and quiet.advance is None  # same hashing, no bars
