"""Sampled re-hashing: silent corruption of files whose size and mtime never changed.

The daemon only looks at a file when it changes, and its hash cache trusts size and mtime. A
failing disk, a RAID rebuild gone wrong, bad memory or an edit that restored the mtime changes
the bytes and nothing else. ``reelwatch rehash`` (run nightly from a systemd timer, next to the
daemon: SQLite in WAL mode takes both) picks a sample of files with recorded checksums (the
``hashes`` table), least recently verified first, reads each afresh with ``O_NOATIME`` and:

* same size and mtime, same checksum: verified; its ``hashed_at`` moves to now;
* same size and mtime, different checksum: ``integrity.hash_changed`` (blocker) to the volume
  owner and the supervisor, recorded with ``Store.commit_batch`` so the daemon's outbox delivers
  it; the cache is corrected, so that rules reading it (offload mirrors) see the real bytes;
* size or mtime changed: skipped, the tamper rule (``integrity.changed_after_ingest``) reports it;
* gone, unreadable, on an unmounted volume or outside every volume: skipped and counted.

Files with an open ``integrity.hash_changed`` are checked again first: the finding resolves when
the file matches the checksum recorded before the damage (restored from another copy) and stays
open otherwise. The files found changed or restored are then judged again by the batch rules (the
command line passes them to ``batch_done``): a card that was "safe to format" is not any more.
"""

from __future__ import annotations

import contextlib
import glob
import math
import os
import random
import stat as statmod
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from ..core.config import Config, drive_volume_name
from ..integrity.hashing import hash_file, normalize_algo
from ..integrity.rules import HASH_CHANGED
from ..core.model import Asset, Finding
from ..state.store import FindingRow, Router, Store, scope_of

RULE = HASH_CHANGED
"""The rule its findings carry (defined with the integrity engine, where the shipped plugins read it)."""
PLUGIN = "rehash"
"""The ``plugin`` of its findings: batch findings of no ``batch_done`` plugin, so only rehash resolves them."""
PREFERENCE = ("xxh128", "xxh3", "xxh64", "xxh32", "md5", "sha1", "sha256", "c4")
"""When a file has several recorded checksums, the fastest is re-computed (one proves the bytes)."""
DAY = 86400.0
LOOKS_PER_FILE = 10
"""Files skipped (changed, gone) cost a stat each: at most this many per file of the sample."""


@dataclass
class RehashReport:
    """What one run did. ``changed`` and ``restored`` list volume-relative paths."""

    sample: int = 0
    candidates: int = 0
    hashed: int = 0
    verified: int = 0
    changed: list[str] = field(default_factory=list)
    still_changed: int = 0
    restored: list[str] = field(default_factory=list)
    modified: int = 0
    missing: int = 0
    unreadable: int = 0
    unavailable: int = 0
    outside: int = 0
    bytes: int = 0
    elapsed: float = 0.0
    stopped: str | None = None
    """Why the run ended before its sample was done: ``time``, ``bytes`` or ``looks``; None otherwise."""

    @property
    def exit_code(self) -> int:
        return 1 if self.changed else 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def lines(self) -> list[str]:
        """Plain words for the terminal and the journal."""
        gb = self.bytes / 1e9
        out = [f"Re-verified {self.hashed} of {self.candidates:,} files with recorded checksums "
               f"({gb:,.1f} GB in {self.elapsed:,.0f} s): {self.verified} unchanged, "
               f"{len(self.changed)} changed silently."]
        if self.hashed and self.candidates:
            out.append(f"At {self.hashed} files a run, every file is re-verified every "
                       f"{math.ceil(self.candidates / self.hashed)} runs.")
        out += [f"CHANGED (reported to its owner and the supervisor): {_printable(p)}" for p in self.changed]
        out += [f"restored (matches its recorded checksum again): {_printable(p)}" for p in self.restored]
        if self.still_changed:
            out.append(f"{self.still_changed} file(s) reported earlier still do not match.")
        skipped = [(self.modified, "changed size or modification time (the tamper rule reports those)"),
                   (self.missing, "gone"), (self.unreadable, "unreadable"),
                   (self.unavailable, "on volumes that are not mounted"), (self.outside, "outside every volume")]
        if any(n for n, _ in skipped):
            out.append("Skipped: " + ", ".join(f"{n} {why}" for n, why in skipped if n) + ".")
        if self.stopped:
            out.append(f"Stopped early: the {self.stopped} budget was used up.")
        return out


def _printable(text: str) -> str:
    """A file name for a terminal: control characters shown as '?'."""
    return "".join(c if c.isprintable() else "?" for c in text)


def _utc(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")


@dataclass(frozen=True)
class _Volume:
    name: str
    owner: str
    root: str


def _volumes(config: Config) -> list[_Volume]:
    """Volumes by root, deepest first; drives under a mount root as the daemon names them."""
    out = []
    for v in config.volumes:
        if set("*?[") & set(v.path):
            out += [_Volume(drive_volume_name(v.name, p), v.owner, p) for p in glob.glob(str(config.resolve(v.path)))
                    if os.path.isdir(p)]
        else:
            out.append(_Volume(v.name, v.owner, str(config.resolve(v.path))))
    return sorted(out, key=lambda v: len(v.root), reverse=True)


class _Run:
    """State of one run: budgets, volume lookups and the report."""

    def __init__(self, store: Store, config: Config, report: RehashReport, clock: Callable[[], float],
                 max_bytes: int | None, max_seconds: float | None) -> None:
        self.store, self.report, self.clock = store, report, clock
        self.max_bytes, self.max_seconds = max_bytes, max_seconds
        self.started = clock()
        self.looks = 0
        """Files stat'ed by the sample (skipped ones included)."""
        self.volumes = _volumes(config)
        self._up: dict[str, bool] = {}
        self.touched: list[Asset] = []
        """Files found changed or restored: what they feed (a card's verdict) is judged again."""

    def locate(self, path: str) -> tuple[_Volume, str] | None:
        """(volume, relative path) of an absolute path, or None outside every volume."""
        for vol in self.volumes:
            if path.startswith(vol.root.rstrip("/") + "/"):
                return vol, path[len(vol.root.rstrip("/")) + 1:]
        return None

    def up(self, vol: _Volume) -> bool:
        if vol.name not in self._up:
            self._up[vol.name] = os.path.isdir(vol.root)
        return self._up[vol.name]

    def room(self, size: int) -> bool:
        """True while the time and byte budgets allow reading another file of ``size`` bytes."""
        if self.max_seconds is not None and self.clock() - self.started >= self.max_seconds:
            self.report.stopped = "time"
        elif self.max_bytes is not None and self.report.bytes and self.report.bytes + size > self.max_bytes:
            self.report.stopped = "bytes"
        return self.report.stopped is None

    def touch(self, path: str, rows: dict[str, Any]) -> None:
        """Move a skipped file to the back of the queue, unless the daemon has recorded a new version."""
        now = self.store.clock()
        with self.store.tx() as db:
            db.executemany("UPDATE hashes SET hashed_at=? WHERE path=? AND algo=? AND size=? AND mtime_ns=? "
                           "AND digest=?", [(now, path, a, r["size"], r["mtime_ns"], r["digest"])
                                            for a, r in rows.items()])

    def recheck(self, row: FindingRow, want: int) -> Finding | None:
        """An open finding: None when the file matches its recorded checksum again, else the finding."""
        carry = _carried(row)
        details = row.data.get("details") or {}
        path, algo, recorded = str(row.data.get("path", "")), str(details.get("algo", "")), details.get("recorded")
        loc = self.locate(path)
        if loc is None or not self.up(loc[0]) or not recorded or self.report.hashed >= want:
            return carry
        try:
            st = os.stat(path)
            if not self.room(st.st_size):
                return carry
            digest = hash_file(path, algo)
        except (OSError, ValueError):
            return carry
        self.report.hashed += 1
        self.report.bytes += st.st_size
        if digest != recorded:
            self.report.still_changed += 1
            return carry
        self.report.restored.append(loc[1])
        self.touched.append(Asset(loc[0].name, loc[0].root, loc[1], st.st_size, st.st_mtime_ns))
        self.store.save_hash(path, algo, st.st_size, st.st_mtime_ns, digest)
        return None

    def verify(self, path: str, rows: dict[str, Any], algo: str) -> Finding | None:
        """One sampled file: re-hash it if it is unchanged on disk; a finding when its bytes changed."""
        rec = rows[algo]
        loc = self.locate(path)
        if loc is None:
            self.report.outside += 1
            return None
        vol, rel = loc
        if not self.up(vol):
            self.report.unavailable += 1
            return None
        self.looks += 1
        try:
            st = os.stat(path)
        except (FileNotFoundError, NotADirectoryError):
            self.report.missing += 1
            self.touch(path, rows)
            return None
        except OSError:
            self.report.unreadable += 1
            self.touch(path, rows)
            return None
        if not statmod.S_ISREG(st.st_mode) or (st.st_size, st.st_mtime_ns) != (rec["size"], rec["mtime_ns"]):
            self.report.modified += 1
            self.touch(path, rows)
            return None
        if not self.room(st.st_size):
            return None
        try:
            digest = hash_file(path, algo)
            after = os.stat(path)
        except OSError:
            self.report.unreadable += 1
            self.touch(path, rows)
            return None
        if (after.st_size, after.st_mtime_ns) != (st.st_size, st.st_mtime_ns):
            self.report.modified += 1  # written to while it was read: the daemon will see the change
            return None
        self.report.hashed += 1
        self.report.bytes += st.st_size
        if digest == rec["digest"]:
            self.report.verified += 1
            for a, r in rows.items():
                if (r["size"], r["mtime_ns"]) == (st.st_size, st.st_mtime_ns):
                    self.store.save_hash(path, a, r["size"], r["mtime_ns"], r["digest"])
            self.store.audit("rehash_verified", vol.name, rel, algo=algo)
            return None
        self.report.changed.append(rel)
        self.touched.append(Asset(vol.name, vol.root, rel, st.st_size, st.st_mtime_ns))
        self.store.save_hash(path, algo, st.st_size, st.st_mtime_ns, digest)
        for other in rows:
            if other != algo:
                with contextlib.suppress(OSError, ValueError):  # the other checksums of these bytes are wrong now too
                    self.store.save_hash(path, other, st.st_size, st.st_mtime_ns, hash_file(path, other))
        return _finding(vol, rel, st, algo, rec, digest)


def _finding(vol: _Volume, rel: str, st: os.stat_result, algo: str, rec: Any, actual: str) -> Finding:
    name = PurePosixPath(rel).name
    return Finding(
        rule=RULE.id, severity=RULE.severity, owner=vol.owner, impacts=RULE.impacts, plugin=PLUGIN,
        asset=Asset(volume=vol.name, root=vol.root, relpath=rel, size=st.st_size, mtime_ns=st.st_mtime_ns),
        message=f"{name} changed on disk although its size and modification time did not: its {algo} checksum "
                f"no longer matches the one last verified on {_utc(rec['hashed_at'])}",
        expected="a file whose size and modification time are unchanged keeps the checksum recorded for it",
        impact="its bytes are silently damaged (a failing disk, RAID or memory) or were edited with the traces "
               "hidden; anything conformed, graded or delivered from it since may carry the damage",
        fix=f"compare {name} with another copy (shuttle drive, LTO or the camera card) and restore it from one "
            "that still matches; have the volume's disks and RAID checked; this resolves once the file matches "
            "its recorded checksum again",
        details={"algo": algo, "recorded": rec["digest"], "actual": actual, "recorded_at": rec["hashed_at"],
                 "size": st.st_size, "mtime_ns": st.st_mtime_ns})


def _carried(row: FindingRow) -> Finding:
    """The open finding as it was raised, so that the store keeps it open (same fingerprint)."""
    data = row.data
    path, rel = str(data.get("path", "")), row.relpath
    root = path[: -len(rel)].rstrip("/") if rel and path.endswith(rel) else str(Path(path).parent)
    details = dict(data.get("details") or {})
    return Finding(
        rule=row.rule, severity=row.severity, message=str(data.get("message", "")), owner=row.owner,
        asset=Asset(volume=row.volume, root=root, relpath=rel, size=int(details.get("size", 0)),
                    mtime_ns=int(details.get("mtime_ns", 0))),
        impacts=tuple(data.get("impacts") or ()), expected=str(data.get("expected", "")),
        impact=str(data.get("impact", "")), fix=str(data.get("fix", "")), plugin=PLUGIN, details=details)


def _candidates(store: Store, algo: str | None, skip: set[str], rng: random.Random,
                page: int) -> Iterator[tuple[str, dict[str, Any]]]:
    """Paths with recorded checksums, least recently verified first (in random order within a day)."""
    where, args = (" WHERE algo=?", [algo]) if algo else ("", [])
    last: tuple[float, str] = (-1.0, "")
    while True:
        rows = store.query(f"SELECT path, MIN(hashed_at) AS oldest FROM hashes{where} GROUP BY path "
                           "HAVING (MIN(hashed_at), path) > (?, ?) ORDER BY oldest, path LIMIT ?",
                           [*args, *last, page])
        if not rows:
            return
        last = (rows[-1]["oldest"], rows[-1]["path"])
        todo = [(r["path"], r["oldest"]) for r in rows if r["path"] not in skip]
        rng.shuffle(todo)
        todo.sort(key=lambda item: int(item[1] // DAY))
        for path, _ in todo:
            recs = store.query("SELECT * FROM hashes WHERE path=?", [path])
            if recs:
                yield path, {r["algo"]: r for r in recs}


def sample_size(sample: int | float, total: int) -> int:
    """Files to re-hash: a count (int >= 1), or a fraction of ``total`` (float in (0, 1])."""
    if isinstance(sample, float):
        if not 0 < sample <= 1:
            raise ValueError(f"a sample fraction must be more than 0 and at most 1; got {sample}")
        return math.ceil(sample * total)
    if sample < 1:
        raise ValueError(f"a sample must be at least 1 file; got {sample}")
    return min(int(sample), total)


def rehash(store: Store, config: Config, *, sample: int | float, algo: str | None = None,
           clock: Callable[[], float] = time.time, rng: random.Random | None = None, router: Router | None = None,
           max_bytes: int | None = None, max_seconds: float | None = None,
           rejudge: Callable[[list[Asset]], Any] | None = None) -> RehashReport:
    """Re-hash a sample of the files with recorded checksums and report silent changes.

    ``sample`` is a number of files or a fraction of them; files with an open
    ``integrity.hash_changed`` are re-checked first and count towards it. ``algo`` limits the run
    to checksums of one algorithm. ``router`` decides who hears about a finding (the daemon's
    :class:`reelwatch.checking.routing.RoleRouter`; by default owner and impacts only). Reading stops when
    ``max_bytes`` or ``max_seconds`` is used up (a file already started is finished). ``rejudge`` is
    called with the files found changed or restored, after their findings are recorded, so that what
    they feed is judged again (the command line runs the ``batch_done`` rules over them: a card that
    was "safe to format" is not any more).
    """
    from ..checking.routing import apply_defaults
    algo = normalize_algo(algo) if algo else None
    rng = rng or random.Random()
    if router is None:
        from ..core.manager import PluginManager
        from ..checking.routing import RoleRouter
        router = RoleRouter(PluginManager(), config)
    where, args = (" WHERE algo=?", [algo]) if algo else ("", [])
    report = RehashReport(candidates=int(store.query(f"SELECT COUNT(DISTINCT path) FROM hashes{where}", args)[0][0]))
    want = report.sample = sample_size(sample, report.candidates)
    run = _Run(store, config, report, clock, max_bytes, max_seconds)
    open_rows = [r for r in store.findings(status=("open", "acked"))
                 if r.rule == RULE.id and r.data.get("plugin") == PLUGIN]
    raised = [f for f in (run.recheck(r, want) for r in open_rows) if f is not None]
    for path, rows in _candidates(store, algo, {str(r.data.get("path")) for r in open_rows}, rng,
                                  max(4 * want, 500)):
        if report.hashed >= want or report.stopped:
            break
        if run.looks >= LOOKS_PER_FILE * want:
            report.stopped = "looks"
            break
        use = algo if algo in rows else next((a for a in PREFERENCE if a in rows), None)
        if use is None:
            continue
        finding = run.verify(path, rows, use)
        if finding is not None:
            raised.append(finding)
    findings = [f for f in (apply_defaults(f, config) for f in raised) if f is not None]
    store.commit_batch(findings, {scope_of(r.volume, r.relpath) for r in open_rows}, [PLUGIN], router)
    if rejudge is not None and run.touched:
        rejudge(run.touched)
    report.elapsed = clock() - run.started
    store.audit("rehash", **{k: v for k, v in report.to_dict().items() if k not in ("changed", "restored")},
                changed=len(report.changed), restored=len(report.restored))
    return report
