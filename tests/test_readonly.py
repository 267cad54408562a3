"""Read-only by default: running reelwatch over a tree changes nothing in it, not even atimes."""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from pathlib import Path

import pytest

from conftest import reelwatch, write_config


def snapshot(root: Path) -> dict[str, tuple]:
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st = p.lstat()
            digest = ""
            if p.is_file():  # read without touching the atime we are here to watch
                fd = os.open(p, os.O_RDONLY | os.O_NOATIME)
                with os.fdopen(fd, "rb") as fh:
                    digest = hashlib.sha256(fh.read()).hexdigest()
            out[str(p.relative_to(root))] = (digest, st.st_size, st.st_mtime_ns, st.st_mode, st.st_ino,
                                             st.st_atime_ns, st.st_uid, st.st_gid)
    return out


def build_tree(root: Path, media: dict) -> None:
    from reelwatch.demo.mediagen import make_image_sequence
    card = root / "Camera Media" / "A002R2EC"
    card.mkdir(parents=True)
    for key in ("prores_2398", "prores_25", "truncated", "empty", "junk", "dnxhr", "wav"):
        shutil.copy(media[key], card / media[key].name)
    make_image_sequence(root / "VFX" / "plates", name="plate", ext="dpx", first=1001, last=1008,
                        width=64, height=36, skip=(1004,))
    (root / "notes.txt").write_text("call sheet\n")
    # sidecars reelwatch reads: an ASC MHL history (.mhl and ascmhl_chain.xml) and an md5 list
    from reelwatch.integrity.mhl.create import create_generation
    create_generation(card)
    sound = root / "Sound Media" / "S001"
    sound.mkdir(parents=True)
    shutil.copy(media["wav"], sound / media["wav"].name)
    digest = hashlib.md5((sound / media["wav"].name).read_bytes()).hexdigest()
    (sound / "sum.md5").write_text(f"{digest}  {media['wav'].name}\n")
    # make every atime older than every mtime: a read under relatime would then update it
    past = time.time() - 3 * 86400
    for dirpath, _, filenames in os.walk(root):
        for name in filenames:
            p = Path(dirpath) / name
            st = p.stat()
            os.utime(p, ns=(int(past * 1e9), st.st_mtime_ns))


SIDECARS = (".md5", ".mhl", ".xml")


@pytest.mark.parametrize("noatime", [None, True], ids=["default", "noatime"])
def test_daemon_and_check_leave_the_watched_tree_untouched(tmp_path, media, inbox, daemon, noatime):
    config = write_config(tmp_path, inbox, settle=0.3, digest=0.5,
                          extra="[probe]\nnoatime = true\n" if noatime else "")
    volume = tmp_path / "ingest"
    build_tree(volume, media)
    before = snapshot(volume)
    d = daemon(config)
    d.wait_ready()
    assert inbox.wait_for(1, 30, role="dit"), d.output()
    time.sleep(2)
    assert d.stop() == 0
    out = reelwatch("check", str(volume), "--config", str(config), "--format", "json")
    assert out.returncode == 1
    after = snapshot(volume)
    assert after.keys() == before.keys(), "files were added or removed on the watched volume"
    changed = {k: (before[k], after[k]) for k in before if before[k][:5] != after[k][:5]}
    assert not changed, f"changed on the watched volume: {changed}"
    atimes = {k for k in before if before[k][5] != after[k][5] and not (volume / k).is_dir()}
    read = {k for k in before if k.endswith(SIDECARS)}
    assert len(read) >= 3, sorted(before)
    # MediaInfo opens media itself (its stream mode reports wrong facts), so a media file's first
    # read may set its access time; every sidecar reelwatch reads itself is read with O_NOATIME
    assert not atimes & read, f"access times of sidecars changed: {sorted(atimes & read)}"
    if noatime:
        assert "noatime: no longer supported" in d.output()
        out = reelwatch("config", "validate", str(config))
        assert out.returncode == 0 and "noatime: no longer supported" in out.stderr


def test_noatime_setting_no_longer_flags_good_mxf_as_truncated(tmp_path, media):
    """``[probe] noatime = true`` used MediaInfo's stream mode, which reported Closed/Complete MXF
    files as truncated (IsTruncated) BLOCKERs; the setting is now ignored with a warning."""
    import json
    folder = tmp_path / "card"
    folder.mkdir()
    shutil.copy(media["dnxhr"], folder / media["dnxhr"].name)
    try:
        from conftest import corpus_path
        for name in ("video1.mxf", "video2.mxf"):
            shutil.copy(corpus_path("media", "regxmllib", name), folder / name)
    except pytest.skip.Exception:
        pass
    config = tmp_path / "noatime.toml"
    config.write_text("[probe]\nnoatime = true\n")
    out = reelwatch("check", str(folder), "--config", str(config), "--format", "json")
    report = json.loads(out.stdout)
    truncated = [f["path"] for f in report["findings"] if f["rule"] == "sanity.truncated"]
    assert truncated == [], report["findings"]
