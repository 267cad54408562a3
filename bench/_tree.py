"""Trees shaped like production volumes, and a state database as a previous run left it.

``production_tree(root, n)`` builds about ``n`` empty files in the proportions of a mid-size
show's NAS measured for issue 12 (1,000,000 files: 926 EXR runs of 1,000 frames, 74,000
camera clips with their sidecars, about 4,600 folders, paths 6-8 folders deep):

    VFX/AGM_1xx/<seq>/<shot>/plates/<shot>_PL01_v00N/<shot>_PL01_v00N.1001.exr ...
    OCF/Day_NN/A0NNRxxx/A0NNCccc_261125_Rxxx.mov, the card's A0NNRxxx.md5 and .xml report,
        ascmhl/0001_A0NNRxxx_2026-11-25_120000Z.mhl and ascmhl/ascmhl_chain.xml

``flat_tree(root, n)`` is the older benchmark shape: 1,000 files per folder, one level deep.
``record_previous_run(db, root)`` writes the assets a finished reconcile would have stored
(sequences as one asset each, keyed as the scanner keys them), so that a reconcile over the
tree afterwards is "a restart with nothing changed".
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

FRAMES_PER_RUN = 1000
CLIPS_PER_CARD = 50
RUN_SHARE = 0.926


def _mkfiles(folder: str, names: list[str]) -> None:
    os.makedirs(folder, exist_ok=True)
    for name in names:
        os.mknod(os.path.join(folder, name))  # one system call per empty regular file


def production_tree(root: Path, n: int) -> dict[str, int]:
    """About ``n`` files shaped like a production volume. Returns counts."""
    runs = max(1, round(n * RUN_SHARE / FRAMES_PER_RUN))
    clips_total = max(CLIPS_PER_CARD, n - runs * FRAMES_PER_RUN)
    files = 0
    for r in range(runs):
        ep, seq, shot, version = 101 + r // 400, (r // 20) % 20, (r // 2) % 10, r % 2 + 1
        name = f"AGM_{ep}_{seq:03d}_{shot * 10 + 10:03d}_PL01_v{version:03d}"
        folder = os.path.join(root, "VFX", f"AGM_{ep}", f"SQ{seq:03d}", f"AGM_{ep}_{seq:03d}_{shot * 10 + 10:03d}",
                              "plates", name)
        _mkfiles(folder, [f"{name}.{1001 + f:04d}.exr" for f in range(FRAMES_PER_RUN)])
        files += FRAMES_PER_RUN
    # per card: clips, the card's .md5 and .xml report, and an ascmhl/ folder with two files
    per_card = CLIPS_PER_CARD + 4
    cards = max(1, clips_total // per_card)
    for c in range(cards):
        day, reel = c // 40 + 1, c + 1
        card = f"A{reel:03d}R{(reel * 7919) % 0xFFFF:04X}"
        folder = os.path.join(root, "OCF", f"Day_{day:02d}", card)
        names = []
        for k in range(CLIPS_PER_CARD):
            clip = f"A{reel:03d}C{k + 1:03d}_261125_R{(reel * 7919) % 0xFFFF:04X}"
            names.append(f"{clip}.mov")
        names += [f"{card}.md5", f"{card}.xml"]
        _mkfiles(folder, names)
        _mkfiles(os.path.join(folder, "ascmhl"), [f"0001_{card}_2026-11-25_120000Z.mhl", "ascmhl_chain.xml"])
        files += len(names) + 2
    folders = sum(1 for _ in os.walk(root))
    return {"files": files, "runs": runs, "cards": cards, "folders": folders}


def flat_tree(root: Path, n: int, per_folder: int = 1000) -> dict[str, int]:
    for start in range(0, n, per_folder):
        _mkfiles(os.path.join(root, f"card{start // per_folder:05d}"),
                 [f"A{i:07d}.mov" for i in range(start, min(n, start + per_folder))])
    return {"files": n, "folders": (n + per_folder - 1) // per_folder + 1}


def folder_tree(root: Path, folders: int, fanout: int = 20) -> int:
    """``folders`` empty folders (root included), ``fanout`` per parent, breadth first."""
    made, queue = 1, [str(root)]
    os.makedirs(root, exist_ok=True)
    while made < folders:
        parent = queue.pop(0)
        for i in range(min(fanout, folders - made)):
            path = os.path.join(parent, f"d{i:02d}")
            os.mkdir(path)
            queue.append(path)
            made += 1
    return made


def record_previous_run(db: Path, root: Path, volume: str = "bench") -> int:
    """Store every file and sequence under ``root`` as checked, as a previous run would."""
    from reelwatch.watch.settle import unit_of
    from reelwatch.state.store import Store
    Store(db).close()
    con = sqlite3.connect(db)
    rows: list[tuple] = []
    for dirpath, _dirs, names in os.walk(root):
        folder = os.path.relpath(dirpath, root)
        folder = "" if folder == "." else folder
        units: dict[str, list[int]] = {}
        for name in names:
            st = os.stat(os.path.join(dirpath, name))
            unit = unit_of(name)
            if unit.sequence:
                agg = units.setdefault(unit.name, [0, 0])
                agg[0] += st.st_size
                agg[1] = max(agg[1], st.st_mtime_ns)
            else:
                units[name] = [st.st_size, st.st_mtime_ns]
        for name, (size, mtime) in units.items():
            rel = f"{folder}/{name}" if folder else name
            rows.append((volume, rel, folder, size, mtime, "media", 0.0, 1.0))
        if len(rows) > 50000:
            con.executemany("INSERT INTO assets (volume, relpath, folder, size, mtime_ns, kind, first_seen, "
                            "checked_at) VALUES (?,?,?,?,?,?,?,?)", rows)
            rows = []
    con.executemany("INSERT INTO assets (volume, relpath, folder, size, mtime_ns, kind, first_seen, checked_at) "
                    "VALUES (?,?,?,?,?,?,?,?)", rows)
    con.commit()
    count = con.execute("SELECT COUNT(*) FROM assets").fetchone()[0]
    con.close()
    return count
