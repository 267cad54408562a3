"""Bad input to ``reelwatch check`` (and the daemon's words for the same): names that are not
UTF-8, a path longer than the system can open, a named pipe, a file that may not be read.

Exit codes keep their meaning in every case: 0 nothing of error severity, 1 errors found,
2 nothing checkable was named; never a crash."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest

from conftest import reelwatch, write_config


def check_json(*paths: object) -> tuple[int, dict, str]:
    out = reelwatch("check", *map(str, paths), "--format", "json")
    assert "Traceback" not in out.stderr, out.stderr
    return out.returncode, (json.loads(out.stdout) if out.stdout.strip() else {}), out.stderr


def test_names_with_bytes_that_are_not_utf8_are_checked_and_reported(tmp_path, media):
    card = tmp_path / os.fsdecode(b"A002R2EC_\xfe")  # a folder, too
    card.mkdir()
    odd = card / os.fsdecode(b"A002C006_141024_R2EC\xff.mov")
    shutil.copy(media["prores_2398"], odd)
    shutil.copy(media["truncated"], card / os.fsdecode(b"A002C007\x80\xff_cut.mov"))
    code, report, _ = check_json(tmp_path)
    assert code == 1  # the truncated clip is a blocker: its content was checked despite its name
    assert report["checked"] == 2
    by_rule = {}
    for f in report["findings"]:
        by_rule.setdefault(f["rule"], []).append(f)
    assert {f["relpath"] for f in by_rule["sanity.name_chars"]} == {
        os.path.relpath(odd, tmp_path), os.path.relpath(card / os.fsdecode(b"A002C007\x80\xff_cut.mov"), tmp_path)}
    assert "byte 0xFF (not UTF-8)" in by_rule["sanity.name_chars"][0]["message"]
    assert [f["relpath"] for f in by_rule["sanity.truncated"]] == [
        os.path.relpath(card / os.fsdecode(b"A002C007\x80\xff_cut.mov"), tmp_path)]
    assert "sanity.unreadable" not in by_rule  # the good clip was read as media, whatever its name
    # the JSON path names the very file (Python's escape for a byte that is not UTF-8)
    assert {Path(f["path"]).exists() for f in by_rule["sanity.name_chars"]} == {True}
    table = reelwatch("check", str(tmp_path), "--format", "table", env={**os.environ, "COLUMNS": "250"})
    assert table.returncode == 1 and "Traceback" not in table.stderr, table.stderr
    assert "\u27e80xFF\u27e9" in table.stdout  # ⟨0xFF⟩: shown, escaped


def deep_tree(top: Path, length: int = 4200) -> str:
    """Folders nested (through directory descriptors) until one file's path is ``length`` bytes."""
    fd = os.open(top, os.O_RDONLY | os.O_DIRECTORY)
    path_len = len(os.fsencode(top))
    while path_len < length - 250:
        os.mkdir("d" * 200, dir_fd=fd)
        inner = os.open("d" * 200, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        os.close(fd)
        fd, path_len = inner, path_len + 201
    name = "A002C006_" + "x" * 180 + ".mov"
    out = os.open(name, os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)
    os.write(out, b"\0" * 100)
    os.close(out)
    os.close(fd)
    return name


def test_a_tree_whose_only_file_is_too_deep_to_open_is_not_a_silent_all_clear(tmp_path):
    deep_tree(tmp_path)
    code, report, _ = check_json(tmp_path)
    assert code == 1, report
    assert report["checked"] == 0
    assert [f["rule"] for f in report["findings"]] == ["sanity.not_checked"]
    assert "longer than this system can open" in report["findings"][0]["message"]
    assert any(p.startswith("nothing was checked") for p in report["problems"])
    table = reelwatch("check", str(tmp_path), "--format", "table")
    assert table.returncode == 1 and "nothing was checked" in table.stdout
    assert "no problems found" not in table.stdout


def test_a_named_pipe_gets_the_right_words(tmp_path, media):
    pipe = tmp_path / "capture.fifo"
    os.mkfifo(pipe)
    code, report, stderr = check_json(pipe)
    assert code == 2
    [problem] = report["problems"]
    assert "named pipe" in problem and "Not a directory" not in problem and "folder" not in problem.split(":")[-1]
    assert report["findings"] == []
    shutil.copy(media["prores_2398"], tmp_path / "A002C006_141024_R2EC.mov")
    code, report, _ = check_json(tmp_path)  # in a tree: the clip is checked, the pipe listed as skipped
    assert code == 0 and report["checked"] == 1
    assert report["skipped"] == [{"path": "capture.fifo", "why": "a named pipe (FIFO)"}]


def refuse_reads(monkeypatch: pytest.MonkeyPatch, path: Path, chmod: bool = True) -> None:
    """chmod 000, and as root (who reads anything) the refusal injected where reelwatch asks."""
    if chmod:
        path.chmod(0)
    if os.geteuid() != 0:
        return
    import reelwatch.probe.pool as probe
    real = os.open

    def fake_open(p, flags, *a, **kw):
        if os.fspath(p) == str(path) and not flags & (os.O_WRONLY | os.O_RDWR):
            raise PermissionError(13, "Permission denied", str(p))
        return real(p, flags, *a, **kw)
    monkeypatch.setattr(probe.os, "open", fake_open)


def test_a_file_that_may_not_be_read_is_said_so(tmp_path, media, monkeypatch):
    from reelwatch.checking.oneshot import run_check
    locked = tmp_path / "A002C006_141024_R2EC.mov"
    shutil.copy(media["prores_2398"], locked)
    refuse_reads(monkeypatch, locked)
    report = run_check([str(tmp_path)], None)
    assert report.exit_code == 1
    [f] = report.findings
    assert f.rule == "sanity.permission_denied"
    assert "cannot be read (permission denied)" in f.message
    assert "copy it again" not in f.fix and "not readable media" not in f.message
    assert "chmod" in f.fix


def test_the_daemon_uses_the_same_words_for_a_file_it_may_not_read(tmp_path, media, inbox, monkeypatch):
    from reelwatch.service.daemon import Daemon
    config = write_config(tmp_path, inbox, settle=0.2)
    locked = tmp_path / "ingest" / "A002C006_141024_R2EC.mov"
    staged = tmp_path / "staged.mov"  # made outside the volume, then moved in, already locked
    shutil.copy(media["prores_2398"], staged)
    staged.chmod(0)
    daemon = Daemon(config, env={}, tick=0.05)
    try:
        daemon.start()
        refuse_reads(monkeypatch, locked, chmod=False)
        os.rename(staged, locked)
        got = inbox.wait_for(1, 20, role="dit")
        assert got, "the owner was not told"
        body = got[0].body["message"]
        assert "cannot be read (permission denied)" in body and "sanity.permission_denied" in body
        assert "copy it again" not in body
    finally:
        daemon.stop(drain=0)
        time.sleep(0.1)


def test_the_daemon_reports_a_name_that_is_not_utf8_as_a_name_not_an_unreadable_folder(tmp_path, media, inbox,
                                                                                       daemon):
    config = write_config(tmp_path, inbox, settle=0.2)
    card = tmp_path / "ingest" / "A002R2EC"
    card.mkdir()
    before_start = card / os.fsdecode(b"A002C005\xff.mov")  # found by the first reconcile
    shutil.copy(media["prores_2398"], before_start)
    d = daemon(config)
    d.wait_ready()
    shutil.copy(media["prores_2398"], card / os.fsdecode(b"A002C006\xfe.mov"))  # seen live
    assert inbox.wait_for(1, 20, role="dit"), d.output()
    time.sleep(2)
    assert d.stop() == 0
    d2 = daemon(config)  # a restart: the names are known, nothing is checked or told again
    d2.wait_ready()
    time.sleep(1.5)
    assert d2.stop() == 0
    told = " ".join(m.body["message"] + m.body["title"] for m in inbox.received)
    assert "sanity.name_chars" in told and "\u27e80xFF\u27e9" in told and "\u27e80xFE\u27e9" in told
    assert "unreadable" not in told.lower()
    checked = {json.loads(line)["path"] for line in d.output().splitlines() if '"checked"' in line}
    assert checked == {os.fsdecode(b"A002R2EC/A002C005\xff.mov"), os.fsdecode(b"A002R2EC/A002C006\xfe.mov")}
    assert '"checked"' not in d2.output()  # known by their names: nothing is checked again
