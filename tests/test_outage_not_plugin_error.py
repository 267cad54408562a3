"""A state database that goes away under a rule is the state's fault, not the rule's.

A real PostgreSQL server is stopped while a rule reads the history through it: the hook call
stops with the store's ``unreachable`` error (the daemon then holds the file or the batch and
judges it again from the journal), instead of recording a ``reelwatch.plugin_error`` finding on a
file that has nothing wrong with it. Before the fix a batch that closed during an outage left a
plugin_error on its first file, which the journal replayed into the fleet's findings (a tenth
finding for nine files in tests/test_fleet.py). A rule's own sqlite3 error is still its own.
"""

from __future__ import annotations

import sqlite3

import pytest

from reelwatch.core.manager import PluginManager
from reelwatch.core.model import Asset, Facts
from reelwatch.state.store import Store

from pgserver import PASSWORD

READS_HISTORY = """\
from reelwatch import Finding, Severity, hookimpl

@hookimpl
def check(asset, history):
    history.open_findings(asset.volume, asset.relpath)
    return []

@hookimpl
def batch_done(assets, history):
    history.previous(assets[0].volume, assets[0].relpath)
    return []
"""

OWN_DATABASE = """\
import sqlite3
from reelwatch import hookimpl

@hookimpl
def check(asset):
    raise sqlite3.OperationalError("database is locked")  # the rule's own file, not reelwatch's state
"""

WRAPS = """\
from reelwatch import hookimpl

@hookimpl(wrapper=True)
def check(asset):
    results = yield
    return results
"""


def manager(tmp_path, **plugins: str) -> PluginManager:
    for name, text in plugins.items():
        (tmp_path / f"{name}.py").write_text(text)
    pm = PluginManager()
    pm.load(dirs=[tmp_path], shipped=False, entry_points=False)
    assert pm.load_errors == []
    return pm


@pytest.fixture
def history_gone(own_pg_server):
    """A real store's history whose server has just been stopped."""
    store = Store(own_pg_server.new_database(), password=PASSWORD)
    history = store.history(1)
    own_pg_server.stop("fast")
    yield history
    own_pg_server.start()
    store.close()


def test_a_check_whose_history_is_unreachable_stops_instead_of_blaming_the_rule(tmp_path, history_gone):
    pm = manager(tmp_path, reads=READS_HISTORY, wraps=WRAPS)
    asset = Asset("ingest", str(tmp_path), "A001C001.mov", 1, 1)
    with pytest.raises(sqlite3.Error) as raised:
        pm.check(asset, Facts(kind="media"), history_gone, None)
    assert getattr(raised.value, "unreachable", False), raised.value


def test_a_batch_closing_while_the_server_is_away_stops_instead_of_blaming_the_rule(tmp_path, history_gone):
    pm = manager(tmp_path, reads=READS_HISTORY)
    asset = Asset("ingest", str(tmp_path), "A001C001.mov", 1, 1)
    with pytest.raises(sqlite3.Error) as raised:
        pm.batch_done([asset], history_gone, None)
    assert getattr(raised.value, "unreachable", False), raised.value


def test_a_rules_own_database_error_is_still_a_plugin_error(tmp_path):
    pm = manager(tmp_path, own=OWN_DATABASE)
    found = pm.check(Asset("ingest", str(tmp_path), "A001C001.mov", 1, 1), Facts(kind="media"), None, None)
    assert [f.rule for f in found] == ["reelwatch.plugin_error"]
    assert "database is locked" in found[0].message and found[0].plugin == "own"
