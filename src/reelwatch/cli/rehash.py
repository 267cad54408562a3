"""The command line of sampled re-hashing: ``reelwatch rehash`` (the engine is :mod:`reelwatch.service.rehash`).

Parses the sample, size and duration options, runs :func:`reelwatch.service.rehash.rehash` against the
production's state database and prints its report as text or JSON. ``python -m
reelwatch.cli.rehash --config X`` does the same as ``reelwatch rehash``.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from collections.abc import Sequence

# The engine is imported where it is used: ``reelwatch check`` builds this parser too, and must
# not pay for loading it (issue 12: start-up of a one-file check).

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


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``reelwatch rehash`` (``--config`` is added by the caller)."""
    parser.add_argument("--sample", type=parse_sample, default=200,
                        help="files to re-hash: a number (200, the default) or a share (5%%)")
    parser.add_argument("--algo", help="only checksums of this algorithm (default: any recorded; the fastest)")
    parser.add_argument("--max-bytes", type=parse_size, help="stop after reading this much, e.g. 2T")
    parser.add_argument("--max-time", type=parse_duration, help="stop starting new files after this long, e.g. 6h")
    parser.add_argument("--seed", type=int, help="seed of the random order within a day (for reproducible runs)")
    parser.add_argument("--format", choices=["text", "json"], default="text")


def cmd_rehash(args: argparse.Namespace) -> int:
    """Run from the command line: exit 0 when nothing changed silently, 1 when something did."""
    from ..checking.runtime import load_runtime
    from ..integrity.hashing import normalize_algo
    from ..checking.pipeline import Pipeline
    from ..service.rehash import rehash
    from ..checking.routing import RoleRouter
    from ..state.connect import open_state
    runtime = load_runtime(args.config, None)
    config = runtime.config
    path = config.resolve(config.state.path)
    if not config.state.url and not path.exists():
        print(f"no state database at {path} yet: nothing has been hashed, nothing to re-hash", file=sys.stderr)
        return 0
    if args.algo:
        try:
            normalize_algo(args.algo)
        except ValueError as exc:
            print(f"reelwatch rehash: {exc}", file=sys.stderr)
            return 2
    store = open_state(config)  # [state] url: the fleet's database
    pipeline = Pipeline(runtime.pm, config, store)
    try:
        report = rehash(store, config, sample=args.sample, algo=args.algo, rng=random.Random(args.seed),
                        router=RoleRouter(runtime.pm, config), max_bytes=args.max_bytes,
                        max_seconds=args.max_time,
                        rejudge=lambda assets: pipeline.finish_batch(assets, store.next_batch()))
    finally:
        store.close()
    if args.format == "json":
        print(json.dumps(report.to_dict(), indent=2))
    else:
        print("\n".join(report.lines()))
    return report.exit_code


def main(argv: Sequence[str] | None = None) -> int:
    from ..service import rehash as engine
    from ..core.config import ConfigError
    """``python -m reelwatch.cli.rehash --config X`` (the same as ``reelwatch rehash``)."""
    from ..service.log import configure_logging
    parser = argparse.ArgumentParser(prog="reelwatch rehash", description=(engine.__doc__ or "").splitlines()[0])
    parser.add_argument("--config", required=True, help="production config (TOML)")
    add_arguments(parser)
    args = parser.parse_args(argv)
    configure_logging(level="warning")
    try:
        return cmd_rehash(args)
    except ConfigError as err:
        print(str(err), file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
