"""The command line of sampled re-hashing: ``reelwatch rehash`` (the engine is :mod:`reelwatch.service.rehash`).

Parses the sample, size and duration options, runs :func:`reelwatch.service.rehash.rehash` against the
production's state database and prints its report as a table (lines for people) or JSON. ``python -m
reelwatch.cli.rehash --config X`` does the same as ``reelwatch rehash``.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from collections.abc import Sequence

import click

from .base import Parsed, config_option, format_option

# The engine is imported where it is used: ``reelwatch --help`` loads this module too, and need not
# pay for loading it.

_UNITS = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12, "p": 10**15}
_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_sample(text: str) -> int | float:
    """``200`` (files), ``0.05`` or ``5%`` (a fraction of the files with recorded checksums)."""
    text = text.strip()
    try:
        value: int | float = float(text[:-1]) / 100 if text.endswith("%") else (
            int(text) if text.isdigit() else float(text))
        from ..service.rehash import sample_size
        sample_size(value, 1)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a sample: write a number of files (200) or a "
                                         "share of them (5% or 0.05)") from None
    return value


def parse_size(text: str) -> int:
    """``500G``, ``2T``, ``750GB`` or a number of bytes (decimal units, as drives are sold)."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgtp]?)b?\s*", text.lower())
    if not m:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size: write e.g. 500G or 2T")
    return int(float(m[1]) * _UNITS[m[2]])


def parse_duration(text: str) -> float:
    """``6h``, ``90m``, ``1d`` or seconds."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", text.lower())
    if not m:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration: write e.g. 6h, 90m or 3600")
    return float(m[1]) * _SECONDS[m[2]]


@click.command(help="Re-read a sample of files with recorded checksums; report silent changes. Exit 0 when "
                    "nothing changed silently, 1 when something did.")
@config_option()
@click.option("--sample", type=Parsed("sample", parse_sample), default="200", show_default=True,
              help="files to re-hash: a number, or a share (5%)")
@click.option("--algo", help="only checksums of this algorithm (default: any recorded; the fastest)")
@click.option("--max-bytes", type=Parsed("size", parse_size), help="stop after reading this much, e.g. 2T")
@click.option("--max-time", type=Parsed("duration", parse_duration),
              help="stop starting new files after this long, e.g. 6h")
@click.option("--seed", type=int, help="seed of the random order within a day (for reproducible runs)")
@format_option(help="table (lines for people) or json; text, the name before 0.2, still means table")
def rehash(config: str, sample: int | float, algo: str | None, max_bytes: int | None, max_time: float | None,
           seed: int | None, fmt: str) -> int:
    """Run from the command line: exit 0 when nothing changed silently, 1 when something did."""
    from ..checking.pipeline import Pipeline
    from ..checking.routing import RoleRouter
    from ..checking.runtime import load_runtime
    from ..integrity.hashing import normalize_algo
    from ..service.rehash import rehash as run_rehash
    from ..state.connect import open_state
    runtime = load_runtime(config, None)
    cfg = runtime.config
    path = cfg.resolve(cfg.state.path)
    if not cfg.state.url and not path.exists():
        print(f"no state database at {path} yet: nothing has been hashed, nothing to re-hash", file=sys.stderr)
        return 0
    if algo:
        try:
            normalize_algo(algo)
        except ValueError as exc:
            print(f"reelwatch rehash: {exc}", file=sys.stderr)
            return 2
    store = open_state(cfg)  # [state] url: the fleet's database
    pipeline = Pipeline(runtime.pm, cfg, store)
    try:
        report = run_rehash(store, cfg, sample=sample, algo=algo, rng=random.Random(seed),
                            router=RoleRouter(runtime.pm, cfg), max_bytes=max_bytes, max_seconds=max_time,
                            rejudge=lambda assets: pipeline.finish_batch(assets, store.next_batch()))
    finally:
        store.close()
    if fmt == "json":
        print(json.dumps(report.to_dict(), indent=2))
    else:
        print("\n".join(report.lines()))
    return report.exit_code


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m reelwatch.cli.rehash --config X`` (the same as ``reelwatch rehash``)."""
    from .main import main as reelwatch
    return reelwatch(["rehash", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    raise SystemExit(main())
