"""``reelwatch demo``: a throwaway production, end to end, with no network and no config.

It creates an ingest volume and a delivery volume, writes a production config, starts the
real daemon (``reelwatch run``) in a child process, copies generated clips in (some good,
some that break the rules, one copied slowly in chunks), and shows each role's inbox as
apprise delivers to a local HTTP receiver on 127.0.0.1.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.panel import Panel

from .inbox import LocalInbox, Received

ROLES = ("dit", "editorial", "vfx", "sound", "supervisor")
NTSC = Fraction(24000, 1001)


def demo_config(base: Path, inbox: LocalInbox) -> str:
    roles = "\n".join(f'[roles.{r}]\nnotify = ["{inbox.url(r)}"]\n' for r in ROLES)
    return f'''# A throwaway production written by `reelwatch demo`.
[production]
name = "Harbour Lights (demo)"
base_frame_rate = "24000/1001"

{roles}
[[volumes]]
name = "ingest"
path = "{base / 'ingest'}"
kind = "ingest"
owner = "dit"
settle = 1
observer = "inotify"

[[volumes]]
name = "delivery"
path = "{base / 'delivery'}"
kind = "delivery"
owner = "vfx"
settle = 1
observer = "inotify"

[state]
path = "{base / 'state' / 'reelwatch.db'}"

[[rules.naming.apply]]
volume = "ingest"
glob = "Camera Media/**"
preset = "arri"

[[rules.naming.apply]]
volume = "delivery"
glob = "VFX/**/*.mov"
template = "{{show}}_{{episode}}_{{scene}}_{{shot}}_{{task}}_{{vendor}}_v{{version:03d}}.{{ext}}"

[rules.spec.profiles.camera]
container = ["QuickTime"]
codec = ["ProRes"]
codec_profile = ["422 HQ"]
audio_sample_rate = 48000
timecode = "required"

[[rules.spec.apply]]
volumes = ["ingest"]
globs = ["Camera Media/**"]
profile = "camera"

[rules.versions]
volumes = ["delivery"]

[notify]
digest_window = 2
'''


def _make_media(stage: Path) -> list[tuple[str, Path, str]]:
    """Generate the demo's clips in a staging folder: (volume, relpath, why)."""
    from . import mediagen
    cam = Path("Camera Media/A002R2EC")
    items: list[tuple[str, Path, str]] = []

    def clip(volume: str, rel: Path, why: str, **kw: object) -> Path:
        dest = stage / volume / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        mediagen.make_clip(dest, width=640, height=360, frames=12, **kw)  # type: ignore[arg-type]
        items.append((volume, rel, why))
        return dest

    clip("ingest", cam / "A002C006_141024_R2EC.mov", "good: ProRes 422 HQ, 23.976, timecode")
    bad = clip("ingest", cam / "A002C007_141024_R2EC.mov", "copy cut short (faststart header, half the essence)",
               faststart=True)
    mediagen.truncate(bad, keep=0.5)
    clip("ingest", cam / "A002C008_141024_R2EC.mov", "shot at 25 fps: the production is 23.976",
         rate=Fraction(25))
    clip("ingest", cam / "A002C9_141024_R2EC.mov", "clip number with 1 digit instead of 3")
    clip("delivery", Path("VFX/AGM_104_065_010/AGM_104_065_010_comp_NFX_v001.mov"), "good delivery")
    clip("delivery", Path("VFX/AGM_104_065_010/AGM_104_065_010_comp_NFX_v003.mov"), "v003 delivered, v002 never was")
    seq = stage / "delivery/VFX/AGM_104_065_010/plates"
    mediagen.make_image_sequence(seq, name="AGM_104_065_010_PL01_v001", ext="dpx", first=1001, last=1012,
                                 width=128, height=72, skip=(1005, 1006))
    items.append(("delivery", Path("VFX/AGM_104_065_010/plates"), "DPX plate with frames 1005-1006 missing"))
    empty = stage / "delivery/Editorial/AGM_104_reel1.mov"
    empty.parent.mkdir(parents=True, exist_ok=True)
    empty.touch()
    items.append(("delivery", Path("Editorial/AGM_104_reel1.mov"), "empty file"))
    return items


def copy_in_chunks(src: Path, dest: Path, chunks: int = 4, pause: float = 0.4) -> None:
    """Copy like a slow card reader: a few chunks with pauses, flushed as they go."""
    data = src.read_bytes()
    step = max(1, len(data) // chunks)
    dest.parent.mkdir(parents=True, exist_ok=True)
    with open(dest, "wb") as fh:
        for i in range(0, len(data), step):
            fh.write(data[i:i + step])
            fh.flush()
            time.sleep(pause)


def _show(console: Console, msg: Received) -> None:
    body = str(msg.body.get("message", ""))
    lines = body.splitlines()
    shown = "\n".join(lines[:24]) + (f"\n… ({len(lines) - 24} more lines)" if len(lines) > 24 else "")
    console.print(Panel(escape(shown), title=f"[bold]{escape(msg.role)}[/bold] inbox: {escape(str(msg.body.get('title', '')))}",
                        title_align="left", border_style="cyan"))


def run_demo(where: Path | None = None, *, keep: bool = False, timeout: float = 45.0) -> int:
    console = Console(highlight=False)
    started = time.monotonic()
    from .mediagen import have_pyav
    if not have_pyav():
        console.print("[red]The demo generates real clips with PyAV: pip install 'reelwatch[media]'[/red]")
        return 2
    base = Path(tempfile.mkdtemp(prefix="reelwatch-demo-")) if where is None else where
    base.mkdir(parents=True, exist_ok=True)
    proc: subprocess.Popen[bytes] | None = None
    try:
        with LocalInbox() as inbox:
            for sub in ("ingest", "delivery", "state", "stage"):
                (base / sub).mkdir(parents=True, exist_ok=True)
            config = base / "production.toml"
            config.write_text(demo_config(base, inbox))
            console.print(f"[bold]reelwatch demo[/bold]: production in {escape(str(base))}")
            items = _make_media(base / "stage")
            log = open(base / "state" / "daemon.log", "wb")  # noqa: SIM115 -- the daemon child writes to it; closed after it stops
            proc = subprocess.Popen([sys.executable, "-m", "reelwatch.cli", "run", "--config", str(config)],
                                    stdout=log, stderr=subprocess.STDOUT)
            time.sleep(1.5)
            if proc.poll() is not None:
                console.print(f"[red]the daemon exited early; see {escape(str(base / 'state' / 'daemon.log'))}[/red]")
                return 1
            for volume, rel, why in items:
                src, dest = base / "stage" / volume / rel, base / volume / rel
                console.print(f"copying [cyan]{escape(volume)}/{escape(str(rel))}[/cyan]: {escape(why)}")
                if "cut short" in why:
                    copy_in_chunks(src, dest)
                elif src.is_dir():
                    shutil.copytree(src, dest, dirs_exist_ok=True)
                else:
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(src, dest)
            seen = 0
            deadline = time.monotonic() + timeout
            quiet_since = time.monotonic()
            while time.monotonic() < deadline:
                got = inbox.wait_for(seen + 1, 0.5)
                for msg in got[seen:]:
                    _show(console, msg)
                    quiet_since = time.monotonic()
                seen = len(got)
                if seen and time.monotonic() - quiet_since > 4:
                    break
            per_role = {r: sum(1 for m in inbox.received if m.role == r) for r in ROLES}
    finally:
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
        if where is None and not keep:
            shutil.rmtree(base, ignore_errors=True)
    took = time.monotonic() - started
    summary = ", ".join(f"{r}: {n}" for r, n in per_role.items())
    console.print(f"[bold]done in {took:.1f} s[/bold]: {seen} message(s) delivered ({summary}).")
    if keep or where is not None:
        console.print(f"The production is kept in {escape(str(base))}; try: reelwatch findings --config "
                      f"{escape(str(base / 'production.toml'))}")
    return 0 if seen else 1
