"""``python -m reelwatch.timeline.child PATH [--rate 24000/1001] [--purpose cut]``: read one
cut list and write it as JSON on stdout, for :func:`reelwatch.timeline.read.read_isolated`.

Readers print to stdout and stderr; both are pointed at /dev/null before reading, so the JSON
channel (a duplicate of the original stdout) carries nothing else.
"""

from __future__ import annotations

import argparse
import os
import sys

from .read import read_cut_list
from .timecode import exact_rate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="reelwatch.timeline.child")
    parser.add_argument("path")
    parser.add_argument("--rate")
    parser.add_argument("--purpose")
    args = parser.parse_args(argv)
    out = os.fdopen(os.dup(1), "w", encoding="utf-8")
    with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), 1)
        os.dup2(devnull.fileno(), 2)
    with out:
        out.write(read_cut_list(args.path, exact_rate(args.rate), args.purpose).to_json())
    return 0


if __name__ == "__main__":
    sys.exit(main())
