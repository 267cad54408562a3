"""The ``reelwatch`` command line. Exit codes: 0 fine, 1 findings of error or worse (or a damaged
state database found by ``state check``), 2 usage, config or state database errors."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from typing import TYPE_CHECKING, Any

from ..core.model import Severity

if TYPE_CHECKING:
    from ..core.config import ConfigError
    from ..probe.pool import ProbePool

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse exits 2 as well; keep its message short
        self.print_usage(sys.stderr)
        print(f"reelwatch: error: {message}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


DEFAULT_CONFIG = "/etc/reelwatch/production.toml"


def _config_default() -> str | None:
    """``--config`` defaults to $REELWATCH_CONFIG, then /etc/reelwatch/production.toml, so that
    the commands quoted in messages (``reelwatch ack 42``) work as written on the server."""
    env = os.environ.get("REELWATCH_CONFIG")
    if env:
        return env
    return DEFAULT_CONFIG if Path(DEFAULT_CONFIG).is_file() else None


def _severity(text: str) -> Severity:
    try:
        return Severity.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="reelwatch", description="Production-workflow guard for film and TV.")
    p.add_argument("--log-level", default="warning", choices=["debug", "info", "warning", "error"])
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    c = sub.add_parser("check", help="check files or folders once, before work is handed on")
    c.add_argument("paths", nargs="+", metavar="PATH")
    c.add_argument("--config", default=_config_default(),
                   help="production config (TOML); default $REELWATCH_CONFIG, then " + DEFAULT_CONFIG)
    c.add_argument("--format", choices=["table", "json"], default=None,
                   help="output format (default: table on a terminal, json otherwise)")

    r = sub.add_parser("run", help="run the daemon in the foreground")
    r.add_argument("--config", default=_config_default(), required=_config_default() is None)

    d = sub.add_parser("demo", help="a throwaway production, end to end, in under a minute")
    d.add_argument("--dir", help="where to create it (default: a temporary folder, removed afterwards)")
    d.add_argument("--keep", action="store_true", help="keep the demo folder")

    cv = sub.add_parser("config", help="config tools")
    cvs = cv.add_subparsers(dest="config_command", required=True, parser_class=_Parser)
    v = cvs.add_parser("validate", help="validate a config file")
    v.add_argument("file")

    pl = sub.add_parser("plugins", help="list plugins, hooks and rules")
    pl.add_argument("--config", default=_config_default())
    pl.add_argument("--format", choices=["table", "json"], default="table")

    f = sub.add_parser("findings", help="list open findings with their ids")
    f.add_argument("--config", default=_config_default(), required=_config_default() is None)
    f.add_argument("--role")
    f.add_argument("--volume")
    f.add_argument("--severity", type=_severity, metavar="SEVERITY",
                   help="minimum severity: info, warning, error, blocker")
    f.add_argument("--all", action="store_true", help="include acknowledged and resolved findings")
    f.add_argument("--format", choices=["table", "json"], default="table")

    a = sub.add_parser("ack", help="acknowledge findings by id or by path")
    a.add_argument("targets", nargs="+", metavar="ID_OR_PATH")
    a.add_argument("--config", default=_config_default(), required=_config_default() is None)
    a.add_argument("--by", default=os.environ.get("USER", "someone"))

    h = sub.add_parser("history", help="show an asset's life: checks, findings, notices, acks")
    h.add_argument("path")
    h.add_argument("--config", default=_config_default(), required=_config_default() is None)
    h.add_argument("--format", choices=["text", "json"], default="text", help="json: the same events, for scripts")

    s = sub.add_parser("status", help="volumes, observers, queues and open findings, from the state database")
    s.add_argument("--config", default=_config_default(), required=_config_default() is None)
    s.add_argument("--format", choices=["table", "json"], default="table")

    rh = sub.add_parser("rehash", help="re-read a sample of files with recorded checksums; report silent changes")
    rh.add_argument("--config", default=_config_default(), required=_config_default() is None)
    from .rehash import add_arguments as rehash_arguments
    rehash_arguments(rh)

    st = sub.add_parser("state", help="check or repair the state database")
    from .state import add_arguments as state_arguments
    state_arguments(st, _config_default())

    n = sub.add_parser("notify", help="notification tools")
    ns = n.add_subparsers(dest="notify_command", required=True, parser_class=_Parser)
    t = ns.add_parser("test", help="send a test message to a role and report each target's result")
    t.add_argument("role")
    t.add_argument("--config", default=_config_default(), required=_config_default() is None)
    return p


def _check(args: argparse.Namespace, pool: ProbePool) -> int:
    """``reelwatch check``: Ctrl-C and SIGTERM stop it at once (hashes within one read, MediaInfo
    workers killed), exit 130, nothing half-said."""
    import signal

    from .output import print_check
    from .progress import check_progress
    from ..checking.oneshot import run_check
    with check_progress() as bar:
        def stop(signum: int, _frame: object) -> None:
            bar.hasher.cancel.set()
            pool.cancel()
            raise KeyboardInterrupt

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        try:
            report = run_check(args.paths, args.config, progress=bar.advance, hasher=bar.hasher,
                               total=bar.total, pool=pool)
        except BaseException as exc:
            from ..integrity.hashing import HashCancelled
            if isinstance(exc, HashCancelled | KeyboardInterrupt):
                print("reelwatch: check stopped; nothing was reported", file=sys.stderr)
                return 130
            raise
        finally:
            pool.close()
    fmt = args.format or ("table" if sys.stdout.isatty() else "json")
    print_check(report, fmt)
    if report.problems and not report.assets and not report.findings:
        return EXIT_USAGE  # nothing that could be checked was named
    return report.exit_code


def _fail_config(err: ConfigError) -> int:
    print(str(err), file=sys.stderr)
    return EXIT_USAGE


def _command(argv: Sequence[str]) -> str | None:
    """The sub-command named in ``argv``, read before the parser (which imports more) is built."""
    it = iter(argv)
    for token in it:
        if token == "--log-level":
            next(it, None)
        elif not token.startswith("-"):
            return token
    return None


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    pool: Any = None
    if _command(argv) == "check":  # fork the first MediaInfo worker before the heavy imports below
        from ..probe.pool import ProbePool
        pool = ProbePool().start(1)
    args = build_parser().parse_args(argv)
    if args.command != "check" and pool is not None:
        pool.close()
        pool = None
    from ..core.config import ConfigError
    from ..service.log import configure_logging
    from ..core.redact import Redactor
    from ..state.dbfile import StateCorrupt
    from ..state.schema import StateRefused
    configure_logging(level=args.log_level, journal=bool(os.environ.get("JOURNAL_STREAM")))
    try:
        if args.command == "check":
            return _check(args, pool)
        if args.command == "run":
            from ..checking.runtime import load_runtime, read_toml
            from ..service.daemon import Daemon
            load_runtime(args.config, None)  # fail fast, before anything starts
            urls = [u for r in (read_toml(args.config).get("roles") or {}).values() for u in r.get("notify", [])]
            redactor = Redactor(urls)
            configure_logging(level="debug" if args.log_level == "debug" else "info", redactor=redactor,
                              journal=bool(os.environ.get("JOURNAL_STREAM")))
            return Daemon(args.config, redactor=redactor).run()
        if args.command == "state":
            from .state import dispatch as state_dispatch
            return state_dispatch(args)
        if args.command == "rehash":
            from .rehash import cmd_rehash
            return cmd_rehash(args)
        if args.command == "demo":
            from ..demo.run import run_demo
            return run_demo(Path(args.dir) if args.dir else None, keep=args.keep)
        if args.command == "config":
            from ..checking.runtime import load_runtime
            runtime = load_runtime(args.file, None)
            cfg = runtime.config
            for warning in runtime.warnings:
                print(warning, file=sys.stderr)
            noted = f" ({len(runtime.warnings)} warning(s) above)" if runtime.warnings else ""
            print(f"{args.file}: valid{noted}. Production {cfg.production.name!r}: {len(cfg.volumes)} volume(s), "
                  f"{len(cfg.roles)} role(s), rule sections: {', '.join(sorted(cfg.rules)) or 'none'}")
            return EXIT_OK
        from .admin import dispatch
        return dispatch(args)
    except ConfigError as err:
        return _fail_config(err)
    except StateCorrupt as err:
        err.config = err.config or getattr(args, "config", None)
        print(f"reelwatch: {err}", file=sys.stderr)
        return EXIT_USAGE
    except StateRefused as err:  # a newer schema, a database server that cannot be reached
        print(f"reelwatch: {err}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130


def json_dump(data: object) -> str:
    return json.dumps(data, indent=2, sort_keys=False, default=str)

