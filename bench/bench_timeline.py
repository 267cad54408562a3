"""Matching a 2,000-event timeline against 1,000,000 known assets (issue 15).

Usage: python bench/bench_timeline.py [ASSETS] [EVENTS]   (default: 1000000 2000)

The production: ARRI camera clips (camera letter, 3-digit reel, C and 3-digit clip, date,
camera id; 999 clips per reel, each with its own timecode), one in ten also copied to a second
volume, 5% Broadcast WAV takes (scene, take, roll) and 5% EXR plate sequences. The cut list is
a real CMX 3600 EDL file written to disk and read with OpenTimelineIO: 60% of events name the
clip (``* FROM CLIP NAME``), 20% give only the 8-character ARRI tape name and source timecode
(the clip must be chosen among the 999 on that reel by timecode), 10% a Windows ``* FROM CLIP``
path, 5% sound takes on audio tracks, 5% frames of EXR sequences, and 2% name clips nobody has.

Measured in one run:
  - the index: MemoryCatalog over every clip (and peak RSS); baseline: a plain dict of names;
  - matching: every event through match_timeline; baselines: one dict.get per event on the plain
    dict (the floor of any indexed lookup), and a scan of every clip per event (measured on a
    few events, extrapolated to all);
  - the same with SqlCatalog on the proposed store tables in an SQLite file (child process).
Prints one JSON line.
"""

from __future__ import annotations

import json
import os
import random
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

from reelwatch.timeline import Clip, MemoryCatalog, SqlCatalog, match_timeline, read_cut_list
from reelwatch.timeline.names import key
from reelwatch.timeline.timecode import frames_to_tc

NTSC = Fraction(24000, 1001)
HOUR = 3600 * 24


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def production(n: int) -> list[Clip]:
    """n clips: ARRI clips (a tenth with a copy), WAV takes, EXR sequences."""
    clips: list[Clip] = []
    i = 0
    while len(clips) < n:
        kind = i % 20
        reel, clip_no = divmod(i, 999)
        cam = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"[(reel // 999) % 26]
        roll = f"{cam}{reel % 999 + 1:03d}"
        if kind == 0:  # a sound take
            scene, take = f"S{i // 20:05d}", str(i % 7 + 1)
            clips.append(Clip("sound", f"Sound/{roll}/{scene}_{take}.WAV", f"{scene}_{take}.WAV", size=2_000_000,
                              kind="sound", rate=NTSC, start=HOUR + clip_no * 1920, duration=1800,
                              scene=scene, take=take, roll=f"SR{reel:04d}"))
        elif kind == 1:  # an EXR plate
            base = f"AGM_104_{i // 20:05d}_PL01_v001."
            clips.append(Clip("vfx", f"VFX/{base[:-1]}/{base}1001-1100#.exr", f"{base}1001-1100#.exr",
                              size=100 * 8_000_000, kind="sequence", frames=(1001, 1100)))
        else:
            name = f"{roll}C{clip_no + 1:03d}_20240115_R{reel % 1000:03d}"
            clip = Clip("ingest", f"Camera/{roll}/{name}.mov", f"{name}.mov", size=1_000_000_000, rate=NTSC,
                        start=HOUR + clip_no * 1920, duration=1800)  # 999 clips of 75 s fit in a day
            clips.append(clip)
            if i % 10 == 2 and len(clips) < n:
                clips.append(Clip("nas", clip.relpath, clip.name, size=clip.size, rate=NTSC, start=clip.start,
                                  duration=clip.duration))
        i += 1
    return clips[:n]


def write_edl(path: Path, clips: list[Clip], events: int, seed: int = 15) -> dict[int, str]:
    """An EDL of ``events`` events; returns record in -> the name of the clip it must match ('' offline)."""
    rng = random.Random(seed)
    cams = [c for c in clips if c.kind == "picture" and c.volume == "ingest"]
    sounds = [c for c in clips if c.kind == "sound"]
    plates = [c for c in clips if c.kind == "sequence"]
    lines = ["TITLE:   AGM_104_R2_v12", "FCM: NON-DROP FRAME", ""]
    truth: dict[int, str] = {}
    rec = HOUR
    for n in range(1, events + 1):
        roll = rng.random()
        length = rng.randint(24, 120)
        if roll < 0.05 and sounds:
            c = rng.choice(sounds)
            track, reel, comments = "A", c.roll, [f"* FROM CLIP NAME:  {c.name.rsplit('.', 1)[0]}"]
        elif roll < 0.10 and plates:
            c = rng.choice(plates)
            track, reel = "V", c.name[:8]
            comments = [f"* FROM CLIP: V:\\AGM\\VFX\\{c.name.split('1001-')[0]}1001.exr"]
        else:
            c = rng.choice(cams)
            tape = f"{c.name[:4]}R{c.name.split('_R')[1][:3]}"  # ARRI tape: camera+reel+camera id
            track, reel = "V", tape
            comments = ([f"* FROM CLIP NAME:  {c.name[:-4]}"] if roll < 0.70 else
                        [] if roll < 0.90 else [f"* FROM CLIP: E:\\AGM\\Camera\\{c.name}"])
        offline = rng.random() < 0.02
        if offline:
            comments = [f"* FROM CLIP NAME:  Z{n:03d}C001_20240116_RZZZ"]
            reel = "Z000RZZZ"
        start = (c.start if c.start is not None else HOUR) + rng.randint(0, 600)
        src_in, src_out = frames_to_tc(start, NTSC), frames_to_tc(start + length, NTSC)
        lines.append(f"{n:04d}  {reel:<8} {track:<5} C        {src_in} {src_out} "
                     f"{frames_to_tc(rec, NTSC)} {frames_to_tc(rec + length, NTSC)}")
        lines += comments
        truth[rec] = "" if offline else c.name
        rec += length
    path.write_text("\n".join(lines) + "\n")
    return truth


def accuracy(matches, truth: dict[str, str]) -> dict[str, int]:  # type: ignore[no-untyped-def]
    out = {"correct": 0, "wrong": 0, "ambiguous": 0, "unmatched": 0}
    for m in matches:
        want = truth[m.event.record_in]
        if m.status == "matched":
            out["correct" if want and all(c.name == want for c in m.clips) else "wrong"] += 1
        elif m.status == "ambiguous":
            out["ambiguous"] += 1
        else:
            out["correct" if not want else "unmatched"] += 1
    return out


def sqlite_child(db_path: str, edl: str, n: int, events: int) -> None:
    """In a fresh process: fill the proposed tables, then match (prints JSON)."""
    clips = production(n)
    truth = write_edl(Path(db_path).with_suffix(".edl"), clips, events)  # the same EDL again: its truth
    db = sqlite3.connect(db_path)
    db.execute("PRAGMA journal_mode=WAL")
    cat = SqlCatalog(db, create=True)
    t = time.perf_counter()
    with db:
        for k in range(0, len(clips), 50_000):
            cat.put_many(clips[k:k + 50_000])
    fill = time.perf_counter() - t
    del clips
    (tl,) = read_cut_list(edl, NTSC).timelines
    t = time.perf_counter()
    matches = match_timeline(tl, cat)
    match_s = time.perf_counter() - t
    print(json.dumps({"sqlite_fill_s": round(fill, 2), "sqlite_match_s": round(match_s, 3),
                      "sqlite_mb": round(os.path.getsize(db_path) / 2**20), "sqlite_rss_mb": round(rss_mb()),
                      "sqlite_accuracy": accuracy(matches, truth)}))


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    n = int(args[0]) if args else 1_000_000
    events = int(args[1]) if len(args) > 1 else 2000
    if "--sqlite-child" in sys.argv:
        sqlite_child(args[2], args[3], n, events)
        return
    out: dict[str, object] = {"assets": n, "events": events}
    t = time.perf_counter()
    clips = production(n)
    out["generate_s"] = round(time.perf_counter() - t, 2)
    base_rss = rss_mb()
    with tempfile.TemporaryDirectory() as tmp:
        edl = Path(tmp) / "AGM_104_R2_v12.edl"
        truth = write_edl(edl, clips, events)
        t = time.perf_counter()
        (tl,) = read_cut_list(edl, NTSC).timelines
        out["read_edl_s"] = round(time.perf_counter() - t, 3)

        t = time.perf_counter()
        plain = {}
        for c in clips:
            plain.setdefault(key(c.name), c)
        out["baseline_dict_build_s"] = round(time.perf_counter() - t, 2)
        t = time.perf_counter()
        cat = MemoryCatalog(clips)
        out["index_build_s"] = round(time.perf_counter() - t, 2)
        out["index_rss_mb"] = round(rss_mb() - base_rss)
        out["clips_rss_mb"] = round(base_rss)

        t = time.perf_counter()
        matches = match_timeline(tl, cat)
        out["match_s"] = round(time.perf_counter() - t, 3)
        out["accuracy"] = accuracy(matches, truth)

        names = [key(e.clip_name or e.source_name or e.reel) for e in tl.events]
        t = time.perf_counter()
        hits = sum(1 for k in names if plain.get(k + ".mov") is not None)
        out["baseline_dict_loop_s"] = round(time.perf_counter() - t, 5)
        out["baseline_dict_hits"] = hits

        sample = tl.events[:5]
        t = time.perf_counter()
        for e in sample:  # what matching without an index costs: every clip looked at, per event
            want = key(e.clip_name)
            _ = [c for c in clips if key(c.name).startswith(want) or (e.reel and e.reel in c.reels)]
        per_event = (time.perf_counter() - t) / len(sample)
        out["baseline_scan_per_event_s"] = round(per_event, 3)
        out["baseline_scan_all_s"] = round(per_event * events, 1)
        del cat, plain, clips, matches

        db = Path(tmp) / "state.db"
        done = subprocess.run([sys.executable, __file__, str(n), str(events), str(db), str(edl), "--sqlite-child"],
                              capture_output=True, text=True, check=True)
        out.update(json.loads(done.stdout.strip().splitlines()[-1]))
    out["match_vs_dict_loop"] = round(out["match_s"] / max(out["baseline_dict_loop_s"], 1e-9), 1)  # type: ignore
    out["scan_vs_match"] = round(out["baseline_scan_all_s"] / out["match_s"])  # type: ignore[operator]
    print(json.dumps(out))


if __name__ == "__main__":
    main()
