"""Check throughput: the whole pipeline against a bare pymediainfo parse of the same files.

Usage: python bench/bench_check.py [COPIES]   (default 8 copies of the mixed set)

Generates a mixed set of single files with PyAV (ProRes 422 HQ and 422 at two rates, DNxHR,
H.264, PCM WAV, a truncated faststart clip, an empty file, junk) and, separately, DPX
sequences. Then, in the same run and with the page cache warm:
  - bare: MediaInfo.parse(path) of every file in one process, serially;
  - bare_pool: the same parses spread over as many worker processes as reelwatch uses;
  - pipeline: run_check() with an already started probe pool (the daemon's steady state):
    MediaInfo in the pool, every shipped plugin, SQLite, routing, findings.
The single-file set is the like-for-like comparison (one parse per file on both sides);
sequences are reported on their own, since reelwatch samples frames instead of parsing all.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from fractions import Fraction
from pathlib import Path


def build(root: Path, copies: int) -> list[Path]:
    from reelwatch import mediagen
    ntsc = Fraction(24000, 1001)
    for c in range(copies):
        card = root / f"A{c:03d}R2EC"
        card.mkdir(parents=True)
        kw = {"width": 640, "height": 360, "frames": 12}
        mediagen.make_clip(card / f"A{c:03d}C001_141024_R2EC.mov", codec="prores_hq", rate=ntsc, **kw)
        mediagen.make_clip(card / f"A{c:03d}C002_141024_R2EC.mov", codec="prores_422", rate=Fraction(25), **kw)
        mediagen.make_clip(card / f"A{c:03d}C003_141024_R2EC.mxf", codec="dnxhr_hq", rate=ntsc, **kw)
        mediagen.make_clip(card / f"review_{c:03d}_v001.mp4", codec="h264", rate=ntsc, **kw)
        cut = mediagen.make_clip(card / f"A{c:03d}C004_141024_R2EC.mov", codec="prores_hq", faststart=True, **kw)
        mediagen.truncate(cut, keep=0.5)
        mediagen.make_wav(card / f"S{c:03d}T001.wav", seconds=1.0)
        (card / f"A{c:03d}C005_141024_R2EC.mov").touch()
        (card / f"A{c:03d}C006_141024_R2EC.mxf").write_bytes(os.urandom(8192))
        mediagen.make_image_sequence(root.parent / "seqs" / f"A{c:03d}", name=f"plate{c:03d}", ext="dpx",
                                     first=1001, last=1024, width=256, height=144, skip=(1010,))
    return sorted(p for p in root.rglob("*") if p.is_file())


def parse(path: str) -> int:
    from pymediainfo import MediaInfo
    return len(MediaInfo.parse(path).tracks)


def main(copies: int) -> None:
    base = Path(tempfile.mkdtemp(prefix="rw-bench-check-"))
    try:
        files = build(base / "vol", copies)
        paths = [str(p) for p in files]
        from reelwatch.log import configure_logging
        from reelwatch.oneshot import run_check
        from reelwatch.probe import ProbePool
        configure_logging(level="warning")
        workers = os.cpu_count() or 2
        for p in paths:  # warm the page cache for everyone
            Path(p).read_bytes()
        parse(paths[0])
        t = time.perf_counter()
        for p in paths:
            parse(p)
        bare = time.perf_counter() - t
        with ProcessPoolExecutor(workers) as ex:
            list(ex.map(parse, paths[:workers]))
            t = time.perf_counter()
            list(ex.map(parse, paths, chunksize=4))
            bare_pool = time.perf_counter() - t
        with ProbePool(workers) as pool:
            run_check([str(base / "vol")], None, pool=pool)  # warm the workers and the imports
            runs = []
            for _ in range(3):
                t = time.perf_counter()
                report = run_check([str(base / "vol")], None, pool=pool)
                runs.append(time.perf_counter() - t)
            pipeline = min(runs)
            seq_frames = sum(1 for p in (base / "seqs").rglob("*.dpx"))
            t = time.perf_counter()
            seq_report = run_check([str(base / "seqs")], None, pool=pool)
            seq_time = time.perf_counter() - t
        n = len(paths)
        print(json.dumps({
            "files": n, "assets": report.assets, "findings": len(report.findings), "workers": workers,
            "sequences": seq_report.assets, "sequence_frames": seq_frames,
            "sequence_ms_per_frame": round(seq_time / seq_frames * 1000, 2),
            "bare_files_per_s": round(n / bare, 1), "bare_pool_files_per_s": round(n / bare_pool, 1),
            "pipeline_files_per_s": round(n / pipeline, 1),
            "ratio_pipeline_vs_bare_pool": round(pipeline / bare_pool, 2),
            "ratio_pipeline_vs_bare_serial": round(pipeline / bare, 2),
            "ms_per_file_bare": round(bare / n * 1000, 2), "ms_per_file_pipeline": round(pipeline / n * 1000, 2),
        }))
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 8)
