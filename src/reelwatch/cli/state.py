"""``reelwatch state check | recover | migrate``: is the state database sound, repair it when not,
move it into a fleet's PostgreSQL (the work: :mod:`reelwatch.state.move`).

``recover`` never deletes anything: the damaged file (with its -wal and -shm) is kept next to
the new one as ``state.db.broken-YYYYmmddTHHMMSS``. The fresh database gets every row that can
still be read from the known tables, with the same ids: open findings keep their fingerprints,
so the daemon's rescan does not notify them again; sent messages and the targets that got them
are kept; pending messages and notices are still sent.
"""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

import click

from ..checking.runtime import load_runtime
from ..state.dbfile import check_file, salvage, set_aside
from ..state.disk import daemon_running
from ..state.store import Store
from .base import LazyGroup, config_option

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2


def _path(config: str) -> Path:
    cfg = load_runtime(config, None).config
    return cfg.resolve(cfg.state.path)


class _StateGroup(LazyGroup):
    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except sqlite3.Error as exc:  # a damaged file, too: these commands are how it is repaired
            print(f"the state database could not be read or written: {exc}", file=sys.stderr)
            return EXIT_USAGE


@click.group(cls=_StateGroup, lazy={}, help="Check or repair the state database.")
def state() -> None:
    pass


@state.command("check", help="Check the state database for damage (exit 1 when damaged).")
@config_option()
def cmd_check(config: str) -> int:
    path = _path(config)
    if not path.exists():
        print(f"{path}: no state database yet (the daemon creates it on its first start)")
        return EXIT_OK
    problems = check_file(path)
    if not problems:
        print(f"{path}: ok")
        return EXIT_OK
    print(f"{path}: damaged")
    for problem in problems:
        print(f"  - {problem}")
    print(f"To repair it: stop the service, then run  reelwatch state recover --config {config}\n"
          "(the damaged file is kept; see docs/deploy.md, 'A damaged state database').")
    return EXIT_PROBLEMS


@state.command("recover", help="Keep a damaged state database aside and start a fresh one from what can "
                               "still be read (stop the service first).")
@config_option()
@click.option("--force", is_flag=True, help="recover even when the check finds no damage")
def cmd_recover(config: str, force: bool) -> int:
    path = _path(config)
    if not path.exists():
        print(f"{path}: no state database: nothing to recover", file=sys.stderr)
        return EXIT_USAGE
    if daemon_running(path):
        print(f"{path} is in use by a running reelwatch daemon: stop it first "
              "(systemctl stop reelwatch@NAME), then run this again.", file=sys.stderr)
        return EXIT_USAGE
    problems = check_file(path)
    if not problems and not force:
        print(f"{path}: ok, nothing to recover (use --force to rebuild it anyway)")
        return EXIT_OK
    kept = set_aside(path)
    fresh = Store(path)
    try:
        with fresh.tx() as db:
            copied = salvage(kept, db)
            # version 1 rows may still name targets by URL: the next open migrates them again
            db.execute("INSERT OR REPLACE INTO meta VALUES ('schema', '1')")
            db.execute("DELETE FROM meta WHERE key='daemon'")
    finally:
        fresh.close()
    Store(path).close()  # migrate now, not at the daemon's start
    print(f"kept the damaged database as {kept}")
    print(f"started a fresh one at {path}; rows recovered: "
          + ", ".join(f"{table} {n}" for table, n in copied.items()))
    if copied["findings"] or copied["outbox"]:
        print("Start the service: it rescans every volume; findings and messages recovered here are not "
              "sent again.")
    else:
        print("No findings or messages could be recovered from the damaged file. Start the service: it "
              "rescans every volume, checks every file and notifies every problem it finds, including ones "
              "sent before.")
    return EXIT_OK


@state.command("migrate", help="Move this node's SQLite state into the fleet's PostgreSQL database (empty; stop "
                               "the service first).")
@config_option()
@click.option("--to", "to", required=True, metavar="postgresql://USER@HOST:PORT/DB",
              help="the target database (empty); no password in it")
@click.option("--password-file", type=click.Path(dir_okay=False),
              help="a file holding the password (else $REELWATCH_STATE_PASSWORD, PGPASSWORD or ~/.pgpass)")
def cmd_migrate(config: str, to: str, password_file: str | None) -> int:
    from ..state.move import MigrateRefused, move
    from ..state.pg import read_password, url_problem
    path = _path(config)
    problem = url_problem(to)
    if problem:
        print(f"reelwatch state migrate: {problem}", file=sys.stderr)
        return EXIT_USAGE
    if not path.exists():
        print(f"{path}: no state database: nothing to migrate", file=sys.stderr)
        return EXIT_USAGE
    if daemon_running(path):
        print(f"{path} is in use by a running reelwatch daemon: stop it first "
              "(systemctl stop reelwatch@NAME), then run this again.", file=sys.stderr)
        return EXIT_USAGE
    src = Store(path)
    try:
        dst = Store(to, password=read_password(password_file))
        try:
            copied = move(src, dst)
        except MigrateRefused as exc:
            print(f"reelwatch state migrate: {exc}", file=sys.stderr)
            return EXIT_PROBLEMS
        finally:
            dst.close()
    finally:
        src.close()
    print(f"moved {path} into {dst.path}: " + ", ".join(f"{t} {n}" for t, n in copied.items()))
    print(f"Now set [state] url = \"{dst.path}\" in the config (the password in password_file), and start the "
          f"service. {path} is left as it was.")
    return EXIT_OK
