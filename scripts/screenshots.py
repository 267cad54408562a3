"""Refresh the web page screenshots under docs/screenshots/ (desktop and phone sizes).

    python scripts/screenshots.py [--keep DIR]

Builds a small production on real files (a RAID and a shuttle with a mirror set, a delivery volume),
runs the real daemon serving the pages (``[web] listen``), copies the clips in as an offload would,
waits for the verdicts, then photographs the overview, the card board, a finding and an asset page in
headless chromium (Debian's /usr/bin/chromium and /usr/bin/chromedriver). Then the overview of a
two-node fleet on a throw-away PostgreSQL server (scripts/fleetshots.py; ``--fleet no`` skips it,
``--fleet only`` makes only it).
"""

from __future__ import annotations

import argparse
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "screenshots"
SIZES = {"desktop": (1366, 900), "phone": (390, 844)}
NTSC = Fraction(24000, 1001)
ROLES = ("dit", "editorial", "vfx", "sound", "supervisor")


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def config_text(base: Path, port: int, inbox: int) -> str:
    roles = "\n".join(f'[roles.{r}]\nnotify = ["json://127.0.0.1:{inbox}/{r}"]\n'
                      + ('escalate_to = "supervisor"\nescalate_after = 1800\n' if r == "dit" else "") for r in ROLES)
    vols = "\n".join(f'[[volumes]]\nname = "{n}"\npath = "{base / n}"\nkind = "{k}"\nowner = "{o}"\nsettle = 0.5\n'
                     f'observer = "inotify"\n' for n, k, o in (("raid_a", "ingest", "dit"),
                                                               ("shuttle", "ingest", "dit"),
                                                               ("delivery", "delivery", "vfx")))
    return f'''[production]
name = "Harbour Lights"
base_frame_rate = "24000/1001"

{roles}
{vols}
[state]
path = "{base / 'state' / 'reelwatch.db'}"

[web]
listen = "127.0.0.1:{port}"

[[rules.mirrors.sets]]
name = "offload"
copies = [{{volume = "raid_a", folder = "Camera Media"}}, {{volume = "shuttle", folder = "Camera Media"}}]

[[rules.naming.apply]]
volume = "raid_a"
glob = "Camera Media/**"
preset = "arri"

[[rules.naming.apply]]
volume = "delivery"
glob = "VFX/**/*.mov"
template = "{{show}}_{{episode}}_{{scene}}_{{shot}}_{{task}}_{{vendor}}_v{{version:03d}}.{{ext}}"

[rules.spec.profiles.camera]
container = ["QuickTime"]
codec = ["ProRes"]
frame_rate = ["24000/1001"]

[[rules.spec.apply]]
volumes = ["raid_a", "shuttle"]
globs = ["Camera Media/**"]
profile = "camera"

[rules.versions]
volumes = ["delivery"]

[notify]
digest_window = 5
'''


def stage_media(stage: Path) -> list[tuple[str, str]]:
    """Clips to copy in: (volume, relpath) under ``stage``."""
    from reelwatch.demo import mediagen
    out: list[tuple[str, str]] = []

    def clip(volumes: tuple[str, ...], rel: str, **kw: object) -> Path:
        src = stage / "src" / rel
        src.parent.mkdir(parents=True, exist_ok=True)
        if not src.exists():
            mediagen.make_clip(src, width=640, height=360, frames=24, **{"rate": NTSC, **kw})  # type: ignore[arg-type]
        out.extend((v, rel) for v in volumes)
        return src

    both = ("raid_a", "shuttle")
    for i in (1, 2, 3):
        clip(both, f"Camera Media/A001R2EC/A001C00{i}_141024_R2EC.mov", codec="prores_hq")
    clip(both, "Camera Media/A002R2EC/A002C006_141024_R2EC.mov", codec="prores_hq")
    cut = clip(("raid_a",), "Camera Media/A002R2EC/A002C007_141024_R2EC.mov", codec="prores_hq", faststart=True)
    mediagen.truncate(cut, keep=0.5)
    clip(both, "Camera Media/A002R2EC/A002C008_141024_R2EC.mov", codec="prores_hq", rate=Fraction(25))
    clip(("raid_a",), "Camera Media/B001R1AB/B001C001_141024_R1AB.mov", codec="prores_hq")
    clip(both, "Camera Media/C003R4XY/C003C011_141024_R4XY.mov", codec="prores_hq")
    clip(("delivery",), "VFX/AGM_104_065_010/AGM_104_065_010_comp_NFX_v001.mov", codec="prores_hq")
    clip(("delivery",), "VFX/AGM_104_065_010/AGM_104_065_010_comp_NFX_v003.mov", codec="prores_hq")
    clip(("delivery",), "VFX/AGM_104_065_020/AGM_104_065_020_comp_NFX_v001.mov", codec="prores_hq")
    clip(("delivery",), "VFX/AGM_104_065_020/AGM_104_065_020_comp_NFX_v002.mov", codec="prores_hq")
    return out


def build(base: Path, inbox: int) -> tuple[subprocess.Popen[bytes], str]:
    port = _port()
    for sub in ("raid_a", "shuttle", "delivery", "state", "stage"):
        (base / sub).mkdir(parents=True, exist_ok=True)
    (base / "production.toml").write_text(config_text(base, port, inbox))
    items = stage_media(base / "stage")
    with open(base / "state" / "daemon.log", "wb") as log:  # the daemon keeps its own copy of the handle
        proc = subprocess.Popen([sys.executable, "-m", "reelwatch.cli", "run", "--config",
                                 str(base / "production.toml")], stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while b"ready" not in (base / "state" / "daemon.log").read_bytes():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"the daemon did not start; see {base / 'state' / 'daemon.log'}")
        time.sleep(0.1)
    for volume, rel in items:
        dest = base / volume / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(base / "stage" / "src" / rel, dest)
    return proc, f"http://127.0.0.1:{port}"


def wait_settled(base: Path, seconds: float = 8.0) -> None:
    """Until the state has not changed for ``seconds`` (every file checked, every card judged)."""
    import sqlite3
    db = base / "state" / "reelwatch.db"
    last, since = -1, time.monotonic()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as c:
                n = c.execute("SELECT COALESCE(MAX(id), 0) FROM audit").fetchone()[0]
        except sqlite3.Error:
            n = -1
        if n != last:
            last, since = n, time.monotonic()
        elif time.monotonic() - since > seconds:
            return
        time.sleep(0.5)


def shoot(base_url: str, db: Path, out: Path) -> list[Path]:
    import sqlite3
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as c:
        fid, vol, rel = c.execute("SELECT id, volume, relpath FROM findings WHERE rule='sanity.truncated' "
                                  "ORDER BY id LIMIT 1").fetchone()
        avol, arel = c.execute("SELECT volume, relpath FROM assets WHERE relpath LIKE '%A001C001%' "
                               "ORDER BY volume LIMIT 1").fetchone()
    pages = {"overview": "/", "cards": "/cards", "finding": f"/findings/{fid}", "shots": "/shots",
             "asset": "/asset?" + urlencode({"volume": avol, "path": arel})}
    return photograph(base_url, pages, out)


def photograph(base_url: str, pages: dict[str, str], out: Path) -> list[Path]:
    """Each page at each size, as ``NAME-SIZE.png`` under ``out``."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    out.mkdir(parents=True, exist_ok=True)
    made = []
    for size, (w, h) in SIZES.items():
        opts = webdriver.ChromeOptions()
        for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--hide-scrollbars",
                    f"--window-size={w},{h}", "--force-device-scale-factor=1"):
            opts.add_argument(arg)
        if size == "phone":
            opts.add_experimental_option("mobileEmulation", {"deviceMetrics": {"width": w, "height": h,
                                                                               "pixelRatio": 2}})
        opts.binary_location = "/usr/bin/chromium"
        drv = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
        try:
            for name, url in pages.items():
                drv.get(base_url + url)
                time.sleep(1.0)  # the frame grab and the live stream's first poll
                full = drv.execute_script(f"return Math.max(document.body.scrollHeight, {h})")
                drv.set_window_size(w, min(int(full) + (0 if size == "phone" else 120), 3000))
                time.sleep(0.3)
                path = out / f"{name}-{size}.png"
                drv.save_screenshot(str(path))
                made.append(path)
                drv.set_window_size(w, h)
        finally:
            drv.quit()
    return made


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--keep", help="build the production in this folder and keep it")
    p.add_argument("--out", default=str(OUT))
    p.add_argument("--fleet", choices=("also", "only", "no"), default="also",
                   help="the two-node fleet's overview (a throw-away PostgreSQL server: scripts/fleetshots.py)")
    args = p.parse_args()
    base = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="reelwatch-shots-"))
    proc = None
    try:
        from reelwatch.demo.inbox import LocalInbox
        with LocalInbox() as inbox:
            if args.fleet != "only":
                proc, url = build(base, inbox.port)
                wait_settled(base)
                for path in shoot(url, base / "state" / "reelwatch.db", Path(args.out)):
                    print(path)
            if args.fleet != "no":
                from fleetshots import fleet_shots
                for path in fleet_shots(base / "fleet", inbox.port, Path(args.out)):
                    print(path)
    finally:
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
