"""plugins/permissions.py on real files with real modes and owners (we run as root here)."""

from __future__ import annotations

import os
import pwd
import stat
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from reelwatch.core.config import build_config
from reelwatch.core.manager import load_plugin_file
from reelwatch.checking.pipeline import file_asset
from reelwatch.core.sequences import folder_assets

ROOT = Path(__file__).resolve().parents[1]
PLUGIN = ROOT / "plugins" / "permissions.py"


@pytest.fixture
def plugin() -> ModuleType:
    return load_plugin_file(PLUGIN)


@pytest.fixture
def vols(tmp_path: Path) -> dict[str, Path]:
    out = {}
    for name in ("delivery", "ingest"):
        (tmp_path / name / "VFX" / "sh010").mkdir(parents=True)
        (tmp_path / name).chmod(0o755)
        out[name] = tmp_path / name
    return out


def config(plugin: ModuleType, vols: dict[str, Path], **rules: object) -> Any:
    return build_config({"volumes": [{"name": "delivery", "path": str(vols["delivery"]), "kind": "delivery"},
                                     {"name": "ingest", "path": str(vols["ingest"]), "kind": "ingest"}],
                         "rules": {"permissions": rules} if rules else {}}, sections=plugin.config_sections())


def make(vol: Path, rel: str, mode: int) -> Path:
    path = vol / rel
    path.write_bytes(b"frame")
    path.chmod(mode)
    return path


def rules_of(findings: list[Any]) -> list[tuple[str, str]]:
    return sorted((f.rule, f.asset.relpath) for f in findings)


def test_world_writable_and_setuid_on_delivery_only(plugin: ModuleType, vols: dict[str, Path]) -> None:
    cfg = config(plugin, vols)
    for name in ("delivery", "ingest"):
        make(vols[name], "VFX/sh010/sh010_comp_v003.mov", 0o666)
        make(vols[name], "VFX/sh010/run.sh", 0o4755)
        make(vols[name], "VFX/sh010/ok.mov", 0o644)
    before = {p: p.stat().st_mode for p in vols["delivery"].rglob("*")}
    found = []
    for name in ("sh010_comp_v003.mov", "run.sh", "ok.mov"):
        for vol in ("delivery", "ingest"):
            found += plugin.check(asset=file_asset(vol, str(vols[vol]), f"VFX/sh010/{name}"), config=cfg) or []
    assert rules_of(found) == [("permissions.setuid", "VFX/sh010/run.sh"),
                               ("permissions.world_writable", "VFX/sh010/sh010_comp_v003.mov")]
    ww = next(f for f in found if f.rule == "permissions.world_writable")
    assert ww.message == "sh010_comp_v003.mov is writable by every user on the server (mode 0666)"
    assert ww.fix == f"remove write access for others: chmod o-w {vols['delivery']}/VFX/sh010/sh010_comp_v003.mov"
    assert ww.owner == "admin" and ww.impacts == ("supervisor",) and ww.expected and ww.impact
    su = next(f for f in found if f.rule == "permissions.setuid")
    assert su.message == "run.sh has the setuid bit (mode 4755)"
    assert {p: p.stat().st_mode for p in vols["delivery"].rglob("*")} == before, "the plugin changed a mode"


def test_folders_are_judged_once_per_batch(plugin: ModuleType, vols: dict[str, Path]) -> None:
    cfg = config(plugin, vols)
    (vols["delivery"] / "VFX").chmod(0o777)
    assets = [file_asset("delivery", str(vols["delivery"]), f"VFX/sh010/{n}")
              for n in ("a.mov", "b.mov") if make(vols["delivery"], f"VFX/sh010/{n}", 0o644)]
    found = plugin.batch_done(assets=assets, config=cfg)
    assert rules_of(found) == [("permissions.world_writable", "VFX")]
    assert found[0].message == "folder VFX is writable by every user on the server (mode 0777)"
    assert (found[0].asset.size, found[0].asset.mtime_ns) == (0, 0)
    ingest = [file_asset("ingest", str(vols["ingest"]), "VFX/sh010/a.mov")
              for _ in [make(vols["ingest"], "VFX/sh010/a.mov", 0o666)]]
    (vols["ingest"] / "VFX").chmod(0o777)
    assert plugin.batch_done(assets=ingest, config=cfg) == []


def test_owner_and_group_lists(plugin: ModuleType, vols: dict[str, Path]) -> None:
    nobody = pwd.getpwnam("nobody") if "nobody" in {p.pw_name for p in pwd.getpwall()} else None
    if nobody is None or os.geteuid() != 0:
        pytest.skip("needs root and a 'nobody' user to hand a file to another owner")
    path = make(vols["delivery"], "VFX/sh010/plate.mov", 0o644)
    os.chown(path, nobody.pw_uid, nobody.pw_gid)
    (vols["delivery"] / "VFX" / "sh010" / "mine.mov").write_bytes(b"x")
    cfg = config(plugin, vols, allowed_users=["root", "deliveries"], allowed_groups=["0"])
    found = plugin.check(asset=file_asset("delivery", str(vols["delivery"]), "VFX/sh010/plate.mov"), config=cfg)
    assert rules_of(found) == [("permissions.group", "VFX/sh010/plate.mov"),
                               ("permissions.owner", "VFX/sh010/plate.mov")]
    owner = next(f for f in found if f.rule == "permissions.owner")
    assert owner.message == "plate.mov is owned by user 'nobody'; allowed: root, deliveries"
    assert owner.fix.startswith("change the owner: chown root ")
    assert plugin.check(asset=file_asset("delivery", str(vols["delivery"]), "VFX/sh010/mine.mov"), config=cfg) == []
    assert path.stat().st_uid == nobody.pw_uid  # untouched


def test_sequences_are_reported_once(plugin: ModuleType, vols: dict[str, Path]) -> None:
    folder = vols["delivery"] / "VFX" / "sh010"
    for f in range(1001, 1011):
        make(vols["delivery"], f"VFX/sh010/plate.{f}.dpx", 0o666 if f % 2 else 0o664)
    _, [seq] = folder_assets("delivery", str(vols["delivery"]), "VFX/sh010")
    [f] = plugin.check(asset=seq, config=config(plugin, vols))
    assert f.rule == "permissions.world_writable" and f.asset.relpath == "VFX/sh010/plate.1001-1010#.dpx"
    assert f.message.startswith("5 frames of plate.1001-1010#.dpx (plate.1001.dpx, plate.1003.dpx, ")
    assert f.fix.endswith(f"chmod o-w {folder}/*") and len(f.details["files"]) == 5


def test_explicit_volumes_globs_symlinks_and_docs(plugin: ModuleType, vols: dict[str, Path]) -> None:
    make(vols["ingest"], "VFX/sh010/a.mov", 0o666)
    os.symlink(vols["ingest"] / "VFX/sh010/a.mov", vols["delivery"] / "VFX/sh010/link.mov")
    cfg = config(plugin, vols, volumes=["ingest"], globs=["VFX/**"], setuid=False)
    assert rules_of(plugin.check(asset=file_asset("ingest", str(vols["ingest"]), "VFX/sh010/a.mov"), config=cfg)) \
        == [("permissions.world_writable", "VFX/sh010/a.mov")]
    link = file_asset("delivery", str(vols["delivery"]), "VFX/sh010/link.mov")
    assert plugin.check(asset=link, config=config(plugin, vols)) == []
    off = config(plugin, vols, world_writable=False)
    assert plugin.check(asset=file_asset("ingest", str(vols["ingest"]), "VFX/sh010/a.mov"), config=off) is None
    assert stat.S_IMODE((vols["ingest"] / "VFX/sh010/a.mov").stat().st_mode) == 0o666
    docs = (ROOT / "docs" / "rules.md").read_text()
    for info in plugin.rules():
        assert f"| `{info.id}` |" in docs and info.example and info.owner == "admin"
