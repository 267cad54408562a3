"""``reelwatch check --format html`` and a card's offload report: one self-contained, escaped file each."""

from __future__ import annotations

import re
import shutil
import warnings
from pathlib import Path

from reelwatch.checking.runtime import load_runtime
from reelwatch.core.model import Asset, Facts, Finding, Severity
from reelwatch.state.store import Store

from conftest import reelwatch, write_config

XSS = "<img src=x onerror=alert(1)>.mov"


def _self_contained(html: str) -> None:
    assert "<link" not in html and "<script" not in html  # nothing fetched, nothing run
    assert not re.search(r'(src|href)="(https?:)?//', html)
    assert "<style>" in html


def test_check_html_is_one_self_contained_file(tmp_path: Path, media: dict[str, Path]) -> None:
    card = tmp_path / "A002R2EC"
    card.mkdir()
    shutil.copy(media["truncated"], card / "A002C007_141024_R2EC.mov")
    shutil.copy(media["truncated"], card / XSS)
    shutil.copy(media["prores_2398"], card / "A002C006_141024_R2EC.mov")
    out = tmp_path / "report.html"
    done = reelwatch("check", str(card), "--format", "html", "-o", str(out))
    assert done.returncode == 1, done.stderr  # errors found, as with the other formats
    html = out.read_text()
    _self_contained(html)
    assert "&lt;img src=x onerror=alert(1)&gt;.mov" in html and "<img src=x" not in html
    assert html.count("sanity.truncated") == 2 and "checked 3 asset(s)" in html
    assert re.search(r'<img alt="a frame of this file" src="data:image/jpeg;base64,[A-Za-z0-9+/=]{500,}"', html)
    to_stdout = reelwatch("check", str(card / "A002C006_141024_R2EC.mov"), "--format", "html")
    assert to_stdout.returncode == 0 and "No problems found." in to_stdout.stdout


def test_card_offload_report(tmp_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient
    from reelwatch.web.app import create_app
    config = load_runtime(str(write_config(tmp_path, volumes={"raid_a": "dit", "shuttle": "dit"})), None).config
    store = Store(tmp_path / "state.db")
    clip = tmp_path / "raid_a" / "Camera Media" / "A002R2EC" / "A002C006.mov"
    clip.parent.mkdir(parents=True)
    clip.write_bytes(b"x" * 1000)
    st = clip.stat()
    asset = Asset(volume="raid_a", root=str(tmp_path / "raid_a"), relpath="Camera Media/A002R2EC/A002C006.mov",
                  size=1000, mtime_ns=st.st_mtime_ns)
    store.commit_check(asset, Facts(kind="media", general={"duration": "1001"}), [], lambda f: [], 1)
    store.save_hash(str(clip), "xxh128", 1000, st.st_mtime_ns, "0123456789abcdef0123456789abcdef")
    unit = Asset(volume="raid_a", root=str(tmp_path / "raid_a"), relpath="Camera Media/A002R2EC", size=1000,
                 mtime_ns=1)
    safe = Finding("mirror.safe_to_format", Severity.INFO, unit, "Card A002R2EC is safe to format: its only file "
                   "matches on raid_a and shuttle (xxh128)", owner="dit",
                   details={"set": "offload", "unit": "A002R2EC", "copies": ["raid_a", "shuttle"], "files": 1,
                            "bytes": 1000, "seals": {"raid_a": [], "shuttle": []},
                            "positive": {"headline": "A002R2EC is safe to format"}})
    store.commit_batch([safe], ["raid_a/Camera Media"], ["mirrors"], lambda f: [("dit", "new")])
    c = TestClient(create_app(config), base_url="http://127.0.0.1:8765")
    board = c.get("/cards").text
    assert "SAFE TO FORMAT" in board and "verdict-safe" in board
    html = c.get("/cards/report?set=offload&unit=A002R2EC").text
    _self_contained(html)
    assert "SAFE TO FORMAT" in html and "A002C006.mov" in html and "1.00 s" in html
    assert "xxh128:0123456789abcdef0123456789abcdef" in html
    # the same card with a problem open on it: red, whatever the earlier verdict said
    bad = Finding("mirror.mismatch", Severity.BLOCKER, unit, "Do not format card A002R2EC: A002C006.mov differs",
                  owner="dit", details={"set": "offload", "unit": "A002R2EC", "copies": ["raid_a", "shuttle"]})
    store.commit_batch([safe, bad], ["raid_a/Camera Media"], ["mirrors"], lambda f: [("dit", "new")])
    board = c.get("/cards").text
    assert "DO NOT FORMAT" in board and "SAFE TO FORMAT" not in board and "A002C006.mov differs" in board
    assert "DO NOT FORMAT" in c.get("/cards/report?set=offload&unit=A002R2EC").text
    assert c.get("/cards/report?set=offload&unit=NOPE").status_code == 404
