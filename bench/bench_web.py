"""Server time per web page on a production with 1,000,000 assets and 100,000 findings.

    python bench/bench_web.py [--assets 1000000] [--findings 100000] [--runs 7] [--keep DIR]

Builds a state database the way the daemon leaves it (the Store's schema and indexes; assets with
facts, an audit trail, findings with locations and notices, checksums, an outbox), then times each
page through the ASGI app in process (the server's work: routing, SQL, templates; no network).
The baseline, measured in the same run, is the same pages on a small production (1,000 assets and
100 findings): with indexed, paginated queries the big one should cost about the same. The query
plans are printed too: no page may scan the findings or assets tables.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

ROLES = ("dit", "editorial", "vfx", "sound", "supervisor")
RULES = ("sanity.truncated", "sanity.empty", "spec.frame_rate", "spec.codec", "spec.resolution", "naming.field",
         "naming.chars", "version.gap", "sequence.gap", "integrity.mismatch", "permission.world_writable")
VOLUMES = ("raid_a", "shuttle", "delivery", "nas")


def config_text(base: Path) -> str:
    roles = "\n".join(f'[roles.{r}]\nnotify = ["json://127.0.0.1:9/{r}"]\n' for r in ROLES)
    vols = "\n".join(f'[[volumes]]\nname = "{v}"\npath = "{base / v}"\nowner = "dit"\n' for v in VOLUMES)
    return f'[production]\nname = "Bench"\n{roles}\n{vols}\n[state]\npath = "{base / "state.db"}"\n'


def build(base: Path, assets: int, findings: int, seed: int = 7) -> Path:
    """A state database with ``assets`` assets and ``findings`` findings (70% open, 10% acked)."""
    from reelwatch.state.store import Store
    base.mkdir(parents=True, exist_ok=True)
    (base / "production.toml").write_text(config_text(base))
    Store(base / "state.db").close()  # the schema, exactly as the daemon makes it
    rnd = random.Random(seed)
    db = sqlite3.connect(base / "state.db", isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=OFF")
    now = time.time()
    facts = json.dumps({"kind": "media", "general": {"format": "MPEG-4", "format_profile": "QuickTime",
                                                     "duration": "1001", "file_size": "734003"},
                        "video": [{"format": "ProRes", "format_profile": "422 HQ", "codec_id": "apch",
                                   "width": 3840, "height": 2160, "frame_rate": "23.976",
                                   "framerate_num": "24000", "framerate_den": "1001", "scan_type": "Progressive",
                                   "chroma_subsampling": "4:2:2", "color_primaries": "BT.709"}],
                        "audio": [{"format": "PCM", "channel_s": 2, "sampling_rate": 48000, "bit_depth": 24}],
                        "probe": "mediainfo 24.12"})

    def rel(i: int) -> str:
        card = i // 1000
        return f"Camera Media/A{card:04d}R2EC/A{card:04d}C{i % 1000:03d}_141024_R2EC.mov"

    db.execute("BEGIN")
    step = 50_000
    for start in range(0, assets, step):
        rows = [(VOLUMES[i % len(VOLUMES)], rel(i), rel(i).rsplit("/", 1)[0], 734003, 1, "media", facts, "{}",
                 now - 86400 + i / 100, now - 86400 + i / 100, 1) for i in range(start, min(assets, start + step))]
        db.executemany("INSERT INTO assets (volume, relpath, folder, size, mtime_ns, kind, facts, fields, first_seen,"
                       " checked_at, batch) VALUES (?,?,?,?,?,?,?,?,?,?,?)", rows)
        db.executemany("INSERT INTO audit (ts, event, volume, relpath, detail) VALUES (?, 'checked', ?, ?, ?)",
                       [(r[8], r[0], r[1], '{"size": 734003, "mtime_ns": 1, "findings": 0}') for r in rows])
        db.executemany("INSERT INTO hashes VALUES (?,?,?,?,?,?)",
                       [(f"{base / r[0] / r[1]}", "xxh128", 734003, 1, f"{rnd.getrandbits(128):032x}", r[8])
                        for r in rows[::10]])
    for fid in range(1, findings + 1):
        i = rnd.randrange(assets)
        volume, relpath = VOLUMES[i % len(VOLUMES)], rel(i)
        rule = RULES[fid % len(RULES)]
        severity = (10, 20, 30, 40)[rnd.randrange(4)]
        owner = ROLES[fid % len(ROLES)]
        status = "open" if fid % 10 < 7 else "acked" if fid % 10 == 7 else "resolved"
        data = {"rule": rule, "severity": {10: "info", 20: "warning", 30: "error", 40: "blocker"}[severity],
                "path": f"{base / volume / relpath}", "volume": volume, "relpath": relpath,
                "message": f"problem {fid}: {rule} on {relpath.rsplit('/', 1)[-1]}", "expected": "as the spec says",
                "owner": owner, "impacts": ["editorial", "vfx"], "impact": "editorial cannot cut it",
                "fix": "copy it again from the card", "plugin": rule.split(".")[0], "details": {}}
        ts = now - 86400 + fid
        db.execute("INSERT INTO findings (id, fingerprint, origin, plugin, volume, relpath, scope, rule, severity, "
                   "owner, roles, data, status, first_seen, last_seen, acked_at, acked_by) VALUES "
                   "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                   (fid, f"{rule}\x1f{volume}\x1f{relpath}\x1f{fid}", "check", data["plugin"], volume, relpath,
                    f"{volume}/Camera Media", rule, severity, owner, json.dumps([owner, "editorial"]), json.dumps(data),
                    status, ts, ts, ts if status == "acked" else None, "ana" if status == "acked" else None))
        db.execute("INSERT INTO finding_locations (finding_id, volume, relpath, scope, path) VALUES (?,?,?,?,?)",
                   (fid, volume, relpath, f"{volume}/Camera Media", data["path"]))
        db.execute("INSERT INTO audit (ts, event, volume, relpath, detail) VALUES (?, 'finding', ?, ?, ?)",
                   (ts, volume, relpath, json.dumps({"id": fid, "rule": rule, "severity": data["severity"]})))
        db.execute("INSERT INTO notices (role, kind, finding_id, severity, data, created, message_id) "
                   "VALUES (?,?,?,?,?,?,?)", (owner, "new", fid, severity, json.dumps({**data, "id": fid}), ts, fid))
    for card in range(min(200, max(1, assets // 1000))):  # card verdicts from the mirrors rule
        fid = findings + card + 1
        safe = card % 3 != 0
        rule = "mirror.safe_to_format" if safe else "mirror.incomplete"
        unit = f"A{card:04d}R2EC"
        data = {"rule": rule, "severity": "info" if safe else "error", "volume": "raid_a",
                "relpath": f"Camera Media/{unit}", "message": f"Card {unit} is safe to format" if safe else
                f"Do not format card {unit} yet: the copy on shuttle is incomplete", "owner": "dit",
                "details": {"set": "offload", "unit": unit, "copies": ["raid_a", "shuttle"], "files": 1000,
                            "bytes": 734003000, **({"positive": {"headline": "safe"}} if safe else {})}}
        db.execute("INSERT INTO findings (id, fingerprint, origin, plugin, volume, relpath, scope, rule, severity, "
                   "owner, roles, data, status, first_seen, last_seen) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                   (fid, f"{rule}\x1f{unit}", "batch", "mirrors", "raid_a", f"Camera Media/{unit}", "raid_a/Camera Media",
                    rule, 10 if safe else 30, "dit", '["dit"]', json.dumps(data), "open", now, now))
    db.executemany("INSERT INTO outbox (role, payload, created, state, next_at) VALUES (?,?,?,?,?)",
                   [(ROLES[i % 5], "{}", now - i, "pending" if i < 20 else "sent" if i > 25 else "dead", now)
                    for i in range(2000)])
    db.executemany("INSERT INTO volume_status VALUES (?,?,?,?,?,?,?)",
                   [(v, "inotify", "ok", now, 0, "local file system", now) for v in VOLUMES])
    db.execute("INSERT INTO audit (ts, event, detail) VALUES (?, 'started', '{}')", (now - 3600,))
    db.execute("COMMIT")
    db.execute("ANALYZE")
    db.close()
    return base / "production.toml"


def pages(store_path: Path, findings: int) -> dict[str, str]:
    db = sqlite3.connect(f"file:{store_path}?mode=ro", uri=True)
    fid = findings // 2
    volume, relpath = db.execute("SELECT volume, relpath FROM findings WHERE id=?", (fid,)).fetchone()
    db.close()
    return {
        "overview": "/",
        "cards board": "/cards",
        "findings (open, newest 50)": "/findings",
        "findings, page 100 (keyset)": f"/findings?before={findings - 5000}",
        "findings by role": "/findings?role=vfx",
        "findings by volume": "/findings?volume=shuttle",
        "findings by severity": "/findings?severity=blocker",
        "findings by rule family": "/findings?rule=spec",
        "findings by card": "/findings?" + urlencode({"path": relpath.rsplit("/", 1)[0], "status": "all"}),
        "findings, text search (common)": "/findings?text=truncated",
        "findings, text search (rare)": "/findings?" + urlencode({"text": relpath.rsplit("/", 1)[-1], "status": "all"}),
        "a finding": f"/findings/{fid}",
        "an asset": "/asset?" + urlencode({"volume": volume, "path": relpath}),
        "card offload report": "/cards/report?set=offload&unit=A0000R2EC",
        "live page": "/live",
    }


def time_pages(config_path: Path, findings: int, runs: int,
               found: dict[str, str] | None = None) -> dict[str, list[float]]:
    """Times per page; ``found``, if given, gets what each findings page says it found."""
    from reelwatch.checking.runtime import load_runtime
    from reelwatch.web.app import create_app
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient
    config = load_runtime(str(config_path), None).config
    client = TestClient(create_app(config), base_url="http://127.0.0.1:8765")
    out: dict[str, list[float]] = {}
    for name, url in pages(config_path.parent / "state.db", findings).items():
        times = []
        for _ in range(runs):
            began = time.perf_counter()
            r = client.get(url)
            times.append(time.perf_counter() - began)
            assert r.status_code == 200, (url, r.status_code, r.text[-500:])
        out[name] = times
        said = re.search(r"(more than 1,000|\d+) finding\(s\)", r.text)
        if found is not None and said:
            found[name] = said.group(1)
    from reelwatch.state.store import Store
    from reelwatch.web import queries
    store = Store(config_path.parent / "state.db", readonly=True)
    began = time.perf_counter()
    for _ in range(runs):
        queries.new_events(store, queries.last_event_id(store) - 50)
    out["live events poll (50 new)"] = [(time.perf_counter() - began) / runs]
    return out


def plans(db_path: Path) -> list[str]:
    """Queries of the pages whose plan scans a big table (a full scan per request)."""
    from reelwatch.web import queries
    bad = []
    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    samples = {
        "overview by severity": "SELECT severity, COUNT(*) FROM findings WHERE status='open' GROUP BY severity",
        "overview by role": "SELECT owner, severity, COUNT(*) FROM findings WHERE status='open' GROUP BY owner, severity",
        "oldest error": "SELECT * FROM findings INDEXED BY findings_status WHERE status='open' AND +severity>=30 "
                        "ORDER BY id LIMIT 1",
        "findings page": "SELECT f.* FROM findings f INDEXED BY findings_status WHERE f.status='open' AND "
                         "(f.owner='vfx' OR instr(f.roles, '\"vfx\"') > 0) ORDER BY f.id DESC LIMIT 51",
        "cards": "SELECT * FROM findings WHERE rule>='mirror.' AND rule<'mirror/' AND status IN ('open','acked') "
                 "ORDER BY id DESC LIMIT 2000",
        "daemon state": "SELECT ts, event, detail FROM audit INDEXED BY audit_event WHERE event IN "
                        "('started','stopped','thread_died') ORDER BY id DESC LIMIT 50",
        "asset history": "SELECT ts, event, detail FROM audit WHERE volume='x' AND relpath='y' ORDER BY id DESC LIMIT 300",
    }
    if db.execute("SELECT 1 FROM sqlite_master WHERE name='findings_text'").fetchone():  # migration 7
        samples["text search"] = (
            "SELECT f.* FROM findings_text CROSS JOIN findings f ON f.id=findings_text.rowid WHERE findings_text "
            "MATCH '\"A0049C\"' AND (f.data LIKE '%A0049C%' OR f.relpath LIKE '%A0049C%') "
            "ORDER BY findings_text.rowid DESC LIMIT 51")
    for name, sql in samples.items():
        plan = " | ".join(r[3] for r in db.execute("EXPLAIN QUERY PLAN " + sql))
        flag = "SCAN" in plan.replace("SCAN CONSTANT", "") and "USING" not in plan
        bad.append(f"{'FULL SCAN ' if flag else ''}{name}: {plan}")
    db.close()
    del queries
    return bad


def commit_cost(n: int = 400) -> tuple[float, float]:
    """Median ms of a ``commit_check`` raising one new finding, with the text index's triggers (migration 7)
    and without them: what keeping the index costs the checks."""
    from reelwatch.core.model import Asset, Facts, Finding, Severity
    from reelwatch.state.store import Store
    out = []
    for keep in (True, False):
        tmp = Path(tempfile.mkdtemp(prefix="reelwatch-bench-commit-"))
        store = Store(tmp / "state.db")
        if not keep:
            with store.tx() as db:
                for name in ("findings_text_ai", "findings_text_ad", "findings_text_au"):
                    db.execute(f"DROP TRIGGER IF EXISTS {name}")
        times = []
        for i in range(n):
            a = Asset("ingest", "/nowhere", f"A{i // 100:04d}R2EC/A{i // 100:04d}C{i:03d}_141024_R2EC.mov", 1000, 1)
            f = Finding("sanity.truncated", Severity.ERROR, a, "the file is cut short", owner="dit",
                        impacts=("editorial",), expected="a whole file", impact="editorial cannot cut it",
                        fix="copy it again from the card")
            began = time.perf_counter()
            store.commit_check(a, Facts(kind="media"), [f], lambda f: [("dit", "new")], 1)
            times.append(time.perf_counter() - began)
        store.close()
        shutil.rmtree(tmp, ignore_errors=True)
        out.append(statistics.median(times) * 1000)
    return out[0], out[1]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--assets", type=int, default=1_000_000)
    p.add_argument("--findings", type=int, default=100_000)
    p.add_argument("--runs", type=int, default=7)
    p.add_argument("--keep", help="build (or reuse) the big production in this folder")
    args = p.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="reelwatch-bench-web-"))
    try:
        small = build(tmp / "small", 1000, 100)
        big_dir = Path(args.keep) if args.keep else tmp / "big"
        began = time.perf_counter()
        reused = (big_dir / "state.db").exists()
        if reused:  # reused: the daemon's start adds the indexes this version has
            from reelwatch.state.store import Store
            Store(big_dir / "state.db").close()
            big = big_dir / "production.toml"
        else:
            big = build(big_dir, args.assets, args.findings)
        print(f"{'reused' if reused else 'built'} {args.assets:,} assets and {args.findings:,} findings "
              f"in {time.perf_counter() - began:.0f} s "
              f"({(big_dir / 'state.db').stat().st_size / 1e6:.0f} MB)")
        base = time_pages(small, 100, args.runs)
        found: dict[str, str] = {}
        large = time_pages(big, args.findings, args.runs, found)
        print(f"\n| page | {args.assets:,} assets, {args.findings:,} findings (median ms) | max ms | "
              "1,000 assets, 100 findings (median ms) | ratio |")
        print("|---|---|---|---|---|")
        for name in large:
            m, b = statistics.median(large[name]) * 1000, statistics.median(base[name]) * 1000
            print(f"| {name} | {m:.1f} | {max(large[name]) * 1000:.1f} | {b:.1f} | {m / b:.2f}x |")
        print()
        for name in large:
            if "text search" in name or "by card" in name:
                print(f"{name}: {found.get(name, '?')} finding(s) shown as found")
        print()
        for line in plans(big_dir / "state.db"):
            print(line)
        kept, bare = commit_cost()
        print(f"\ncommit_check raising a new finding: {kept:.2f} ms with the text index, {bare:.2f} ms without")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
