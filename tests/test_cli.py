"""The command line as a whole: ``--version``, one ``--config`` (with $REELWATCH_CONFIG) and one
``--format table|json`` for every command, usage errors as one clear message and exit 2, the
summary of ``check`` where the eye lands, tables for people in ``status`` and ``history`` with
their JSON unchanged for scripts, and shell completion that really completes in bash."""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import click
import pytest

from reelwatch.cli.base import CONFIG_ENV, Format
from reelwatch.cli.main import COMMANDS
from reelwatch.cli.root import cli

from conftest import reelwatch, write_config
from pgserver import state_backend

ROOT = Path(__file__).resolve().parents[1]
NEEDS_CONFIG = [["status"], ["findings"], ["history", "x.mov"], ["ack", "1"], ["rehash"], ["run"],
                ["notify", "test", "dit"], ["state", "check"], ["state", "recover"],
                ["fleet"], ["fleet", "retire", "cart-b"]]


def commands(group: click.Group = cli, path: tuple[str, ...] = ()) -> dict[tuple[str, ...], click.Command]:
    """Every command of the tree, by its path (``("state", "check")``)."""
    ctx = click.Context(group)
    found: dict[tuple[str, ...], click.Command] = {}
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None, name
        if isinstance(command, click.Group):
            found.update(commands(command, (*path, name)))
        else:
            found[(*path, name)] = command
    return found


def without_config() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != CONFIG_ENV}


def test_version_is_the_installed_one():
    out = reelwatch("--version")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"reelwatch {importlib.metadata.version('reelwatch')}"


def test_every_command_is_registered_in_one_line_and_loads():
    tree = commands()
    assert {path[0] for path in tree} == set(COMMANDS)
    assert {("state", "check"), ("state", "recover"), ("config", "validate"), ("notify", "test"),
            ("check",), ("status",), ("history",)} <= set(tree)


def test_every_config_option_is_the_same_one():
    with_config = {path: next(p for p in c.params if p.name == "config")
                   for path, c in commands().items() if any(p.name == "config" for p in c.params)}
    assert len(with_config) >= 11, sorted(with_config)
    for path, option in with_config.items():
        assert isinstance(option, click.Option) and option.opts == ["--config"], path
        assert option.envvar == CONFIG_ENV, path
        assert CONFIG_ENV in (option.help or ""), path


@pytest.mark.parametrize("args", NEEDS_CONFIG, ids=" ".join)
def test_a_missing_config_is_one_clear_usage_error(tmp_path, args):
    out = reelwatch(*args, env=without_config(), cwd=tmp_path)
    assert out.returncode == 2, (out.stdout, out.stderr)
    assert "no production config: give --config FILE or set $REELWATCH_CONFIG" in out.stderr
    assert "Traceback" not in out.stderr


ON_PG = state_backend() == "postgresql"  # (the database exists before the daemon's first start: no "yet")


@pytest.mark.parametrize("args, code, says", [
    (["status"], 0, "never run"),
    (["findings", "--format", "json"], 0, "[]"),
    (["history", "x.mov"], 1, "nothing recorded for x.mov" if ON_PG else "no state database yet"),
    (["state", "check"], 0, "no state database yet"),
    (["rehash"], 0, "Re-verified 0 of 0 files" if ON_PG else "nothing to re-hash"),
    (["config", "validate"], 0, "valid"),
    (["fleet"], 0, "no node has registered yet"),
], ids=lambda v: " ".join(v) if isinstance(v, list) else None)
def test_every_command_reads_the_config_from_the_environment(tmp_path, args, code, says):
    config = write_config(tmp_path)
    out = reelwatch(*args, env={**without_config(), CONFIG_ENV: str(config)})
    assert out.returncode == code, (out.stdout, out.stderr)
    assert says in out.stdout + out.stderr


def test_the_config_option_wins_over_the_environment(tmp_path):
    (tmp_path / "other").mkdir()
    config = write_config(tmp_path / "other")
    config.write_text(config.read_text().replace("Test Production", "Harbour Lights"))
    out = reelwatch("status", "--config", str(config), "--format", "json",
                    env={**os.environ, CONFIG_ENV: str(write_config(tmp_path))})
    assert json.loads(out.stdout)["production"] == "Harbour Lights"


def test_one_format_vocabulary():
    with_format = {path: next(p for p in c.params if p.name == "fmt")
                   for path, c in commands().items() if any(p.name == "fmt" for p in c.params)}
    assert set(with_format) == {("check",), ("plugins",), ("findings",), ("history",), ("status",), ("rehash",),
                                ("timeline",), ("fleet", "list")}
    for path, option in with_format.items():
        assert option.opts == ["--format"] and isinstance(option.type, Format), path
        assert list(option.type.choices) == ["table", "json", *(["html"] if path == ("check",) else [])], path


@pytest.mark.parametrize("args", [["plugins"], ["rehash", "--config", "{config}"]], ids=" ".join)
def test_format_text_still_works_and_says_it_is_deprecated(tmp_path, args):
    config = write_config(tmp_path)
    args = [a.format(config=config) for a in args]
    old = reelwatch(*args, "--format", "text")
    new = reelwatch(*args, "--format", "table")
    assert old.returncode == new.returncode == 0, old.stderr
    assert old.stdout == new.stdout
    assert "--format text is deprecated" in old.stderr and "--format table" in old.stderr
    assert "deprecated" not in new.stderr


@pytest.mark.parametrize("args, says", [
    (["plugins", "--format", "xml"], "Invalid value for '--format': 'xml' is not one of 'table', 'json'."),
    (["--log-level", "loud", "plugins"], "Invalid value for '--log-level': 'loud' is not one of"),
    (["findings", "--config", "{config}", "--severity", "bogus"],
     "unknown severity 'bogus'; allowed: info, warning, error, blocker"),
    (["rehash", "--config", "{config}", "--sample", "lots"], "'lots' is not a sample"),
    (["rehash", "--config", "{config}", "--max-bytes", "2X"], "'2X' is not a size"),
    (["check", "x.mov", "--limit", "0"], "Invalid value for '--limit'"),
    (["bogus"], "No such command 'bogus'"),
    (["status", "--bogus"], "No such option: --bogus"),
    (["check"], "Missing argument 'PATH...'"),
    ([], "Usage: reelwatch [OPTIONS] COMMAND"),
    (["state"], "Usage: reelwatch state [OPTIONS] COMMAND"),
    (["config"], "Usage: reelwatch config [OPTIONS] COMMAND"),
], ids=lambda v: (" ".join(v) or "(no command)") if isinstance(v, list) else None)
def test_usage_errors_are_one_clear_message_and_exit_2(tmp_path, args, says):
    config = write_config(tmp_path)
    out = reelwatch(*[a.format(config=config) for a in args])
    assert out.returncode == 2, (out.stdout, out.stderr)
    assert says in out.stderr and "Traceback" not in out.stderr
    assert out.stdout == ""


def test_help_and_exit_codes_of_check(tmp_path, media):
    assert reelwatch("check", "--help").returncode == 0
    shutil.copy(media["prores_2398"], tmp_path / media["prores_2398"].name)
    assert reelwatch("check", str(tmp_path), "--format", "json").returncode == 0
    shutil.copy(media["empty"], tmp_path / "x.mov")
    assert reelwatch("check", str(tmp_path), "--format", "json").returncode == 1
    assert reelwatch("check", str(tmp_path / "nope.mov"), "--format", "json").returncode == 2


def test_check_says_when_it_writes_json_because_stdout_is_not_a_terminal(media):
    out = reelwatch("check", str(media["prores_2398"]))
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["checked"] == 1
    assert "stdout is not a terminal, so the report is JSON" in out.stderr
    chosen = reelwatch("check", str(media["prores_2398"]), "--format", "json")
    assert json.loads(chosen.stdout) == json.loads(out.stdout) and "terminal" not in chosen.stderr


def test_check_puts_its_totals_at_the_bottom_and_caps_a_long_table(tmp_path, media):
    for i in range(45):
        (tmp_path / f"A002C{i:03d}_141024_R2EC.mov").write_bytes(b"")
    shutil.copy(media["truncated"], tmp_path / "Z009C001_141024_R2EC.mov")  # found last, a blocker
    env = {**os.environ, "COLUMNS": "200"}
    out = reelwatch("check", str(tmp_path), "--format", "table", env=env)
    assert out.returncode == 1, out.stderr
    lines = [line for line in out.stdout.splitlines() if line.strip()]
    totals = "46 asset(s) checked, 46 finding(s): 1 blocker, 45 errors"
    assert totals in lines[0] and totals in lines[-1]  # the title on top, and the last line
    rows = [line for line in lines if re.search(r"A002C\d{3}_141024_R2EC\.mov|Z009C001", line)]
    assert len(rows) == 40 and "Z009C001" in rows[0]  # the worst first, then 39 of the errors
    assert "6 more finding(s) not shown: 6 errors. --all shows every one" in out.stdout
    assert "by rule: sanity.empty 45, sanity.truncated 1" in out.stdout
    short = reelwatch("check", str(tmp_path), "--format", "table", "--limit", "3", env=env)
    assert "43 more finding(s) not shown: 43 errors" in short.stdout
    every = reelwatch("check", str(tmp_path), "--format", "table", "--all", env=env)
    assert "more finding(s) not shown" not in every.stdout
    assert all(f"A002C{i:03d}_141024_R2EC.mov" in every.stdout for i in range(45))


@pytest.fixture
def recorded(tmp_path, inbox, daemon):
    """A daemon that saw one empty clip (an error, told to the DIT), then stopped."""
    config = write_config(tmp_path, inbox, settle=0.2, volumes={"ingest": "dit", "delivery": "vfx"})
    d = daemon(config)
    d.wait_ready()
    clip = tmp_path / "ingest" / "A002C001_141024_R2EC.mov"
    clip.write_bytes(b"")
    assert inbox.wait_for(1, 20, role="dit"), d.output()
    time.sleep(2.5)  # a status write
    return config, clip, d


def test_status_and_history_are_tables_for_people_and_the_same_json_for_scripts(recorded):
    config, clip, d = recorded
    out = reelwatch("status", "--config", str(config))
    assert out.returncode == 0, out.stderr
    header = next(line for line in out.stdout.splitlines() if "volume" in line and "health" in line)
    assert re.search(r"volume\s+kind\s+health\s+watching\s+last event\s+queued\s+path", header), out.stdout
    ingest = next(line for line in out.stdout.splitlines() if line.lstrip().startswith("ingest "))
    assert re.search(r"ingest\s+ingest\s+ok\s+inotify.*\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+.*ingest$", ingest.rstrip())
    assert "open findings: 1 error" in out.stdout and "daemon: running since" in out.stdout

    data = json.loads(reelwatch("status", "--config", str(config), "--format", "json").stdout)
    assert set(data) == {"production", "daemon", "volumes", "findings", "outbox", "probe", "hashing", "timelines",
                         "forecasts", "nodes", "claims"}
    assert set(data["daemon"]) == {"state", "since", "health", "held"} and data["findings"] == {"error": 1}
    assert [set(v) for v in data["volumes"]] == [{"name", "path", "kind", "observer", "health", "last_event",
                                                  "queue_depth", "detail"}] * 2
    assert set(data["outbox"]) == {"pending", "dead", "oldest_age_s"}

    out = reelwatch("history", str(clip), "--config", str(config))
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "history of A002C001_141024_R2EC.mov on volume ingest"
    day = time.strftime("%Y-%m-%d")
    assert any(line.strip() == day for line in lines), out.stdout  # the date once, then the times
    assert re.search(r"\d\d:\d\d:\d\d\s+checked\s+checked: 0 bytes", out.stdout), out.stdout
    assert re.search(r"\d\d:\d\d:\d\d\s+finding\s+finding #\d+ \(error, sanity.empty\)", out.stdout)
    assert re.search(r"\d\d:\d\d:\d\d\s+told\s+finding #\d+ told to dit: sent", out.stdout)
    events = json.loads(reelwatch("history", str(clip), "--config", str(config), "--format", "json").stdout)
    assert set(events) == {"volume", "path", "events"}
    assert all(set(e) == {"ts", "event", "volume", "path", "detail", "time", "text"} for e in events["events"])
    assert [e["event"] for e in events["events"]][:2] == ["checked", "finding"]


def launcher(tmp_path: Path) -> Path:
    """A ``reelwatch`` on PATH that runs this checkout, as the installed one does."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "reelwatch").write_text(f"#!/bin/sh\nexec {shlex.quote(sys.executable)} -m reelwatch.cli \"$@\"\n")
    (bin_dir / "reelwatch").chmod(0o755)
    return bin_dir


def complete(tmp_path: Path, line: str) -> list[str]:
    """What bash offers for ``line`` after sourcing the documented completion script."""
    words = shlex.split(line) + ([""] if line.endswith(" ") else [])
    script = (f'eval "$(_REELWATCH_COMPLETE=bash_source reelwatch)"\n'
              f"COMP_WORDS=({' '.join(shlex.quote(w) for w in words)}); COMP_CWORD={len(words) - 1}\n"
              "_reelwatch_completion reelwatch\nprintf '%s\\n' \"${COMPREPLY[@]}\"\n")
    env = {**without_config(), "PATH": f"{launcher(tmp_path)}:{os.environ['PATH']}"}
    out = subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout.split()


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
def test_shell_completion_completes_commands_and_choices(tmp_path):
    source = reelwatch(env={**os.environ, "_REELWATCH_COMPLETE": "bash_source"})
    assert "_reelwatch_completion" in source.stdout and "complete -o nosort -F _reelwatch_completion" \
        in source.stdout
    assert complete(tmp_path, "reelwatch sta") == ["state", "status"]
    assert complete(tmp_path, "reelwatch state ") == ["check", "migrate", "recover"]
    assert complete(tmp_path, "reelwatch check --format ") == ["table", "json", "html"]
    assert complete(tmp_path, "reelwatch findings --severity b") == ["blocker"]


def test_readme_documents_every_command_and_completion():
    text = (ROOT / "README.md").read_text()
    assert 'eval "$(_REELWATCH_COMPLETE=bash_source reelwatch)"' in text
    for path in commands():
        assert f"`reelwatch {' '.join(path)}" in text, path


def test_rehash_module_still_runs_as_a_program(tmp_path):
    config = write_config(tmp_path)
    out = subprocess.run([sys.executable, "-m", "reelwatch.cli.rehash", "--config", str(config), "--format", "json"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and ('"bytes": 0' in out.stdout if ON_PG else "nothing to re-hash" in out.stderr), out
