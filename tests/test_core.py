"""Core values, config validation, the plugin manager, the probe pool and the store."""

from __future__ import annotations

import inspect
import time
from fractions import Fraction
from pathlib import Path

import pytest

from reelwatch.core import hookspecs
from reelwatch.checking.runtime import load_runtime
from reelwatch.core.config import ConfigError, build_config
from reelwatch.core.manager import PluginManager, shipped_plugins_dir
from reelwatch.core.model import Asset, Facts, Finding, Severity, format_rate, parse_rate
from reelwatch.probe.pool import ProbePool
from reelwatch.state.store import Store

from conftest import reelwatch, write_config


# -- values ------------------------------------------------------------------------------

def test_frame_rates_are_exact_rationals():
    assert parse_rate("23.976") == Fraction(24000, 1001)
    assert parse_rate("24000/1001") == Fraction(24000, 1001)
    assert parse_rate("29.970") == Fraction(30000, 1001)
    assert parse_rate("24.000") == 24
    assert parse_rate("23.976") != 24
    assert parse_rate("23.98") != Fraction(24000, 1001)
    assert parse_rate("25") == 25 and parse_rate("") is None and parse_rate("fast") is None
    assert format_rate(Fraction(24000, 1001)) == "23.976 (24000/1001)"


def test_values_are_immutable_and_facts_round_trip():
    facts = Facts.from_mapping({"kind": "media", "general": {"format": "MPEG-4"}, "video": [{"width": 1920}]})
    with pytest.raises(TypeError):
        facts.general["format"] = "MXF"  # type: ignore[index]
    with pytest.raises(AttributeError):
        facts.kind = "x"  # type: ignore[misc]
    again = Facts.from_json(facts.to_json())
    assert again.video[0]["width"] == 1920 and again.general["format"] == "MPEG-4"
    assert Severity.parse("Blocker") is Severity.BLOCKER
    with pytest.raises(ValueError, match="allowed"):
        Severity.parse("fatal")


# -- config ------------------------------------------------------------------------------

def test_config_errors_name_the_key_what_was_found_and_what_is_allowed(tmp_path):
    raw = {"volumes": [{"name": "ingest", "path": "/x", "kind": "ingset", "setle": 3}],
           "notify": {"digest_window": -1}, "roles": {"dit": {"notify": []}}}
    with pytest.raises(ConfigError) as err:
        build_config(raw, source="prod.toml")
    text = str(err.value)
    assert text.startswith("prod.toml: invalid config")
    assert "volumes[0].kind" in text and "'ingset'" in text and "'ingest' or 'delivery'" in text
    assert "volumes[0].setle: unknown key (did you mean 'settle'?)" in text
    assert "notify.digest_window" in text


def test_unknown_rule_section_and_undefined_roles_are_errors():
    with pytest.raises(ConfigError, match=r"rules\.namin: no loaded plugin owns this section \(did you mean 'naming'"):
        build_config({"rules": {"namin": {}}}, sections={"naming": dict})
    with pytest.raises(ConfigError, match="role 'ditt' is not defined.*did you mean 'dit'"):
        build_config({"roles": {"dit": {}}, "volumes": [{"name": "a", "path": "/a", "owner": "ditt"}]})


def test_config_validate_command(tmp_path):
    good = write_config(tmp_path)
    out = reelwatch("config", "validate", str(good))
    assert out.returncode == 0 and "valid" in out.stdout
    bad = tmp_path / "bad.toml"
    bad.write_text("[[volumes]]\nname = 'a b'\npath = 1\n")
    out = reelwatch("config", "validate", str(bad))
    assert out.returncode == 2
    assert "volumes[0].name" in out.stderr and "volumes[0].path" in out.stderr
    broken = tmp_path / "broken.toml"
    broken.write_text("[production\n")
    out = reelwatch("config", "validate", str(broken))
    assert out.returncode == 2 and "not valid TOML" in out.stderr
    assert reelwatch("config", "validate", str(tmp_path / "missing.toml")).returncode == 2


def test_example_production_config_is_valid():
    example = Path(__file__).resolve().parents[1] / "config" / "production.example.toml"
    runtime = load_runtime(example, None)
    assert runtime.config.volumes and runtime.config.roles
    families = {"naming", "spec", "sequences", "versions", "integrity", "permissions", "mirrors"}
    assert families <= set(runtime.config.rules), "the example must use every rule family"
    assert runtime.config.overrides


# -- plugins -----------------------------------------------------------------------------

def test_every_hook_is_typed_and_documented():
    specs = [getattr(hookspecs, name) for name in dir(hookspecs)
             if hasattr(getattr(hookspecs, name), "reelwatch_spec")]
    assert {s.__name__ for s in specs} >= {"configure", "ignore", "probe", "check", "route", "notify"}
    for spec in specs:
        assert spec.__doc__ and len(spec.__doc__.strip()) > 40, spec.__name__
        sig = inspect.signature(spec)
        assert sig.return_annotation is not inspect.Signature.empty, spec.__name__
        for p in sig.parameters.values():
            assert p.annotation is not inspect.Parameter.empty, f"{spec.__name__}({p.name})"


def test_load_order_builtin_shipped_entry_points_then_dirs(tmp_path):
    (tmp_path / "local.py").write_text("from reelwatch import hookimpl\n@hookimpl\ndef ignore(volume, relpath):\n"
                                       "    return None\n")
    pm = PluginManager()
    pm.load(builtins=[("builtin_a", object())], dirs=[tmp_path])
    names = pm.plugin_names()
    assert names[0] == "builtin_a"
    assert names[-1] == "local"
    shipped = [p.stem for p in shipped_plugins_dir().glob("*.py") if not p.name.startswith("_")]
    assert shipped and all(s in names for s in shipped)
    assert max(names.index(s) for s in shipped) < names.index("local")
    assert pm.load_errors == []


def test_a_raising_check_becomes_a_plugin_error_and_the_others_still_run(tmp_path):
    (tmp_path / "broken.py").write_text("from reelwatch import hookimpl\n@hookimpl\ndef check(asset):\n"
                                        "    raise ValueError('bad plugin')\n")
    (tmp_path / "fine.py").write_text(
        "from reelwatch import hookimpl, Finding, Severity\n@hookimpl\ndef check(asset):\n"
        "    return [Finding('facility.hello', Severity.INFO, asset, 'hello')]\n")
    pm = PluginManager()
    pm.load(dirs=[tmp_path], shipped=False, entry_points=False)
    asset = Asset("v", "/r", "a.mov", 1, 1)
    found = pm.check(asset, Facts(kind="media"), None, None)
    rules = {f.rule: f for f in found}
    assert set(rules) == {"reelwatch.plugin_error", "facility.hello"}
    err = rules["reelwatch.plugin_error"]
    assert err.plugin == "broken" and "bad plugin" in err.message and "broken.py" in err.message
    assert rules["facility.hello"].plugin == "fine"


def test_a_broken_plugin_file_is_a_clear_config_error(tmp_path):
    plugins = tmp_path / "p"
    plugins.mkdir()
    (plugins / "typo.py").write_text("def check(:\n")
    (plugins / "wrongargs.py").write_text("from reelwatch import hookimpl\n@hookimpl\ndef check(asset, nonsense):\n"
                                          "    return None\n")
    config = write_config(tmp_path, extra=f'[plugins]\ndirs = ["{plugins}"]\n')
    out = reelwatch("config", "validate", str(config))
    assert out.returncode == 2
    assert "typo.py:1: SyntaxError" in out.stderr
    assert "wrongargs.py" in out.stderr and "nonsense" in out.stderr


def test_plugins_command_lists_hooks_and_rules():
    out = reelwatch("plugins", "--format", "json")
    import json
    data = json.loads(out.stdout)
    assert "sanity" in data["hooks"]["check"]
    assert "sanity.truncated" in {r["id"] for r in data["rules"]}
    assert data["load_errors"] == []


# -- probe pool --------------------------------------------------------------------------

def test_probe_pool_reads_real_media_and_survives_a_timeout(media):
    asset = Asset("v", str(media["prores_2398"].parent), media["prores_2398"].name,
                  media["prores_2398"].stat().st_size, 1)
    with ProbePool(workers=1, timeout=0.0001) as pool:
        slow = pool.facts(asset)
    assert slow.kind == "unreadable" and "did not finish" in (slow.error or "")
    with ProbePool(workers=1, timeout=30) as pool:
        facts = pool.facts(asset)
        again = pool.facts(asset)
    assert facts.kind == "media" and facts.video[0]["format"] == "ProRes"
    assert facts.video[0]["format_profile"] == "422 HQ" and parse_rate(facts.video[0]["frame_rate"]) == Fraction(
        24000, 1001)
    assert again.to_json() == facts.to_json()
    assert facts.probe.startswith("mediainfo")


# -- store -------------------------------------------------------------------------------

def test_store_survives_reopen_and_does_not_realert(tmp_path):
    db = tmp_path / "s.db"
    asset = Asset("v", "/r", "A/x.mov", 10, 5)
    finding = Finding("sanity.empty", Severity.ERROR, asset, "empty", owner="dit", impacts=("editorial",))
    route = lambda f: [("dit", "new"), ("editorial", "affects")]  # noqa: E731
    store = Store(db)
    store.commit_check(asset, Facts(kind="empty"), [finding], route, batch=1)
    store.close()
    store = Store(db)
    assert store.is_checked(asset)
    assert not store.is_checked(Asset("v", "/r", "A/x.mov", 11, 5))
    store.commit_check(asset, Facts(kind="empty"), [finding], route, batch=2)
    kinds = [(r["role"], r["kind"]) for r in store.query("SELECT role, kind FROM notices ORDER BY id")]
    assert kinds == [("dit", "new"), ("editorial", "affects")]
    # the file is replaced by a good one: a resolved notice goes to the same people
    fixed = Asset("v", "/r", "A/x.mov", 900, 6)
    store.commit_check(fixed, Facts(kind="media"), [], route, batch=3)
    kinds = [(r["role"], r["kind"]) for r in store.query("SELECT role, kind FROM notices ORDER BY id")]
    assert kinds[2:] == [("dit", "resolved"), ("editorial", "resolved")]
    assert store.findings() == []
    store.close()


def test_history_finds_assets_by_derived_fields(tmp_path):
    store = Store(tmp_path / "s.db", clock=lambda: 1000.0)
    for v in ("001", "002"):
        a = Asset("delivery", "/r", f"AGM_010_comp_v{v}.mov", 1, 1)
        facts = Facts(kind="media").with_derived({"fields": {"show": "AGM", "shot": "010", "version": v}})
        store.commit_check(a, facts, [], lambda f: [], batch=int(v))
    hist = store.history(batch=3)
    recs = hist.with_fields(show="AGM", shot="010")
    assert [r.fields["version"] for r in recs] == ["001", "002"]
    assert hist.with_fields(shot="020") == []
    assert hist.batch == 3
    assert time.time() > 0


def test_every_rule_is_documented_in_docs_rules_md():
    doc = (Path(__file__).resolve().parents[1] / "docs" / "rules.md").read_text()
    pm = PluginManager()
    pm.load(builtins=[("sanity", __import__("reelwatch.builtin.sanity", fromlist=["Sanity"]).Sanity())])
    ids = [r.id for r in pm.rule_infos()] + ["reelwatch.plugin_error"]
    assert len(ids) > 40
    missing = [i for i in ids if f"| `{i}` |" not in doc]
    assert not missing, f"rules missing from docs/rules.md: {missing}"
    for info in pm.rule_infos():
        assert info.summary and info.example, info.id


def test_a_non_loopback_metrics_address_is_a_config_error():
    with pytest.raises(ConfigError, match=r"service\.metrics: metrics address '0\.0\.0\.0:9464' is not a loopback"):
        build_config({"service": {"metrics": "0.0.0.0:9464"}})
    assert build_config({"service": {"metrics": "127.0.0.1:9464"}}).service.metrics == "127.0.0.1:9464"
