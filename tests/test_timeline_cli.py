"""``reelwatch timeline PATH --config FILE``: the conform report of one cut list, exit 0/1/2 like
``check`` (the daemon-backed case is in test_timeline_daemon.py)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from conftest import reelwatch, write_config

pytest.importorskip("opentimelineio")
DATA = Path(__file__).resolve().parent / "data" / "timelines"


def test_report_exit_codes_and_json(tmp_path):
    config = write_config(tmp_path, volumes={"nas": "editorial"})
    nas = tmp_path / "nas"
    good = shutil.copy2(DATA / "otio-fcp-adapter" / "premiere_example.xml", nas / "premiere_example.xml")
    done = reelwatch("timeline", str(good), "--config", str(config), "--format", "json")
    data = json.loads(done.stdout)
    # no daemon has filled the state database: every event is offline, and it says why
    assert done.returncode == 1 and data["notes"], done.stderr
    (tl,) = data["timelines"]
    assert tl["counts"]["events"] == tl["counts"]["offline"] > 0
    assert data["volume"] == "nas" and data["relpath"] == "premiere_example.xml"
    assert {i["rule"] for i in tl["issues"]} >= {"conform.offline"}
    broken = shutil.copy2(DATA / "otio-cmx3600-adapter" / "dissolve_test_fail.edl", nas / "dissolve_test_fail.edl")
    done = reelwatch("timeline", str(broken), "--config", str(config), "--format", "json")
    assert done.returncode == 1
    assert [i["rule"] for i in json.loads(done.stdout)["issues"]] == ["conform.unreadable"]
    assert reelwatch("timeline", str(nas / "missing.edl"), "--config", str(config)).returncode == 2
    bad = tmp_path / "bad.toml"
    bad.write_text("[production\n")
    assert reelwatch("timeline", str(good), "--config", str(bad)).returncode == 2
    empty = nas / "empty_cut.edl"
    empty.write_text("TITLE: nothing\nFCM: NON-DROP FRAME\n")
    done = reelwatch("timeline", str(empty), "--config", str(config))
    assert done.returncode in (0, 1) and "Traceback" not in done.stderr, done.stderr


def test_timelines_config_mistakes_are_reported_with_their_lines(tmp_path):
    config = write_config(tmp_path, volumes={"nas": "editorial"}, extra=(
        '[[timelines]]\npaths = ["Turnover/*.edl"]\nvolume = "nass"\npurpose = "pull"\n'
        'shot_pattern = "AGM_[0-9"\n[rules.conform]\nfail_at = "fatal"\ndemote = true\n'))
    done = reelwatch("config", "validate", str(config))
    assert done.returncode == 2
    err = done.stderr
    assert "timelines[0].volume: volume 'nass' is not defined under [[volumes]] (did you mean 'nas'?)" in err, err
    assert "timelines[0].purpose" in err and "timelines[0].shot_pattern" in err and "not a regular expression" in err
    assert "rules.conform.fail_at" in err and "rules.conform.demote" in err
    assert f"{config}:" in err
