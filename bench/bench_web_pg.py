"""Server time per web page over a fleet's PostgreSQL state, against the same production in SQLite.

    python bench/bench_web_pg.py [--assets 100000] [--findings 10000] [--runs 7]

Builds the production as bench/bench_web.py does (in SQLite, the way the daemon leaves it), moves it
into a throw-away PostgreSQL 15 server (tests/pgserver.py; what ``reelwatch state migrate`` does),
and times each page through the ASGI app in process on both, in the same run: the SQLite figures
are the baseline. Needs Debian's postgresql and the ``postgres`` user, as the tests do.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))


def explain(url: str, findings: int, password: str) -> None:
    """The plans PostgreSQL chose for the text search and card queries (EXPLAIN ANALYZE)."""
    from reelwatch.state.store import Store
    from reelwatch.web import queries
    store = Store(url, password=password)
    try:
        rel = store.query("SELECT relpath FROM findings WHERE id=?", (findings // 2,))[0][0]
        for text in ("truncated", rel.rsplit("/", 1)[-1]):
            _, _, test, args = queries.text_search(store, text, "findings f ")
            rows = store.query(f"EXPLAIN ANALYZE SELECT f.* FROM findings f WHERE {test} ORDER BY f.id DESC LIMIT 51",
                               args)
            print(f"\ntext search {text!r}:\n  " + "\n  ".join(r[0] for r in rows))
        under, args = queries.prefix(store, "relpath", rel.rsplit("/", 1)[0] + "/")
        rows = store.query(f"EXPLAIN ANALYZE SELECT finding_id FROM finding_locations WHERE volume=? AND {under}",
                           ["raid_a", *args])
        print("\ncard locations:\n  " + "\n  ".join(r[0] for r in rows))
    finally:
        store.close()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--assets", type=int, default=100_000)
    p.add_argument("--findings", type=int, default=10_000)
    p.add_argument("--runs", type=int, default=7)
    args = p.parse_args()
    from bench_web import build, time_pages
    from pgserver import PASSWORD, PgServer, missing

    from reelwatch.state.move import move
    from reelwatch.state.store import Store
    if missing():
        print(f"skipped: {missing()}")
        return 0
    tmp = Path(tempfile.mkdtemp(prefix="reelwatch-bench-webpg-"))
    server = PgServer()
    try:
        began = time.perf_counter()
        config = build(tmp / "p", args.assets, args.findings)
        built = time.perf_counter() - began
        url = server.new_database()
        os.environ["REELWATCH_STATE_PASSWORD"] = PASSWORD
        began = time.perf_counter()
        src, dst = Store(config.parent / "state.db"), Store(url, password=PASSWORD)
        move(src, dst)
        dst.db.execute("ANALYZE")
        src.close()
        dst.close()
        moved = time.perf_counter() - began
        pg_config = config.parent / "production-pg.toml"
        pg_config.write_text(config.read_text().replace("[state]\n", f'[state]\nurl = "{url}"\n', 1))
        print(f"built {args.assets:,} assets and {args.findings:,} findings in {built:.0f} s, "
              f"moved into PostgreSQL in {moved:.0f} s")
        found: dict[str, str] = {}
        lite = time_pages(config, args.findings, args.runs)
        pg = time_pages(pg_config, args.findings, args.runs, found)
        print("\n| page | PostgreSQL (median ms) | max ms | SQLite (median ms) | ratio |")
        print("|---|---|---|---|---|")
        for name in pg:
            if name not in lite or "live events" in name:  # that one reads the SQLite file in either run
                continue
            m, b = statistics.median(pg[name]) * 1000, statistics.median(lite[name]) * 1000
            print(f"| {name} | {m:.1f} | {max(pg[name]) * 1000:.1f} | {b:.1f} | {m / b:.2f}x |")
        print()
        for name in pg:
            if "text search" in name or "by card" in name:
                print(f"{name}: {found.get(name, '?')} finding(s) shown as found on PostgreSQL")
        explain(url, args.findings, PASSWORD)
    finally:
        server.close()
        import shutil
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
