"""``reelwatch config validate`` reports every mistake in one run, each at its file:line like
a linter, with did-you-mean at every depth; warns about what is valid but cannot work; one
frame-rate parser for configs; ``reelwatch check`` honours $REELWATCH_CONFIG."""

from __future__ import annotations

import json
import os
from fractions import Fraction

import pytest

from reelwatch.core.config import ConfigError, build_config
from reelwatch.core.config_lines import key_lines
from reelwatch.core.model import config_rate

from conftest import reelwatch, write_config

FIVE_MISTAKES = '''[production]
name = "Harbour Lights"
base_frame_rate = "23.98"

[roles.dit]
notify = ["json://127.0.0.1:9/dit"]

[roles.editorial]
notfy = ["json://127.0.0.1:9/editorial"]

[[volumes]]
name = "ingest"
path = "{ingest}"
kind = "ingset"
owner = "ditt"

[rules.spec.profiles.camera]
frame_rate = "29.98"

[plugins]
dirs = ["plugins"]
'''


def test_every_mistake_of_every_layer_is_reported_in_one_run_at_its_line(tmp_path):
    (tmp_path / "ingest").mkdir()
    (tmp_path / "plugins").mkdir()
    (tmp_path / "plugins" / "facility.py").write_text("from reelwatch import hookimpl\n@hookimpl\n"
                                                      "def chek(asset):\n    return []\n")
    config = tmp_path / "production.toml"
    config.write_text(FIVE_MISTAKES.format(ingest=tmp_path / "ingest"))
    out = reelwatch("config", "validate", str(config))
    assert out.returncode == 2, out.stdout
    lines = out.stderr.splitlines()
    assert lines[0] == f"{config}: invalid config (6 problems)", out.stderr
    expected = [
        f"{config}:3: production.base_frame_rate: '23.98' is ambiguous: write 24000/1001 (23.976) or 2398/100",
        f"{config}:9: roles.editorial.notfy: unknown key (did you mean 'notify'?); allowed here: notify, "
        "escalate_to, escalate_after, quiet_hours, description",
        f"{config}:14: volumes[0].kind: Input should be 'ingest' or 'delivery' (found 'ingset')",
        f"{config}:15: volumes[0].owner: role 'ditt' is not defined under [roles] (did you mean 'dit'?)",
        f"{config}:18: rules.spec.profiles.camera.frame_rate: '29.98' is ambiguous: write 30000/1001 (29.970) "
        "or 2998/100",
        f"{tmp_path / 'plugins' / 'facility.py'}:3: hook 'chek' is not a reelwatch hook (did you mean 'check'?)",
    ]
    for want in expected:
        assert any(line.startswith(want) for line in lines), f"missing: {want}\n{out.stderr}"


def test_warnings_for_missing_paths_and_unreachable_roles_do_not_fail_validation(tmp_path):
    config = write_config(tmp_path)
    text = config.read_text().replace(f'path = "{tmp_path / "ingest"}"', 'path = "/srv/not/mounted/yet"')
    text = text.replace('[roles.sound]\nnotify = ["json://127.0.0.1:9/sound"]', "[roles.sound]\nnotify = []")
    config.write_text(text)
    out = reelwatch("config", "validate", str(config))
    assert out.returncode == 0, out.stderr
    path_line = text.splitlines().index('path = "/srv/not/mounted/yet"') + 1
    role_line = text.splitlines().index("[roles.sound]") + 1
    assert f"{config}:{path_line}: warning: volumes[0].path: /srv/not/mounted/yet does not exist (yet)" in out.stderr
    assert f"{config}:{role_line}: warning: roles.sound: no notify targets" in out.stderr
    assert "valid (2 warning(s) above)" in out.stdout
    config.write_text(config.read_text() + '[overrides."spec.frame_rat"]\nseverity = "warning"\n')
    out = reelwatch("config", "validate", str(config))
    assert out.returncode == 0 and "overrides.spec.frame_rat: no loaded plugin documents this rule id " \
        "(did you mean 'spec.frame_rate'?)" in out.stderr, out.stderr


def test_unknown_keys_get_did_you_mean_at_every_depth():
    cases = {
        ("roles", "editorial", "notfy"): {"roles": {"editorial": {"notfy": []}}},
        ("volumes", 0, "setle"): {"volumes": [{"name": "a", "path": "/a", "setle": 1}]},
        ("notify", "digest_windw"): {"notify": {"digest_windw": 1}},
        ("overrides", "spec.frame_rate", "severty"): {"overrides": {"spec.frame_rate": {"severty": "error"}}},
        ("productoin",): {"productoin": {}},
    }
    for _loc, raw in cases.items():
        with pytest.raises(ConfigError) as err:
            build_config(raw)
        [problem] = err.value.problems
        assert "did you mean" in problem and "allowed here: none" not in problem, problem


def test_one_frame_rate_parser_refuses_ambiguous_decimals_with_the_exact_choices(tmp_path):
    assert config_rate("24000/1001") == Fraction(24000, 1001) == config_rate("23.976")
    assert config_rate("29.97") == Fraction(30000, 1001) and config_rate(25) == 25 and config_rate("12.5") == 12.5
    for bad, choices in (("23.98", "24000/1001 (23.976) or 2398/100"), ("59.9", "60000/1001 (59.940) or 599/10")):
        with pytest.raises(ValueError, match=choices.replace("(", r"\(").replace(")", r"\)")):
            config_rate(bad)
    for bad in ("fast", "0", "-25", "24/0", True, ""):
        with pytest.raises(ValueError, match="not a frame rate"):
            config_rate(bad)
    # the production base rate and a spec profile read rates the same way
    for extra in ('[production]\nbase_frame_rate = "23.98"\n', '[rules.spec.profiles.p]\nframe_rate = ["23.98"]\n'):
        config = tmp_path / "c.toml"
        config.write_text(extra)
        out = reelwatch("config", "validate", str(config))
        assert out.returncode == 2 and "24000/1001 (23.976) or 2398/100" in out.stderr, out.stderr


def test_toml_syntax_errors_name_their_line(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text('[production]\nname = "x"\n[roles\n')
    out = reelwatch("config", "validate", str(config))
    assert out.returncode == 2 and f"{config}:3: not valid TOML" in out.stderr


def test_key_lines_follow_tables_arrays_inline_tables_and_strings():
    text = ('a = "x # not a comment = 1"\n[t]\nb.c = 1\nd = { e = 1, f = [1,\n 2] }\n[[arr]]\nx = 1\n'
            '[[arr]]\ny = """\nmulti\n[fake]\n"""\nz = 2\n[arr.sub]\nw = 1\n"quoted.key" = 3\n'
            'apply = [\n  { volume = "a" },\n  { volume = "b" },\n]\n')
    lines = key_lines(text)
    assert lines[("a",)] == 1 and lines[("t", "b", "c")] == 3 and lines[("t", "d", "f")] == 4
    assert lines[("arr", 0, "x")] == 7 and lines[("arr", 1, "y")] == 9 and lines[("arr", 1, "z")] == 13
    assert ("fake",) not in lines and lines[("arr", 1, "sub", "w")] == 15
    assert lines[("arr", 1, "sub", "quoted.key")] == 16
    assert lines[("arr", 1, "sub", "apply", 1, "volume")] == 19


def test_check_uses_reelwatch_config_from_the_environment(tmp_path, media):
    import shutil
    config = write_config(tmp_path, extra='[rules.spec.profiles.p]\nframe_rate = "25"\n'
                                          '[[rules.spec.apply]]\nprofile = "p"\nvolumes = ["ingest"]\n')
    clip = tmp_path / "ingest" / media["prores_2398"].name
    shutil.copy(media["prores_2398"], clip)
    env = {**os.environ, "REELWATCH_CONFIG": str(config)}
    out = reelwatch("check", str(clip), "--format", "json", env=env)
    assert out.returncode == 1, out.stderr
    assert "spec.frame_rate" in {f["rule"] for f in json.loads(out.stdout)["findings"]}
    # --config still wins over the environment
    (tmp_path / "plain").mkdir()
    out = reelwatch("check", str(clip), "--format", "json", "--config", str(write_config(tmp_path / "plain")),
                    env=env)
    assert out.returncode == 0, out.stdout
