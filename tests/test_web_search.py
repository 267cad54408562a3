"""Text search on the findings page reads every finding through an index (SQLite FTS5 trigrams,
PostgreSQL pg_trgm), with the results of a plain case-insensitive substring match, for any name;
and a card's findings are found whatever characters follow the card's folder.
(Runs on SQLite, and on PostgreSQL with REELWATCH_TEST_STATE=postgresql.)"""

from __future__ import annotations

import json
import os
import re
import sqlite3
from pathlib import Path

import pytest
import structlog

from reelwatch.state.schema import SCHEMA_VERSION
from reelwatch.state.store import Store
from reelwatch.web import queries

from conftest import sqlite_only
from pgserver import state_backend
from test_migrations import old_database
from test_web import _client, _finding, _production

ODD = os.fsdecode(b"A009R2EC/A009C001_\xff\xfe_R2EC.mov")  # not UTF-8: bytes as the file system gave them


def _bulk(store: Store, n: int, volume: str = "ingest") -> None:
    """``n`` findings at once (newer than any recorded so far), as the store lays them out."""
    data = json.dumps({"rule": "naming.field", "message": "the name has no scene field", "fix": "rename it"})
    rows = [(f"naming.field\x1f{volume}\x1fB{i:06d}.mov", "check", "naming", volume, f"B/B{i:06d}.mov", volume,
             "naming.field", 20, "editorial", '["editorial"]', data, "open", 1.0 + i, 1.0 + i) for i in range(n)]
    with store.tx() as db:
        db.executemany("INSERT INTO findings (fingerprint, origin, plugin, volume, relpath, scope, rule, severity, "
                       "owner, roles, data, status, first_seen, last_seen) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                       rows)


def _ids(store: Store, text: str, status: str = "all") -> list[int]:
    """Every finding the search pages through (newest first), following the keyset links."""
    flt = queries.Filters.parse({"text": text, "status": status})
    out: list[int] = []
    while True:
        page = queries.findings_page(store, flt, limit=7)
        out += [f["id"] for f in page["items"]]
        if page["next"] is None:
            return out
        flt.before = page["next"]


def test_a_finding_older_than_the_newest_20000_is_found(tmp_path: Path) -> None:
    config, store = _production(tmp_path)
    old = _finding(store, "A001R2EC/A001C007_141024_R2EC.mov", message="the file is cut short")
    _bulk(store, 20_050)
    c = _client(config)
    page = c.get("/findings", params={"text": "a001c007", "status": "all"}).text
    assert "1 finding(s)" in page and f"/findings/{old}" in page  # was: 0 finding(s), "nothing open"
    assert "newest 20,000" not in page
    assert _ids(store, "A001C007_141024") == [old]
    # a common word pages through all of them by keyset; the count stops at 1,000 as before
    page = queries.findings_page(store, queries.Filters.parse({"text": "scene field"}))
    assert page["capped"] and len(page["items"]) == queries.PAGE and page["next"] is not None
    # a finding written after the index was built is found too (the index follows every write)
    new = _finding(store, "A001R2EC/A001C008_141024_R2EC.mov")
    assert _ids(store, "A001C008") == [new]
    with store.tx() as db:
        db.execute("UPDATE findings SET status='resolved', data=? WHERE id=?",
                   (json.dumps({"message": "relabelled Z9Q"}), old))
    assert _ids(store, "Z9Q") == [old] and _ids(store, "cut short", "open") == [new]
    assert _ids(store, "A001C007", "open") == []
    store.close()


NAMES = {
    "pct": "A001R2EC/take 100% final.mov",
    "pctx": "A001R2EC/take 100x final.mov",
    "under": "A001R2EC/C_1 v2.mov",
    "underx": "A001R2EC/CX1 v2.mov",
    "quote": "A001R2EC/it's \"the\" one.mov",
    "backslash": "A001R2EC/back\\slash.mov",
    "accent": "A001R2EC/Café Noir 😀 take.mov",
    "odd": ODD,
    "upper": "A001R2EC/LOUD_NAME.MOV",
}


def test_any_characters_are_themselves_and_match_as_a_substring(tmp_path: Path) -> None:
    _, store = _production(tmp_path)
    ids = {k: _finding(store, rel, message=f"problem with {k}") for k, rel in NAMES.items()}
    _bulk(store, 30)
    cases = {
        "100%": ["pct"], "0% f": ["pct"], "C_1": ["under"], "c_1 V2": ["under"], "_1 ": ["under"],
        "it's \"the\"": ["quote"], "'s \"": ["quote"], "k\\s": ["backslash"],
        "back\\slash": ["backslash"], "Café": ["accent"], "é N": ["accent"], "😀 take": ["accent"],
        "A009C001_\udcff\udcfe": ["odd"], "A009C001": ["odd"], "\udcfe_R2": ["odd"], "_R2EC.mov": ["odd"],
        "loud_name": ["upper"], "LoUd_NaMe.mov": ["upper"],
        "%": ["pct"], "_": ["under", "odd", "upper"], "0x": ["pctx"], "é": ["accent"],  # (no trigram in these)
        "B000001.mov": [], "\x00": [], "100%%": [], "C%1": [], "C_1 v2.mov\\": [],
    }
    for text, want in cases.items():
        want_ids = sorted((ids[k] for k in want), reverse=True)
        got = [i for i in _ids(store, text) if i in ids.values()]
        assert got == want_ids, (text, [k for k, v in ids.items() if v in got])
    assert len(_ids(store, "B0000")) == 30 and len(_ids(store, "b000001.MOV")) == 1 and _ids(store, "B000031") == []
    store.close()


def test_the_page_answers_for_any_text(tmp_path: Path) -> None:
    config, store = _production(tmp_path)
    fid = _finding(store, NAMES["quote"])
    c = _client(config)
    for text in ("\x00", "%", "\\", "'", "\"\"\"", "NEAR(a b)", "a OR b*", "(", "^x", "-x:y"):
        r = c.get("/findings", params={"text": text, "status": "all"})
        assert r.status_code == 200, text
    for raw in ("%FF", "%FF%FE_R2", "%C3%28", "%00%25"):  # bytes that are not UTF-8, as a browser sends them
        assert c.get(f"/findings?status=all&text={raw}").status_code == 200, raw
    assert f"/findings/{fid}" in c.get("/findings", params={"text": "\"the\" one"}).text
    store.close()


def test_a_card_holds_files_whose_names_go_beyond_the_basic_plane(tmp_path: Path) -> None:
    config, store = _production(tmp_path)
    plain = _finding(store, "A001R2EC/A001C001.mov")
    emoji = _finding(store, "A001R2EC/😀 A001C002.mov")
    deep = _finding(store, "A001R2EC/\U000ffffd/A001C003.mov")
    odd = _finding(store, ODD.replace("A009R2EC", "A001R2EC"))
    _finding(store, "A001R2ECX/A001C004.mov")
    _finding(store, os.fsdecode(b"A001R2EC\xff/A001C005.mov"))
    page = _client(config).get("/findings", params={"path": "A001R2EC", "status": "all"}).text
    # was 1: the range ended at "A001R2EC/" + U+FFFF, and SQLite sorts a name stored as bytes after it
    assert "4 finding(s)" in page
    assert all(f"/findings/{i}\"" in page for i in (plain, emoji, deep, odd))
    store.close()


@sqlite_only("a database file as 0.1.0 left it")
def test_an_upgraded_0_1_0_database_gets_the_index_and_finds_its_old_findings(tmp_path: Path) -> None:
    path = old_database(tmp_path / "state.db")
    store = Store(path)
    assert store.query("SELECT value FROM meta WHERE key='schema'")[0][0] == str(SCHEMA_VERSION)
    assert queries.has_text_index(store)
    old = store.query("SELECT id FROM findings WHERE relpath LIKE '%A002C004%'")
    assert old and store.query("SELECT COUNT(*) FROM findings_text WHERE findings_text MATCH '\"a002c004\"'")[0][0]
    assert _ids(store, "a002c004_250101") == sorted((r[0] for r in old), reverse=True)
    flt = queries.Filters.parse({"text": "a002c004", "status": "all"})
    source, order, test, args = queries.text_search(store, flt.text, "findings f ")
    plan = " | ".join(str(r[3]) for r in store.query(f"EXPLAIN QUERY PLAN SELECT f.* FROM {source}WHERE {test} "
                                                      f"ORDER BY {order} DESC LIMIT 51", args))
    assert plan == "SCAN findings_text VIRTUAL TABLE INDEX 192:M2 | SEARCH f USING INTEGER PRIMARY KEY (rowid=?)", plan
    store.close()


@sqlite_only("names stored as bytes: SQLite's")
def test_names_of_any_bytes_are_found_as_a_plain_like_finds_them(tmp_path: Path) -> None:
    """The trigram index reads bytes that are not UTF-8 with LIKE's decoding: it misses no row LIKE finds."""
    import random
    rnd = random.Random(7)
    pieces = [b"a", b"B", b"_", b"%", b"/", b"\xc3\xa9", b"\xc3\x89", b"\xe2\x82\xac", b"\xf0\x9f\x98\x80", b"\xff",
              b"\xfe", b"\xc3", b"\xa9", b"\x80", b"\xe2\x82", b"\xed\xa0\x80", b"\xef\xbf\xbe"]
    names = [b"".join(rnd.choice(pieces) for _ in range(rnd.randint(3, 12))) for _ in range(400)]
    store = Store(tmp_path / "state.db")
    data = json.dumps({"message": "x"})
    with store.tx() as db:
        db.executemany("INSERT INTO findings (fingerprint, origin, plugin, volume, relpath, scope, rule, severity, "
                       "roles, data, first_seen, last_seen) VALUES (?, 'check', 'n', 'v', ?, 'v', 'n.x', 20, '[]', ?, "
                       "1, 1)", [(str(i), os.fsdecode(n), data) for i, n in enumerate(names)])
    checked = 0
    while checked < 150:
        name = rnd.choice(names)
        a = rnd.randrange(len(name))
        try:
            text = name[a:rnd.randint(a + 1, len(name))].decode("utf-8")
        except UnicodeDecodeError:
            continue
        if len(text) < 3:
            continue
        like = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        want = [r[0] for r in store.query("SELECT id FROM findings WHERE relpath LIKE ? ESCAPE '\\' OR data LIKE ? "
                                          "ESCAPE '\\' ORDER BY id DESC", (like, like))]
        page = queries.findings_page(store, queries.Filters.parse({"text": text, "status": "all"}), limit=1000)
        assert [f["id"] for f in page["items"]] == want, (text, want)
        checked += 1
    store.close()


@sqlite_only("SQLite's FTS5 index and its triggers")
def test_the_sqlite_index_follows_every_write(tmp_path: Path) -> None:
    store = Store(tmp_path / "state.db")
    _bulk(store, 50)
    with store.tx() as db:
        db.execute("DELETE FROM findings WHERE relpath='B/B000007.mov'")
        db.execute("UPDATE findings SET relpath='B/renamed.mov' WHERE relpath='B/B000008.mov'")
    assert store.query("SELECT COUNT(*) FROM findings_text WHERE findings_text MATCH '\"B000007\"'")[0][0] == 0
    assert len(_ids(store, "renamed")) == 1 and _ids(store, "B000008") == []
    # the index agrees with its table, row for row
    store.query("INSERT INTO findings_text (findings_text, rank) VALUES ('integrity-check', 1)")
    store.close()


@pytest.mark.skipif(state_backend() == "postgresql", reason="opens its own PostgreSQL databases (pg_server)")
def test_postgresql_gets_trigram_and_prefix_indexes(pg_server, pg_url: str) -> None:
    from pgserver import PASSWORD
    store = Store(pg_url, password=PASSWORD)
    names = {r[0] for r in store.query("SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()")}
    assert {"findings_text_trgm", "finding_locations_prefix", "assets_prefix"} <= names
    fid = _finding(store, NAMES["pct"])
    _bulk(store, 200)
    source, order, test, args = queries.text_search(store, "100% final", "findings f ")
    with store.tx() as db:
        db.execute("ANALYZE")
        db.execute("SET LOCAL enable_seqscan = off")  # a few hundred rows: make the planner show what it can use
        plan = " ".join(r[0] for r in db.execute(
            f"EXPLAIN SELECT COUNT(*) FROM {source}WHERE {test}", args).fetchall())
        assert "findings_text_trgm" in plan, plan
        plan = " ".join(r[0] for r in db.execute(
            "EXPLAIN SELECT finding_id FROM finding_locations WHERE volume=? AND relpath ~>=~ ? AND relpath ~<~ ?",
            ("ingest", "A001R2EC/", "A001R2EC0")).fetchall())
        assert "finding_locations_prefix" in plan, plan
    assert _ids(store, "100% FINAL") == [fid]  # case-insensitive on PostgreSQL too (was: LIKE, case-sensitive)
    store.close()


@pytest.mark.skipif(state_backend() == "postgresql", reason="opens its own PostgreSQL databases (pg_server)")
def test_a_server_that_refuses_pg_trgm_still_searches_and_says_so_once(pg_server) -> None:
    import psycopg
    from pgserver import PASSWORD
    url = pg_server.new_database()
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(pg_server.url(name), password=PASSWORD, autocommit=True) as conn:
        conn.execute("DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'plain') THEN "
                     f"CREATE ROLE plain LOGIN PASSWORD '{PASSWORD}'; END IF; END $$")
        conn.execute("GRANT CONNECT ON DATABASE " + name + " TO plain")  # not CREATE: no extension
        conn.execute("GRANT ALL ON SCHEMA public TO plain")
    plain = re.sub(r"//[^@]+@", "//plain@", url)
    with structlog.testing.capture_logs() as logs:
        store = Store(plain, password=PASSWORD)
        store.close()
        store = Store(plain, password=PASSWORD)
    said = [e for e in logs if e["event"] == "state_text_index_missing"]
    assert len(said) == 1 and "pg_trgm" in said[0]["fix"], logs
    assert store.query("SELECT value FROM meta WHERE key='schema'")[0][0] == str(SCHEMA_VERSION)
    names = {r[0] for r in store.query("SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()")}
    assert "findings_text_trgm" not in names and "finding_locations_prefix" in names
    fid = _finding(store, NAMES["under"])
    assert _ids(store, "c_1 v2") == [fid]
    store.close()


def test_sqlite_here_has_the_trigram_tokenizer() -> None:
    """The index needs SQLite 3.34 or later with FTS5 (Python's own SQLite has both since 3.10's builds)."""
    db = sqlite3.connect(":memory:")
    try:
        db.execute("CREATE VIRTUAL TABLE t USING fts5(x, tokenize='trigram')")
    except sqlite3.OperationalError as exc:
        pytest.skip(f"SQLite {sqlite3.sqlite_version}: {exc} (text search reads every finding)")
    finally:
        db.close()
