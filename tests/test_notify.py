"""Routing and notifications through real transports on 127.0.0.1: apprise json:// to a local
HTTP receiver, apprise's Slack plugin pointed at a local webhook, mailto:// to aiosmtpd."""

from __future__ import annotations

import email
import email.policy
import shutil
import socket
import time
from pathlib import Path

import pytest

from reelwatch.core.config import build_config
from reelwatch.core.model import Asset, Facts, Finding, Severity
from reelwatch.notify.outbox import Outbox
from reelwatch.checking.routing import RoleRouter
from reelwatch.core.manager import PluginManager
from reelwatch.builtin.notify_apprise import AppriseNotifier
from reelwatch.state.store import Store

from conftest import open_state_db, reelwatch, write_config

SECRET_PASS = "Sup3rSecretPassw0rd"
SECRET_TOKEN = "T0kenABCDEF1234567890xyz"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp():
    aiosmtpd = pytest.importorskip("aiosmtpd.controller")
    from aiosmtpd.handlers import Message as MessageHandler

    received: list[email.message.EmailMessage] = []

    class Keep(MessageHandler):
        def handle_message(self, message):  # noqa: D401
            received.append(message)

    from aiosmtpd.smtp import AuthResult

    def authenticator(server, session, envelope, mechanism, auth_data):
        return AuthResult(success=getattr(auth_data, "password", b"") == SECRET_PASS.encode())

    port = free_port()
    controller = aiosmtpd.Controller(Keep(email.message.EmailMessage), hostname="127.0.0.1", port=port,
                                     authenticator=authenticator, auth_require_tls=False)
    controller.start()
    controller.received = received
    controller.url_port = port
    yield controller
    controller.stop()


def make_outbox(tmp_path: Path, roles: dict[str, list[str]], **notify: object) -> tuple[Store, Outbox, RoleRouter]:
    raw = {"production": {"name": "Harbour Lights"},
           "roles": {r: {"notify": t} for r, t in roles.items()},
           "volumes": [{"name": "ingest", "path": str(tmp_path), "owner": next(iter(roles))}],
           "notify": {"digest_window": 0, "retry_base": 0.05, **notify}}
    config = build_config(raw)
    store = Store(tmp_path / "state.db")
    notifier = AppriseNotifier()
    outbox = Outbox(store, config, lambda m, t: notifier.notify(m, t, config))
    pm = PluginManager()
    pm.load(shipped=False, entry_points=False)
    return store, outbox, RoleRouter(pm, config)


def finding(tmp_path: Path, name: str, rule: str = "sanity.truncated", owner: str = "dit",
            impacts: tuple[str, ...] = ("editorial",), severity: Severity = Severity.BLOCKER) -> Finding:
    asset = Asset("ingest", str(tmp_path), f"A002R2EC/{name}", 100, 1)
    return Finding(rule, severity, asset, "the file is incomplete", owner=owner, impacts=impacts,
                   expected="a complete copy", impact="the clip stops early in the edit", fix="copy it again")


def drain(outbox: Outbox, until: float = 10) -> None:
    deadline = time.monotonic() + until
    while time.monotonic() < deadline:
        outbox.tick()
        if not outbox.pending()[0] and not outbox.store.query(
                "SELECT 1 FROM notices WHERE message_id IS NULL"):
            return
        time.sleep(0.05)


def test_500_bad_clips_from_one_card_become_one_message_per_role(tmp_path, inbox):
    store, outbox, router = make_outbox(tmp_path, {"dit": [inbox.url("dit")], "editorial": [inbox.url("editorial")]})
    for i in range(500):
        f = finding(tmp_path, f"A002C{i:03d}_141024_R2EC.mov")
        store.commit_check(f.asset, Facts(kind="media"), [f], router, batch=1)
    drain(outbox)
    assert len(inbox.wait_for(1, 5, role="dit")) == 1 and len(inbox.wait_for(1, 5, role="editorial")) == 1
    assert len(inbox.received) == 2
    body = inbox.received[0].body["message"]
    assert "500" in body and "A002R2EC" in body and len(body) < 8000
    store.close()


def test_resolved_notice_goes_to_the_same_people(tmp_path, inbox):
    store, outbox, router = make_outbox(tmp_path, {"dit": [inbox.url("dit")], "editorial": [inbox.url("editorial")]})
    bad = finding(tmp_path, "A002C006_141024_R2EC.mov")
    store.commit_check(bad.asset, Facts(kind="media"), [bad], router, batch=1)
    drain(outbox)
    fixed = Asset("ingest", str(tmp_path), bad.asset.relpath, 5000, 2)
    store.commit_check(fixed, Facts(kind="media"), [], router, batch=2)
    drain(outbox)
    assert len(inbox.received) == 4
    later = [m for m in inbox.received[2:]]
    assert {m.role for m in later} == {"dit", "editorial"}
    assert all("resolved" in m.body["message"].lower() for m in later)
    store.close()


def test_outage_then_recovery_delivers_each_message_once_in_order(tmp_path, inbox):
    store, outbox, router = make_outbox(tmp_path, {"dit": [inbox.url("dit")]}, max_attempts=50)
    inbox.down = True
    for i in range(3):
        f = finding(tmp_path, f"A002C00{i}_141024_R2EC.mov", impacts=())
        store.commit_check(f.asset, Facts(kind="media"), [f], router, batch=i + 1)
        outbox.tick()  # one digest per check: three messages queued in order
    for _ in range(5):
        outbox.tick()
        time.sleep(0.06)
    assert inbox.received == []
    rows = store.query("SELECT attempts FROM outbox ORDER BY id")
    assert rows[0]["attempts"] >= 2 and len(rows) == 3
    inbox.down = False
    drain(outbox)
    got = [m.body["message"] for m in inbox.received]
    assert len(got) == 3
    assert [next(i for i in range(3) if f"A002C00{i}" in g) for g in got] == [0, 1, 2]
    store.close()


def test_dead_letter_tells_the_admin_through_a_working_channel(tmp_path, inbox):
    dead = "json://127.0.0.1:9/dit"  # nothing listens on port 9
    store, outbox, router = make_outbox(tmp_path, {"dit": [dead], "supervisor": [inbox.url("supervisor")]},
                                        max_attempts=2, retry_base=0.01)
    f = finding(tmp_path, "A002C006_141024_R2EC.mov", impacts=())
    store.commit_check(f.asset, Facts(kind="media"), [f], router, batch=1)
    for _ in range(20):
        outbox.tick()
        time.sleep(0.02)
    assert store.query("SELECT state FROM outbox WHERE role='dit'")[0]["state"] == "dead"
    got = inbox.wait_for(1, 5, role="supervisor")
    assert got and "could not be delivered" in got[0].body["message"] and "dit" in got[0].body["message"]
    store.close()


def test_unacknowledged_errors_escalate_and_ack_stops_it(tmp_path, inbox):
    now = [1000.0]
    raw_roles = {"dit": [inbox.url("dit")], "supervisor": [inbox.url("supervisor")]}
    store, outbox, router = make_outbox(tmp_path, raw_roles)
    config = build_config({"roles": {"dit": {"notify": raw_roles["dit"], "escalate_to": "supervisor",
                                             "escalate_after": 60},
                                     "supervisor": {"notify": raw_roles["supervisor"]}},
                           "notify": {"digest_window": 0}})
    store.clock = outbox.clock = lambda: now[0]
    outbox.config = config
    a = finding(tmp_path, "A.mov", impacts=())
    b = finding(tmp_path, "B.mov", impacts=())
    store.commit_check(a.asset, Facts(kind="media"), [a], router, batch=1)
    store.commit_check(b.asset, Facts(kind="media"), [b], router, batch=1)
    drain(outbox)
    assert store.ack([store.findings(path=b.asset.relpath)[0].id], "jo") == 1
    now[0] += 61
    drain(outbox)
    esc = inbox.wait_for(1, 5, role="supervisor")
    assert len(esc) == 1 and "ESCALATED" in esc[0].body["title"]
    assert "A.mov" in esc[0].body["message"] and "B.mov" not in esc[0].body["message"]
    drain(outbox)
    assert len([m for m in inbox.received if m.role == "supervisor"]) == 1  # escalated once only
    store.close()


def test_quiet_hours_hold_all_but_blockers(tmp_path, inbox):
    store, outbox, router = make_outbox(tmp_path, {"dit": [inbox.url("dit")]})
    outbox.config = build_config({"roles": {"dit": {"notify": [inbox.url("dit")], "quiet_hours": "00:00-23:59"}},
                                  "notify": {"digest_window": 0}})
    warn = finding(tmp_path, "A.mov", rule="sanity.name_chars", severity=Severity.WARNING, impacts=())
    store.commit_check(warn.asset, Facts(kind="media"), [warn], router, batch=1)
    outbox.tick()
    assert inbox.received == []
    block = finding(tmp_path, "B.mov", impacts=())
    store.commit_check(block.asset, Facts(kind="media"), [block], router, batch=1)
    outbox.tick()
    got = inbox.wait_for(1, 5)
    assert len(got) == 1 and "B.mov" in got[0].body["message"]
    store.close()


def test_slack_plugin_delivers_to_a_local_webhook_and_hostile_names_stay_harmless(tmp_path, inbox, monkeypatch):
    from apprise.plugins.slack import NotifySlack
    monkeypatch.setattr(NotifySlack, "webhook_url", f"http://127.0.0.1:{inbox.port}/services")
    url = f"slack://{SECRET_TOKEN[:9]}/B1234567X/{SECRET_TOKEN}/#dit"
    store, outbox, router = make_outbox(tmp_path, {"dit": [url]})
    hostile = "A001<!channel>*bold*<http://evil|click>[x](http://evil).mov"
    f = finding(tmp_path, hostile, impacts=())
    store.commit_check(f.asset, Facts(kind="media"), [f], router, batch=1)
    drain(outbox)
    got = inbox.wait_for(1, 5)
    assert len(got) == 1 and got[0].path.startswith("/services/")
    payload = str(got[0].body)
    assert "<!channel>" not in payload and "<http://evil" not in payload
    # the name reaches Slack only inside a code span, where link syntax is shown, never followed
    text = got[0].body["attachments"][0]["text"] if got[0].body.get("attachments") else payload
    for line in text.splitlines():
        at = line.find("](http://evil)")
        if at != -1:
            assert line[:at].count("`") % 2 == 1, f"link syntax outside a code span: {line}"
    assert "A001" in payload and "sanity.truncated" in payload
    store.close()


def test_email_to_local_smtp_with_a_frame_grab_and_no_header_injection(tmp_path, smtp, media):
    pytest.importorskip("av")
    clip = tmp_path / "A002R2EC" / "name\r\nBcc: victim@example.com.mov"
    clip.parent.mkdir()
    shutil.copy(media["truncated"], clip)
    url = (f"mailto://dit:{SECRET_PASS}@127.0.0.1:{smtp.url_port}?from=reelwatch@example.com"
           f"&to=dit@example.com&mode=insecure")
    # the grab is made in the background while the digest window runs: it never holds a message up
    store, outbox, router = make_outbox(tmp_path, {"dit": [url]}, digest_window=2)
    from reelwatch.notify.thumbs import Thumbnails
    outbox.attach = thumbs = Thumbnails(tmp_path / "state-thumbs")
    asset = Asset("ingest", str(tmp_path), f"A002R2EC/{clip.name}", clip.stat().st_size, 1)
    f = Finding("sanity.truncated", Severity.BLOCKER, asset, "the file is incomplete", owner="dit")
    store.commit_check(asset, Facts(kind="media"), [f], router, batch=1)
    outbox.tick()
    assert thumbs.idle(20)
    drain(outbox, until=20)
    thumbs.close()
    deadline = time.monotonic() + 10
    while not smtp.received and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(smtp.received) == 1
    msg = email.message_from_bytes(smtp.received[0].as_bytes(), policy=email.policy.default)
    assert msg["Bcc"] is None and "victim" not in str(msg["To"])
    assert "\r" not in str(msg["Subject"]) and "\n" not in str(msg["Subject"])
    parts = list(msg.walk())
    images = [p for p in parts if p.get_content_type().startswith("image/")]
    assert images and images[0].get_payload(decode=True)[:2] == b"\xff\xd8"  # a real JPEG frame grab
    html = next(p for p in parts if p.get_content_type() == "text/html").get_content()
    assert "sanity.truncated" in html
    assert not list((tmp_path / "A002R2EC").glob("*.jpg")), "the thumbnail was written to the watched volume"
    store.close()


def test_no_secret_reaches_logs_or_cli_output(tmp_path, inbox, daemon):
    secret_urls = [f"json://admin:{SECRET_PASS}@127.0.0.1:9/{SECRET_TOKEN}",
                   f"mailto://dit:{SECRET_PASS}@127.0.0.1:9?to=dit@example.com&mode=insecure"]
    config = write_config(tmp_path, inbox, settle=0.2, roles=("editorial",))
    config.write_text(config.read_text().replace('[[volumes]]', "[roles.dit]\nnotify = [" + ", ".join(
        f'"{u}"' for u in secret_urls) + "]\n\n[[volumes]]", 1))
    d = daemon(config)
    d.wait_ready()
    (tmp_path / "ingest" / "x.mov").write_bytes(b"")
    assert inbox.wait_for(1, 15, role="editorial")
    time.sleep(2)  # let the dit targets fail and retry at least once
    d.stop()
    out = d.output()
    assert "delivery" in out or "delivery_failed" in out
    test = reelwatch("notify", "test", "dit", "--config", str(config))
    assert test.returncode == 1 and "FAIL" in test.stdout
    for text in (out, test.stdout, test.stderr):
        assert SECRET_PASS not in text and SECRET_TOKEN not in text


def test_notify_test_reports_each_target(tmp_path, inbox):
    config = write_config(tmp_path, inbox, roles=("dit",))
    config.write_text(config.read_text().replace(
        f'notify = ["{inbox.url("dit")}"]', f'notify = ["{inbox.url("dit")}", "json://127.0.0.1:9/x"]'))
    out = reelwatch("notify", "test", "dit", "--config", str(config))
    lines = out.stdout.strip().splitlines()
    assert out.returncode == 1 and len(lines) == 2
    assert lines[0].startswith("ok") and lines[1].startswith("FAIL")
    assert inbox.wait_for(1, 5, role="dit")[0].body["title"]


def test_outage_across_a_daemon_restart_loses_and_repeats_nothing(tmp_path, inbox, daemon):
    config = write_config(tmp_path, inbox, settle=0.2, roles=("dit",))
    inbox.down = True
    d = daemon(config)
    d.wait_ready()
    def queued() -> int:
        with open_state_db(tmp_path / "state.db") as db:
            return db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]
    for i in range(3):
        (tmp_path / "ingest" / f"clip_{i}.mov").write_bytes(b"")
        # separate digests, queued in order: each file's message is in the outbox before the next
        # lands (a fixed sleep let a slow first probe on a loaded machine check all three in one digest)
        deadline = time.monotonic() + 20
        while queued() < i + 1 and time.monotonic() < deadline:
            time.sleep(0.05)
    assert queued() == 3
    assert d.stop() == 0
    assert inbox.received == []
    inbox.down = False
    d2 = daemon(config)
    d2.wait_ready()
    got = inbox.wait_for(3, 20, role="dit")
    time.sleep(1)
    d2.stop()
    names = [next(f"clip_{i}" for i in range(3) if f"clip_{i}.mov" in m.body["message"]) for m in got]
    assert names == ["clip_0", "clip_1", "clip_2"]
    assert len(inbox.received) == 3


def test_role_targets_from_an_apprise_yaml_config_tagged_by_role(tmp_path, inbox):
    yaml = tmp_path / "targets.yml"
    yaml.write_text(f"urls:\n  - {inbox.url('dit-yaml')}:\n    - tag: dit\n  - {inbox.url('other')}:\n"
                    f"    - tag: editorial\n")
    store, outbox, router = make_outbox(tmp_path, {"dit": [str(yaml)]})
    f = finding(tmp_path, "A.mov", impacts=())
    store.commit_check(f.asset, Facts(kind="media"), [f], router, batch=1)
    drain(outbox)
    got = inbox.wait_for(1, 5)
    assert [m.role for m in got] == ["dit-yaml"]
    store.close()


def test_route_hook_adds_recipients(tmp_path, inbox):
    plugin_dir = tmp_path / "p"
    plugin_dir.mkdir()
    (plugin_dir / "colour_too.py").write_text(
        "from reelwatch import hookimpl\n@hookimpl\ndef route(finding):\n"
        "    return ['colour'] if finding.rule.startswith('sanity.truncated') else None\n")
    config = build_config({"roles": {"dit": {"notify": [inbox.url("dit")]},
                                     "colour": {"notify": [inbox.url("colour")]}}})
    pm = PluginManager()
    pm.load(dirs=[plugin_dir], shipped=False, entry_points=False)
    routes = RoleRouter(pm, config)(finding(tmp_path, "A.mov", impacts=("nobody",)))
    assert routes == [("dit", "new"), ("colour", "affects")]


def test_urls_whose_host_or_port_is_a_token_are_redacted_and_do_not_crash():
    from reelwatch.core.redact import Redactor, redact_url
    tgram = "tgram://123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/12345678"
    pbul = "pbul://o.gn5kj6nfhv736I7jC3cj3QLRiyhgl98b"
    assert redact_url(tgram) == "tgram://***"
    assert "gn5kj6nfhv736" not in redact_url(pbul)
    red = Redactor([tgram, pbul])
    text = red(f"failed: {tgram} and Port could not be cast to integer value as 'AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw'"
               f" and o.gn5kj6nfhv736I7jC3cj3QLRiyhgl98b")
    assert "AAHdqTcv" not in text and "gn5kj6nfhv736" not in text
    assert redact_url("mailto://user:pw@smtp.example.com:587?to=a@b") == "mailto://***@smtp.example.com:587/***"
