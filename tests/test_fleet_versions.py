"""A fleet sees across its shares: a vendor's versions delivered to two delivery shares, watched by
two nodes on one PostgreSQL state, are one line of versions, so a version missing between them
is found (issue 16: "a version gap across two delivery shares is seen")."""

from __future__ import annotations

import shutil
from pathlib import Path

from conftest import wait_until
from pgserver import PASSWORD
from test_fleet import node_config

from reelwatch.state.store import Store

NAMING = """
[[rules.naming.apply]]
volume = "{volume}"
glob = "**"
preset = "netflix_vfx_version"
"""


def test_a_version_gap_across_two_delivery_shares_is_seen(tmp_path: Path, pg_url, inbox, daemon, media) -> None:
    a = daemon(node_config(tmp_path, "nas-london", pg_url, inbox, "delivery_ldn",
                           extra=NAMING.format(volume="delivery_ldn")))
    b = daemon(node_config(tmp_path, "nas-paris", pg_url, inbox, "delivery_par",
                           extra=NAMING.format(volume="delivery_par")))
    a.wait_ready(90)  # two daemons and a server starting on a loaded 2-core machine
    b.wait_ready(90)
    store = Store(pg_url, password=PASSWORD)
    try:
        _gap_is_seen(tmp_path, store, a, b, media)
    finally:
        store.close()


def _gap_is_seen(tmp_path: Path, store: Store, a, b, media) -> None:
    shutil.copy(media["prores_2398"], tmp_path / "nas-london" / "delivery_ldn" / "AGM_104_065_010_comp_NFX_v001.mov")
    assert wait_until(lambda: store.query("SELECT COUNT(*) FROM assets WHERE checked_at IS NOT NULL")[0][0] == 1, 60)

    def gaps() -> list[dict]:
        return [dict(r) for r in store.query("SELECT volume, relpath, data FROM findings WHERE rule='version.gap'")]

    assert not gaps()
    shutil.copy(media["prores_2398"], tmp_path / "nas-paris" / "delivery_par" / "AGM_104_065_010_comp_NFX_v003.mov")
    assert wait_until(lambda: gaps(), 60), a.output()[-2000:] + b.output()[-2000:]
    (gap,) = gaps()
    assert gap["volume"] == "delivery_par" and gap["relpath"].endswith("_v003.mov")
    assert "v002" in gap["data"], gap["data"]
