"""Shots and versions on the delivery volumes: per shot (and task), the versions delivered, the holes
between them, and the open ``version.*`` findings (gaps, regressions, duplicates) on them.

Read from the fields the naming plugin parsed from each name (``asset_fields``, indexed by name), the
same ones the versions rule judges; nothing is judged here.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ..core.config import Config
from ..state.store import Store
from .queries import prefix

KEY_FIELDS = ("show", "episode", "seq", "scene", "shot", "task", "vendor", "plate")
"""What identifies a versioned line (the versions rule's default ``key_fields``)."""
LIMIT = 20_000
"""Delivered versions read per page view (a delivery volume of a series holds a few thousand)."""


def shots(store: Store, config: Config, text: str = "", limit: int = LIMIT, others: Sequence[str] = ()) -> dict[str, Any]:
    """``others``: the volumes other nodes of a fleet watch (their kind is not recorded: their files
    with a version in their name count, as the versions rule counts them across the fleet)."""
    volumes = [v.name for v in config.volumes if v.kind == "delivery"] + [v for v in others if v]
    drives = [r[0] for r in store.query("SELECT volume FROM volume_status") for v in volumes
              if r[0].startswith(f"{v}-")]
    names = [*volumes, *drives]
    if not names:
        return {"lines": [], "truncated": False, "volumes": []}
    marks = ",".join("?" * len(names))
    rows = store.query(
        "SELECT a.volume, a.relpath, a.fields, a.first_seen FROM asset_fields v JOIN assets a ON "
        f"a.volume=v.volume AND a.relpath=v.relpath WHERE v.name='version' AND a.volume IN ({marks}) "
        "AND a.gone_at IS NULL LIMIT ?", (*names, limit + 1))
    flagged: dict[tuple[str, str], list[dict[str, Any]]] = {}
    family, args = prefix(store, "rule", "version.")
    for r in store.query(f"SELECT id, rule, severity, volume, relpath, data FROM findings WHERE {family} "
                         "AND status='open' ORDER BY id DESC LIMIT 5000", args):
        flagged.setdefault((r["volume"], r["relpath"]), []).append(
            {"id": r["id"], "rule": r["rule"], "message": json.loads(r["data"]).get("message", "")})
    lines: dict[tuple[tuple[str, str], ...], dict[str, Any]] = {}
    for r in rows[:limit]:
        fields = json.loads(r["fields"] or "{}")
        key = tuple((k, str(fields[k])) for k in KEY_FIELDS if fields.get(k) not in (None, ""))
        if not key:
            continue
        label = "_".join(v for _, v in key)
        if text and text.lower() not in label.lower():
            continue
        line = lines.setdefault(key, {"label": label, "fields": dict(key), "versions": [], "problems": []})
        digits = str(fields.get("version", ""))
        line["versions"].append({"version": digits, "number": int(digits) if digits.isdigit() else None,
                                 "volume": r["volume"], "relpath": r["relpath"], "first_seen": r["first_seen"]})
        line["problems"] += flagged.get((r["volume"], r["relpath"]), [])
    out = []
    for line in lines.values():
        line["versions"].sort(key=lambda v: (v["number"] is None, v["number"] or 0, v["version"]))
        numbers = sorted({v["number"] for v in line["versions"] if v["number"] is not None})
        have = set(numbers)
        line["missing"] = [n for n in range(numbers[0], numbers[-1]) if n not in have] if numbers else []
        width = max((len(v["version"]) for v in line["versions"]), default=3)
        line["missing_text"] = [f"v{n:0{width}d}" for n in line["missing"][:20]]
        line["latest"] = line["versions"][-1]
        line["delivered_last"] = max(line["versions"], key=lambda v: v["first_seen"])
        line["regressed"] = line["delivered_last"] is not line["latest"]
        out.append(line)
    out.sort(key=lambda line: (not (line["problems"] or line["missing"] or line["regressed"]), line["label"]))
    return {"lines": out, "truncated": len(rows) > limit, "volumes": names}


def shot_count(lines: Sequence[dict[str, Any]]) -> int:
    return len({line["fields"].get("shot") for line in lines})
