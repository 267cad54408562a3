"""One answer per card for the DIT: SAFE TO FORMAT or DO NOT FORMAT (and why), from the findings the
offload mirrors rule records (``mirror.*``). Nothing is judged here: a card is safe only when the
daemon's open ``mirror.safe_to_format`` verdict says so and no other mirror finding is open on it."""

from __future__ import annotations

import json
from typing import Any

from ..state.store import Store
from .queries import finding_view, prefix

SAFE = "mirror.safe_to_format"


def _key(data: dict[str, Any], row: Any) -> tuple[str, str]:
    details = data.get("details") or {}
    return str(details.get("set") or row["volume"]), str(details.get("unit") or row["relpath"])


def cards(store: Store, limit: int = 500) -> list[dict[str, Any]]:
    """Every card with an open (or acknowledged) mirror finding: DO NOT FORMAT first, then newest."""
    mirror, args = prefix(store, "rule", "mirror.")
    rows = store.query(f"SELECT * FROM findings WHERE {mirror} AND status IN ('open','acked') ORDER BY id DESC "
                       "LIMIT ?", (*args, limit * 4))
    by_card: dict[tuple[str, str], dict[str, Any]] = {}
    for row in rows:
        data = json.loads(row["data"])
        key = _key(data, row)
        card = by_card.setdefault(key, {"set": key[0], "unit": key[1], "volume": row["volume"],
                                        "relpath": row["relpath"], "safe": None, "problems": [], "copies": [],
                                        "files": None, "bytes": None, "seals": {}, "latest": 0.0,
                                        "absent": []})
        details = data.get("details") or {}
        view = finding_view(row)
        if row["rule"] == SAFE:
            card["safe"] = view
        else:
            card["problems"].append(view)
        card["copies"] = card["copies"] or list(details.get("copies") or details.get("present") or [])
        card["absent"] = sorted({*card.get("absent", ()), *((details.get("absent") or {}).keys())})
        card["files"] = card["files"] if card["files"] is not None else details.get("files")
        card["bytes"] = card["bytes"] if card["bytes"] is not None else details.get("bytes")
        card["seals"] = card["seals"] or dict(details.get("seals") or {})
        card["latest"] = max(card["latest"], row["last_seen"])
    out = []
    for card in by_card.values():
        card["verdict"] = "do_not_format" if card["problems"] else "safe" if card["safe"] else "unknown"
        card["mhl"] = mhl_status(card)
        out.append(card)
    out.sort(key=lambda c: ({"do_not_format": 0, "unknown": 1, "safe": 2}[c["verdict"]], -c["latest"]))
    return out[:limit]


def mhl_status(card: dict[str, Any]) -> str:
    """What the card's seal is, in words: "ASC MHL on raid and shuttle", "no seal", "not compared yet"."""
    seals = card.get("seals") or {}
    if not seals:
        if any(p["rule"] == "mirror.seal_mismatch" for p in card["problems"]):
            return "does not match the seal"
        return "no seal compared yet" if card["verdict"] != "safe" else "no seal on the card"
    kinds = sorted({k for v in seals.values() for k in (v if isinstance(v, list) else [v])})
    if not kinds:
        return "no seal on the card"
    return f"{', '.join(kinds)} on {', '.join(sorted(seals))}"


def card(store: Store, set_name: str, unit: str) -> dict[str, Any] | None:
    for c in cards(store, limit=10_000):
        if c["set"] == set_name and c["unit"] == unit:
            return c
    return None


def card_files(store: Store, card: dict[str, Any], limit: int = 5000) -> list[dict[str, Any]]:
    """The clips of a card on its first copy (for the offload report): name, size, duration, checksums."""
    volume, rel = card["volume"], str(card["relpath"]).rstrip("/")
    under, args = prefix(store, "relpath", rel + "/")
    rows = store.query(f"SELECT relpath, size, facts, kind FROM assets WHERE volume=? AND {under} "
                       "AND gone_at IS NULL ORDER BY relpath LIMIT ?", (volume, *args, limit))
    out = []
    for r in rows:
        facts = json.loads(r["facts"]) if r["facts"] else {}
        general = facts.get("general") or {}
        out.append({"relpath": r["relpath"], "size": r["size"], "kind": r["kind"],
                    "duration": general.get("duration"), "format": general.get("format")})
    return out
