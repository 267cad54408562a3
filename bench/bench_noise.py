"""Noise on a realistic offload day: findings and notices per real problem.

Usage: python bench/bench_noise.py [--json] [--keep]

The real daemon watches a DIT cart (an offload RAID and a shuttle drive, one mirror set) and the
edit NAS. Three camera cards are offloaded to both copies the way a copy tool does it (A002 and
A003 sealed with an ASC MHL history on the card first), then VFX delivers to the NAS, and later
one delivery is overwritten in place. Thirteen distinct things are wrong, each a real problem a
person has to act on once:

* A002 (sealed): a clip half-copied to the shuttle; the same bit flip in one clip on both copies
  (a bad read from the card); a clip missing from both copies;
* A004 (copied faithfully to both): a 25 fps clip, a clip with no audio, a name with a space and
  '#', an empty clip, a clip MediaInfo cannot read, a DNxHR clip where ProRes is required;
* the NAS: a plate with missing frames, two comps each at a different wrong resolution, and a comp
  re-rendered over a delivered version.

A003 is perfect: its "safe to format" is good news, not a problem. Each finding is attributed to
the problem whose file it names; the card verdicts of the mirror rule are counted apart.

Measured, after everything has been delivered:

* findings per problem: findings anyone was told about, per real problem (1.0: one each);
* notices per problem and role: the items each role received about each problem it heard of
  (1.0: every role hears about each of its problems exactly once);
* the noise ratio: all problem items received by all roles / (role, problem) pairs reached.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import sys
import tempfile
import time
from collections import Counter, defaultdict
from fractions import Fraction
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import Daemon  # noqa: E402

from reelwatch.demo import mediagen  # noqa: E402
from reelwatch.demo.inbox import LocalInbox  # noqa: E402
from reelwatch.integrity.mhl.create import create_generation  # noqa: E402

NTSC = Fraction(24000, 1001)
ROLES = ("dit", "editorial", "vfx", "sound", "colour", "supervisor", "admin")
PROBLEM_KINDS = ("new", "affects", "escalated", "changed")
CARD_FILES = "Camera Media"

PROBLEMS = {
    "A002C002": "half-copied to the shuttle",
    "A002C003": "the same bit flip on both copies",
    "A002C004": "missing from both copies (listed in the seal)",
    "A004C001": "25 fps in a 23.976 production",
    "A004C002": "no audio where the camera profile requires it",
    "A004C003 take#2": "a space and '#' in the name",
    "A004C004": "an empty clip",
    "A004C005": "not readable media",
    "A004C006": "DNxHR where ProRes 422 HQ is required",
    "HL_101_010_0020_plate": "a plate with missing frames",
    "HL_101_010_0030_comp": "a comp at 1280x720",
    "HL_101_010_0040_comp": "a comp at 640x360",
    "HL_101_010_0050_comp": "a comp re-rendered over a delivered version",
}


def config(base: Path, inbox: LocalInbox) -> Path:
    roles = "\n".join(f'[roles.{r}]\nnotify = ["{inbox.url(r)}"]\n' for r in ROLES)
    vols = "".join(f'[[volumes]]\nname = "{name}"\npath = "{base / name}"\nkind = "{kind}"\nowner = "{owner}"\n'
                   f'settle = 1\nobserver = "inotify"\n\n'
                   for name, kind, owner in (("raid_a", "ingest", "dit"), ("shuttle", "ingest", "dit"),
                                             ("nas", "delivery", "vfx")))
    text = f'''[production]
name = "Harbour Lights"
base_frame_rate = "24000/1001"

{roles}
{vols}
[state]
path = "{base / 'state.db'}"

[notify]
digest_window = 2
retry_base = 0.2

[[rules.naming.apply]]
volumes = ["raid_a", "shuttle"]
glob = "{CARD_FILES}/**"
preset = "arri"

[[rules.naming.apply]]
volume = "nas"
glob = "VFX/**"
template = "{{show}}_{{episode}}_{{scene}}_{{shot}}_{{task}}_{{vendor}}_v{{version:03d}}.{{ext}}"

[rules.spec.profiles.camera]
container = ["QuickTime", "MXF"]
codec = ["ProRes"]
codec_profile = ["422 HQ"]
audio_sample_rate = 48000
audio_bit_depth = [24]
timecode = "required"

[rules.spec.profiles.comp]
container = ["QuickTime"]
codec = ["ProRes"]
resolution = ["1920x1080"]

[[rules.spec.apply]]
volumes = ["raid_a", "shuttle"]
globs = ["{CARD_FILES}/**"]
profile = "camera"

[[rules.spec.apply]]
volumes = ["nas"]
globs = ["VFX/**/*.mov"]
profile = "comp"

[[rules.mirrors.sets]]
name = "offload"
copies = [{{volume = "raid_a", folder = "{CARD_FILES}"}}, {{volume = "shuttle", folder = "{CARD_FILES}"}}]
'''
    path = base / "production.toml"
    path.write_text(text)
    return path


def clip(path: Path, **kw: object) -> Path:
    kw.setdefault("width", 320)
    kw.setdefault("height", 180)
    kw.setdefault("rate", NTSC)
    return mediagen.make_clip(path, **kw)  # type: ignore[arg-type]


def flip(path: Path) -> None:
    """One byte changed, size and mtime kept: a bad read that both copies took from the card."""
    st = path.stat()
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x10
    path.write_bytes(bytes(data))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def cards(stage: Path) -> dict[str, Path]:
    """The camera cards as they come out of the camera (A002 and A003 sealed on the card)."""
    out = {}
    for card, n in (("A002R2EC", 6), ("A003R2EC", 3)):
        folder = stage / card
        for i in range(1, n + 1):
            clip(folder / "Clips" / f"{card[:4]}C{i:03d}_141024_R2EC.mov")
        create_generation(folder, "xxh128", tool="bench card seal")
        out[card] = folder
    a004 = stage / "A004R2EC" / "Clips"
    clip(a004 / "A004C001_141024_R2EC.mov", rate=Fraction(25))
    clip(a004 / "A004C002_141024_R2EC.mov", audio_channels=0)
    clip(a004 / "A004C003 take#2.mov")
    (a004 / "A004C004_141024_R2EC.mov").write_bytes(b"")
    (a004 / "A004C005_141024_R2EC.mxf").write_bytes(os.urandom(8192))
    clip(a004 / "A004C006_141024_R2EC.mxf", codec="dnxhr_hqx")
    out["A004R2EC"] = a004.parent
    return out


def offload(stage: dict[str, Path], base: Path) -> None:
    """Both copies, with the day's faults: a cut copy, a bad read on both, a clip left out."""
    for dest in ("raid_a", "shuttle"):
        for card, src in stage.items():
            target = base / dest / CARD_FILES / card
            shutil.copytree(src, target, ignore=shutil.ignore_patterns("A002C004_*"))
            if card == "A002R2EC":
                flip(target / "Clips" / "A002C003_141024_R2EC.mov")
                if dest == "shuttle":
                    cut = target / "Clips" / "A002C002_141024_R2EC.mov"
                    mediagen.truncate(src / "Clips" / cut.name, cut, keep=0.5)


def deliver(base: Path) -> Path:
    """VFX renders to its own disk, then moves each delivery into place (as a render farm does: no file is
    ever seen half-written on the NAS)."""
    farm, vfx = base / "farm", base / "nas" / "VFX"
    mediagen.make_image_sequence(farm / "HL_101_010_0020_plate_ACME_v001", "HL_101_010_0020_plate_ACME_v001",
                                 "dpx", 1001, 1010, width=64, height=36, skip=(1004, 1005))
    clip(farm / "HL_101_010_0030_comp_ACME_v001.mov", width=1280, height=720)
    clip(farm / "HL_101_010_0040_comp_ACME_v001.mov", width=640, height=360)
    clip(farm / "HL_101_010_0050_comp_ACME_v001.mov", width=1920, height=1080, frames=4)
    vfx.mkdir(parents=True, exist_ok=True)
    for item in sorted(farm.iterdir()):
        os.replace(item, vfx / item.name)
    return vfx / "HL_101_010_0050_comp_ACME_v001.mov"


def quiet(db_path: Path, settle: float = 4.0, timeout: float = 240) -> None:
    """Wait until nothing new was checked, noticed or sent for ``settle`` seconds."""
    deadline = time.monotonic() + timeout
    last, since = None, time.monotonic()
    while time.monotonic() < deadline:
        db = sqlite3.connect(db_path)
        try:
            state = db.execute("SELECT (SELECT COUNT(*) FROM audit), (SELECT COUNT(*) FROM notices WHERE "
                               "message_id IS NULL), (SELECT COUNT(*) FROM outbox WHERE state='pending')").fetchone()
        except sqlite3.OperationalError:
            state = None
        finally:
            db.close()
        if state != last:
            last, since = state, time.monotonic()
        elif state and not state[1] and not state[2] and time.monotonic() - since >= settle:
            return
        time.sleep(0.25)
    raise TimeoutError("the daemon did not go quiet")


def _named(details: dict) -> list[str]:
    """File names a finding's details name: its files, or a card verdict's differing and missing files."""
    files = details.get("files")
    out = [str(x) for x in files] if isinstance(files, list) else []
    out += [str(d.get("file")) for d in details.get("different") or [] if isinstance(d, dict)]
    out += [str(x) for v in (details.get("missing") or {}).values() for x in v] if isinstance(
        details.get("missing"), dict) else []
    out += [str(x) for v in (details.get("seal") or {}).values() for x in v] if isinstance(
        details.get("seal"), dict) else []
    return out


def problem_of(data: dict) -> str | None:
    """The problem a finding is about: the one whose file it is on, or (a card verdict) names."""
    text = " ".join(str(data.get(k) or "") for k in ("relpath", "path"))
    names = " ".join(_named(data.get("details") or {}))
    return next((p for p in PROBLEMS if p in text or p in names), None)


def measure(db_path: Path, inbox: LocalInbox) -> dict:
    db = sqlite3.connect(db_path)
    db.row_factory = sqlite3.Row
    findings = [dict(r) for r in db.execute("SELECT id, rule, roles, data, status FROM findings")]
    for f in findings:
        f["data"] = json.loads(f["data"])
        f["problem"] = problem_of(f["data"])
        f["told"] = bool(json.loads(f["roles"]))
    notices = [dict(r) for r in db.execute("SELECT role, kind, finding_id, data FROM notices")]
    messages = Counter(json.loads(r[0]).get("kind", "findings") for r in db.execute(
        "SELECT payload FROM outbox WHERE state='sent'"))
    db.close()
    by_id = {f["id"]: f for f in findings}
    problem_findings = [f for f in findings if f["problem"] and f["told"]]
    per_problem = Counter(f["problem"] for f in problem_findings)
    items: dict[tuple[str, str], int] = defaultdict(int)
    verdict_items = Counter()
    for n in notices:
        f = by_id.get(n["finding_id"])
        if f is None or n["kind"] not in PROBLEM_KINDS:
            continue
        if f["problem"]:
            items[(n["role"], f["problem"])] += 1
        else:
            verdict_items[f["rule"]] += 1
    found = sorted(set(per_problem))
    bodies = " ".join(json.dumps(m.body) for m in inbox.received)
    return {
        "problems": len(PROBLEMS),
        "problems_reported": len(found),
        "problems_missed": sorted(set(PROBLEMS) - set(found)),
        "findings_told": len(problem_findings),
        "findings_per_problem": round(len(problem_findings) / len(PROBLEMS), 2),
        "findings_by_problem": {p: sorted(f["rule"] for f in problem_findings if f["problem"] == p) for p in PROBLEMS},
        "finding_rows_all": len(findings),
        "notice_items": sum(items.values()),
        "role_problem_pairs": len(items),
        "noise_ratio": round(sum(items.values()) / max(1, len(items)), 2),
        "worst_pair": max(items.items(), key=lambda kv: kv[1], default=(("", ""), 0)),
        "verdict_notices": dict(verdict_items),
        "messages_sent": dict(messages),
        "messages_received": len(inbox.received),
        "both_comp_resolutions_shown": "1280x720" in bodies and "640x360" in bodies,
    }


def main() -> None:
    base = Path(tempfile.mkdtemp(prefix="rw-noise-"))
    try:
        stage = cards(base / "cards")
        with LocalInbox() as inbox:
            cfg = config(base, inbox)
            for name in ("raid_a", "shuttle", "nas"):
                (base / name).mkdir(exist_ok=True)
            daemon = Daemon(cfg)
            try:
                started = time.monotonic()
                offload(stage, base)
                comp = deliver(base)
                quiet(base / "state.db")
                rerender = base / "farm" / "rerender.mov"
                clip(rerender, width=1920, height=1080, frames=6)
                shutil.copyfile(rerender, comp)  # re-rendered over the delivered version, in place
                quiet(base / "state.db")
                elapsed = time.monotonic() - started
            finally:
                daemon.stop()
            result = measure(base / "state.db", inbox)
            result["elapsed_s"] = round(elapsed, 1)
        if "--json" in sys.argv:
            print(json.dumps(result, indent=2, default=str))
            return
        for key, value in result.items():
            if isinstance(value, dict) and key == "findings_by_problem":
                print(f"{key}:")
                for p, rules in value.items():
                    print(f"  {p:28} {len(rules)}  {', '.join(rules)}")
            else:
                print(f"{key}: {value}")
    finally:
        if "--keep" in sys.argv:
            print(f"kept: {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
