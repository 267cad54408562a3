"""Check throughput and start-up: the whole pipeline against bare pymediainfo parses of the same files.

Usage: python bench/bench_check.py [COPIES] [--rounds 5]   (default 8 copies of the generated set)

Two sets, in the same run and with the page cache warm:
  - generated: a mixed set of single files made with PyAV (ProRes 422 HQ and 422 at two rates,
    DNxHR, H.264, PCM WAV, a truncated faststart clip, an empty file, junk), COPIES times, checked
    without a config (builtin rules);
  - corpus: the real media of ../shared/corpus/media (camera, recorder and NLE files, DPX and EXR
    sequences, md5 manifests), three cards of it under "Camera Media/" of the ingest volume of
    config/production.example.toml (every rule family on), when the corpus is there.
For each set, round-robin (every round times every contender once; the best round counts):
  - bare: MediaInfo.parse(path) of exactly the files reelwatch parses (single files; the sampled
    frames of sequences; not empty files or sidecars), spread over as many already-started worker
    processes as reelwatch uses, 4 files per round trip;
  - pipeline: run_check() with an already started probe pool (the daemon's and a repeated check's
    steady state): MediaInfo in the pool, every plugin, SQLite, routing, findings.
Target: pipeline at most 1.25x bare. Then start-up, best of the rounds: `reelwatch check` on one
clip, end to end in a new process, against a new process that imports pymediainfo and parses the
same clip. Target: under 0.35 s.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from fractions import Fraction
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus" / "media"


def build_generated(root: Path, copies: int) -> None:
    from reelwatch.demo import mediagen
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


def build_corpus(base: Path) -> Path | None:
    """The corpus media as a card on the ingest volume of the example production config."""
    if not CORPUS.is_dir():
        return None
    vol = base / "ingest"
    shutil.copytree(CORPUS, vol / "Camera Media" / "CORPUS0", ignore=shutil.ignore_patterns("*.json"))
    text = (ROOT / "config" / "production.example.toml").read_text()
    text = text.replace('"/srv/offload/raid-a"', json.dumps(str(vol)))
    text = re.sub(r'policy = "policies/', f'policy = "{ROOT / "config" / "policies"}/', text)
    config = base / "production.toml"
    config.write_text(text)
    return config


def parsed_paths(folder: Path, config: Path | None) -> list[str]:
    """The files reelwatch hands to MediaInfo when checking ``folder``, in its order."""
    from reelwatch.checking.runtime import load_runtime
    from reelwatch.checking.oneshot import _volume_for, expand
    from reelwatch.probe.pool import ProbePool, sample_frames
    runtime = load_runtime(str(config) if config else None, None)
    volume, root = _volume_for(folder, runtime.config)
    known = ProbePool(1)._known  # noqa: SLF001 - the same decision: empty files and sidecars are not parsed
    out: list[str] = []
    for asset in expand(volume, root, folder, runtime.pm.ignore, []):
        if asset.sequence is not None:
            paths = list(asset.member_paths())
            out += [paths[i] for i in sample_frames(list(asset.sequence.frame_sizes))]
        elif known(asset) is None:
            out.append(asset.path)
    return out


def parse(path: str) -> int:
    from pymediainfo import MediaInfo
    return len(MediaInfo.parse(path).tracks)


def warm(paths: list[str]) -> None:
    for p in paths:
        with open(p, "rb") as f:
            while f.read(1 << 24):
                pass


def measure(name: str, folder: Path, config: Path | None, rounds: int, workers: int) -> dict[str, object]:
    from reelwatch.checking.oneshot import run_check
    from reelwatch.probe.pool import ProbePool
    files = [str(p) for p in folder.rglob("*") if p.is_file()]
    warm(files)
    parsed = parsed_paths(folder, config)
    cfg = str(config) if config else None
    best = {"bare": float("inf"), "pipeline": float("inf")}
    report = None
    with ProcessPoolExecutor(workers, mp_context=mp.get_context("forkserver")) as ex, ProbePool(workers) as pool:
        list(ex.map(parse, parsed[: workers * 4]))  # start and warm the bare workers
        pool.start()
        report = run_check([str(folder)], cfg, pool=pool)  # warm the probe workers and the imports
        for _ in range(rounds):
            t = time.perf_counter()
            list(ex.map(parse, parsed, chunksize=4))
            best["bare"] = min(best["bare"], time.perf_counter() - t)
            t = time.perf_counter()
            report = run_check([str(folder)], cfg, pool=pool)
            best["pipeline"] = min(best["pipeline"], time.perf_counter() - t)
    assert report is not None
    return {"set": name, "files": len(files), "assets": report.assets, "parsed": len(parsed),
            "findings": len(report.findings), "workers": workers,
            "bare_s": round(best["bare"], 3), "pipeline_s": round(best["pipeline"], 3),
            "ms_per_parse_bare": round(best["bare"] / max(1, len(parsed)) * 1000, 2),
            "ratio_pipeline_vs_bare": round(best["pipeline"] / best["bare"], 2)}


def startup(clip: Path, rounds: int) -> dict[str, object]:
    bare = [sys.executable, "-c", "import sys; from pymediainfo import MediaInfo; MediaInfo.parse(sys.argv[1])",
            str(clip)]
    check = [sys.executable, "-m", "reelwatch.cli", "check", str(clip), "--format", "json"]
    best = {"bare": float("inf"), "check": float("inf")}
    for _ in range(rounds):
        for name, cmd in (("bare", bare), ("check", check)):
            t = time.perf_counter()
            subprocess.run(cmd, check=name == "bare", capture_output=True)
            best[name] = min(best[name], time.perf_counter() - t)
    return {"startup_bare_parse_process_s": round(best["bare"], 3), "startup_check_one_file_s": round(best["check"], 3),
            "startup_ratio": round(best["check"] / best["bare"], 2), "startup_target_met": best["check"] < 0.35}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("copies", nargs="?", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    from reelwatch.service.log import configure_logging
    configure_logging(level="error")
    workers = os.cpu_count() or 2
    base = Path(tempfile.mkdtemp(prefix="rw-bench-check-"))
    ok = True
    try:
        build_generated(base / "gen", args.copies)
        results = [measure("generated", base / "gen", None, args.rounds, workers)]
        config = build_corpus(base / "corpus")
        if config is not None:
            results.append(measure("corpus", base / "corpus" / "ingest" / "Camera Media", config, args.rounds, workers))
        clip = next((base / "gen").rglob("*C001_141024_R2EC.mov"))
        results.append(startup(clip, args.rounds))
        for r in results:
            print(json.dumps(r))
            if "ratio_pipeline_vs_bare" in r:
                ok &= float(r["ratio_pipeline_vs_bare"]) <= 1.25  # type: ignore[arg-type]
            else:
                ok &= bool(r["startup_target_met"])
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
