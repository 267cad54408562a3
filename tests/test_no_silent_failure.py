"""No silent failure: a broken plugin is a config error everywhere (exit 2, file, line, hook,
did-you-mean), a SIGHUP with a broken plugin keeps the running config and the daemon working,
every worker thread counts for health, and a dead one stops the systemd watchdog pings."""

from __future__ import annotations

import json
import os
import signal
import time

import pytest

from reelwatch import Finding, Severity
from reelwatch.service.daemon import Daemon
from reelwatch.core.manager import PluginManager
from reelwatch.core.model import Asset, Facts

from conftest import reelwatch, write_config
from test_service import NotifySocket, wait_until

MISSPELT = "from reelwatch import hookimpl\n\n\n@hookimpl\ndef chek(asset, facts):\n    return []\n"
GOOD = ("from reelwatch import Finding, Severity, hookimpl\n\n\n@hookimpl\ndef check(asset):\n"
        "    return [Finding('facility.seen', Severity.ERROR, asset, 'facility saw it', owner='dit')]\n")


def plugin_config(tmp_path, inbox=None, **kw):
    folder = tmp_path / "facility_plugins"
    folder.mkdir(exist_ok=True)
    return write_config(tmp_path, inbox, extra=f'[plugins]\ndirs = ["{folder}"]\n', **kw), folder


@pytest.mark.parametrize("command", [["config", "validate", "{config}"], ["plugins", "--config", "{config}"],
                                     ["check", "--config", "{config}", "{ingest}"], ["run", "--config", "{config}"]])
def test_a_misspelt_hook_is_a_config_error_in_every_command(tmp_path, command):
    config, folder = plugin_config(tmp_path)
    (folder / "facility.py").write_text(MISSPELT)
    args = [a.format(config=config, ingest=tmp_path / "ingest") for a in command]
    out = reelwatch(*args, timeout=60)
    assert out.returncode == 2, (out.returncode, out.stderr)
    assert "Traceback" not in out.stderr and "PluginValidationError" not in out.stderr
    assert f"{folder / 'facility.py'}:5: hook 'chek' is not a reelwatch hook (did you mean 'check'?)" in out.stderr


def test_every_plugin_mistake_is_reported_at_once_with_its_line(tmp_path):
    config, folder = plugin_config(tmp_path)
    (folder / "a_typo.py").write_text(MISSPELT)
    (folder / "b_args.py").write_text("from reelwatch import hookimpl\n@hookimpl\ndef check(asset, fatcs):\n"
                                      "    return None\n")
    (folder / "c_nowrap.py").write_text("from reelwatch import hookimpl\n@hookimpl(wrapper=True)\n"
                                        "def check(asset):\n    return []\n")
    (folder / "d_unmarked.py").write_text("def check(asset):\n    return []\n")
    (folder / "e_exits.py").write_text("import sys\nsys.exit(3)\n")
    out = reelwatch("config", "validate", str(config))
    assert out.returncode == 2 and "Traceback" not in out.stderr
    err = out.stderr
    assert f"{folder / 'b_args.py'}:3: hook 'check' takes 'fatcs', which reelwatch does not pass " \
           "(did you mean 'facts'?)" in err
    assert f"{folder / 'c_nowrap.py'}:3: hook 'check' is marked as a wrapper but does not yield" in err
    assert f"{folder / 'd_unmarked.py'}:1: function 'check' has the name of a hook but no @hookimpl" in err
    assert f"{folder / 'e_exits.py'}:2: SystemExit: 3" in err
    assert "invalid config (5 problems)" in err


def test_an_entry_point_style_plugin_with_an_unknown_hook_is_refused_not_raised():
    from reelwatch import hookimpl

    class Installed:
        @hookimpl
        def chek(self, asset):  # registered directly, as an entry point would be
            return []

    pm = PluginManager()
    pm.register(Installed(), name="installed")
    pm.load(shipped=False, entry_points=False)  # runs the final sweep instead of pluggy's check_pending
    assert "installed" not in pm.plugin_names()
    assert any("hook 'chek' is not a reelwatch hook (did you mean 'check'?)" in e for e in pm.load_errors)
    assert "chek" not in pm.hook_names()


def _pm_with(tmp_path, **files):
    for name, text in files.items():
        (tmp_path / f"{name}.py").write_text(text)
    pm = PluginManager()
    pm.load(dirs=[tmp_path], shipped=False, entry_points=False)
    assert pm.load_errors == []
    return pm


def test_a_standard_pluggy_wrapper_wraps_the_isolated_checks(tmp_path):
    pm = _pm_with(tmp_path, a_rule=GOOD, z_wrapper=(
        "from reelwatch import Finding, Severity, hookimpl\n"
        "@hookimpl(wrapper=True)\ndef check(asset):\n    results = yield\n"
        "    count = sum(len(list(r)) for r in results)\n"
        "    return results + [[Finding('facility.counted', Severity.INFO, asset, f'{count} inner finding(s)')]]\n"))
    found = pm.check(Asset("v", "/r", "a.mov", 1, 1), Facts(kind="media"), None, None)
    rules = {f.rule: f for f in found}
    assert set(rules) == {"facility.seen", "facility.counted"}, [f.message for f in found]
    assert rules["facility.counted"].message == "1 inner finding(s)"
    assert rules["facility.counted"].plugin == "z_wrapper" and rules["facility.seen"].plugin == "a_rule"


def test_an_old_style_hookwrapper_can_drop_findings(tmp_path):
    pm = _pm_with(tmp_path, a_rule=GOOD, z_wrapper=(
        "from reelwatch import hookimpl\n@hookimpl(hookwrapper=True)\ndef check(asset):\n"
        "    outcome = yield\n    outcome.force_result([[f for f in r if f.rule != 'facility.seen'] "
        "for r in outcome.get_result()])\n"))
    assert pm.check(Asset("v", "/r", "a.mov", 1, 1), Facts(kind="media"), None, None) == []


def test_a_failing_wrapper_is_a_plugin_error_and_the_inner_findings_stay(tmp_path):
    pm = _pm_with(tmp_path, a_rule=GOOD, z_wrapper=(
        "from reelwatch import hookimpl\n@hookimpl(wrapper=True)\ndef check(asset):\n"
        "    results = yield\n    raise RuntimeError('wrapper broke')\n"))
    found = pm.check(Asset("v", "/r", "a.mov", 1, 1), Facts(kind="media"), None, None)
    rules = {f.rule: f for f in found}
    assert set(rules) == {"facility.seen", "reelwatch.plugin_error"}
    assert rules["reelwatch.plugin_error"].plugin == "z_wrapper" and "wrapper broke" in rules[
        "reelwatch.plugin_error"].message


def test_a_plugin_whose_rules_hook_raises_is_a_load_error_not_a_traceback(tmp_path):
    config, folder = plugin_config(tmp_path)
    (folder / "facility.py").write_text("from reelwatch import hookimpl\n@hookimpl\ndef rules():\n"
                                        "    raise KeyError('oops')\n")
    out = reelwatch("plugins", "--config", str(config))
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "plugin 'facility' failed in its rules hook: KeyError" in out.stderr


# -- the real daemon -------------------------------------------------------------------------

def test_sighup_with_a_broken_plugin_keeps_the_old_config_and_the_daemon_checking(tmp_path, inbox, daemon):
    config, folder = plugin_config(tmp_path, inbox, settle=0.2)
    (folder / "facility.py").write_text(GOOD)
    d = daemon(config)
    d.wait_ready()
    (tmp_path / "ingest" / "first.wav").write_bytes(b"RIFF")
    assert inbox.wait_for(1, 20, role="dit"), d.output()
    # the facility plugin is edited in place with a misspelt hook, and the daemon told to reload
    (folder / "facility.py").write_text(MISSPELT)
    os.utime(folder / "facility.py", ns=(time.time_ns() + 10**9, time.time_ns() + 10**9))
    before = len(inbox.received)
    d.proc.send_signal(signal.SIGHUP)
    assert wait_until(lambda: '"reload_rejected"' in d.output(), 20), d.output()
    assert "facility.py:5: hook 'chek' is not a reelwatch hook" in d.output()
    admin = inbox.wait_for(1, 15, role="admin")
    assert admin and "reload rejected" in admin[0].body["title"] and "chek" in admin[0].body["message"]
    # the control thread is alive: a new file is still checked, with the previous plugin set
    (tmp_path / "ingest" / "second.wav").write_bytes(b"RIFF")
    assert wait_until(lambda: any("second.wav" in m.body["message"] for m in inbox.received[before:]
                                  if m.role == "dit"), 20), d.output()
    assert d.proc.poll() is None and "control_step_failed" not in d.output()
    assert "Traceback" not in d.output()
    assert d.stop() == 0


# -- health and the watchdog -----------------------------------------------------------------

def _pings(sock: NotifySocket, seconds: float) -> int:
    return len([m for m in sock.read(seconds) if "WATCHDOG=1" in m])


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")  # the killed thread's
@pytest.mark.parametrize("kill", ["control", "checker", "metrics"])
def test_a_dead_worker_thread_stops_the_watchdog_pings_and_is_told(tmp_path, inbox, kill):
    config = write_config(tmp_path, inbox, settle=0.2, extra='[service]\nmetrics = "127.0.0.1:0"\n')
    sock = NotifySocket(tmp_path / "notify.sock")
    d = Daemon(config, env={"NOTIFY_SOCKET": str(sock.path), "WATCHDOG_USEC": "400000"}, tick=0.05)
    try:
        d.start()
        assert sock.wait_for("READY=1", 10)
        assert _pings(sock, 1.0) >= 3 and d.healthy() and d.supervise() == []
        if kill == "control":
            def boom() -> None:
                raise SystemExit("a bug outside every guard")  # BaseException: the thread dies
            d._maybe_finish_batch = boom  # type: ignore[method-assign]
            d.control.join(5)
            del d._maybe_finish_batch  # the class's own again, for stop()
            assert not d.control.is_alive()
        elif kill == "checker":
            d.queue.put(None)  # the checkers' stop signal: one of them leaves
            assert wait_until(lambda: not all(t.is_alive() for t in d._checkers), 5)
        else:
            d.metrics_server._httpd.shutdown()  # the endpoint's thread ends
            d.metrics_server._thread.join(5)
        assert not d.healthy()
        sock.read(0.5)  # what was in flight
        assert _pings(sock, 1.5) == 0
        dead = d.supervise()
        assert dead and d.supervise() == dead  # told once
        rows = d.store.query("SELECT detail FROM audit WHERE event='thread_died'")
        assert len(rows) == len(dead) and json.loads(rows[0]["detail"])["thread"] in dead
        told = inbox.wait_for(1, 10, role="admin")
        assert told and "thread died" in told[0].body["title"]
        from prometheus_client.parser import text_string_to_metric_families
        values = {s.name: s.value for fam in text_string_to_metric_families(d.metrics.render().decode())
                  for s in fam.samples}
        assert values["reelwatch_healthy"] == 0
    finally:
        d.stop(drain=0)
        sock.close()


def test_status_says_when_a_daemon_thread_died(tmp_path, inbox):
    config = write_config(tmp_path, inbox, settle=0.2)
    d = Daemon(config, env={}, tick=0.05)
    try:
        d.start()
        d.queue.put(None)
        assert wait_until(lambda: not all(t.is_alive() for t in d._checkers), 5)
        d.supervise()
        out = reelwatch("status", "--config", str(config))
        assert out.returncode == 0, out.stderr
        assert "UNHEALTHY" in out.stdout and "reelwatch-check-" in out.stdout
    finally:
        d.stop(drain=0)


def test_a_raising_plugin_check_still_gives_one_plugin_error(tmp_path):
    pm = _pm_with(tmp_path, broken="from reelwatch import hookimpl\n@hookimpl\ndef check(asset):\n"
                                   "    yield from ()\n    raise ValueError('half way')\n")
    [f] = pm.check(Asset("v", "/r", "a.mov", 1, 1), Facts(kind="media"), None, None)
    assert f.rule == "reelwatch.plugin_error" and "half way" in f.message and f.severity is Severity.ERROR
    assert isinstance(f, Finding)
