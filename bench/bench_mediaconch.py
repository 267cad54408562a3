"""A MediaConch policy's evaluation against the MediaInfo parse it reads (was a timed test).

The spec rules evaluate a policy on facts already parsed, once per file; it must cost a small
part of the parse itself, or a 392-rule policy would be what a check waits for. Baseline: the
MediaInfo parse of the same file, measured in the same run. Target: the 19-rule BFI h22 policy
under a tenth of the parse. Needs ../shared/corpus (the policies and a MediaArea regression file).
Usage: ``python bench/bench_mediaconch.py [runs]``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from reelwatch.core.model import Facts
from reelwatch.probe.pool import facts_for_file
from reelwatch.spec.mediaconch import evaluate, load_policy

CORPUS = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus"
BFI = CORPUS / "policies" / "bfi_BFI_scripts" / "mediaconch"
MDAT = CORPUS / "media" / "mediaarea_regression" / "mdatZeroed_Big_HeaderAtBegin.mov"


def per_call(runs: int, fn) -> float:
    started = time.perf_counter()
    for _ in range(runs):
        fn()
    return (time.perf_counter() - started) / runs


def main() -> int:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    for path in (MDAT, BFI / "h22_prores_policy.xml", BFI / "prores_quicktime_DMS_for_reference.xml"):
        if not path.exists():
            print(f"corpus not available: {path}")
            return 2
    parse = per_call(5, lambda: facts_for_file(str(MDAT)))
    fx = Facts.from_mapping(facts_for_file(str(MDAT)))
    print(f"MediaInfo parse (baseline): {parse * 1e3:.2f} ms")
    met = True
    for name, file, target in (("h22 (19 rules)", "h22_prores_policy.xml", 0.1),
                               ("DMS (392 rules)", "prores_quicktime_DMS_for_reference.xml", None)):
        policy = load_policy(BFI / file)
        took = per_call(runs, lambda policy=policy: evaluate(policy, fx))
        ratio = took / parse
        verdict = "" if target is None else (" met" if ratio < target else " MISSED") + f" (target < {target:g}x)"
        met = met and (target is None or ratio < target)
        print(f"{name}: {took * 1e3:.2f} ms, {ratio:.3f}x the parse{verdict}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
