"""Messages under load: frame grabs never hold a message up, and every message carries an
idempotency key the receiver sees, the same on every attempt, also after a kill -9."""

from __future__ import annotations

import re
import signal
import time

import pytest

from reelwatch.builtin.notify_apprise import AppriseNotifier
from reelwatch.core.config import build_config
from reelwatch.core.manager import PluginManager
from reelwatch.core.model import Asset, Facts, Finding, Severity
from reelwatch.notify.outbox import Outbox
from reelwatch.checking.routing import RoleRouter
from reelwatch.state.store import Store
from reelwatch.notify.thumbs import Thumbnails

from conftest import state_rows, write_config

KEY = re.compile(r"Message key (rw-[0-9a-f]{12})\.")


def test_a_hundred_truncated_clips_do_not_hold_the_first_message(tmp_path, inbox, media):
    pytest.importorskip("av")
    card = tmp_path / "A002R2EC"
    card.mkdir()
    broken = (tmp_path / "cut.mov")
    broken.write_bytes(b"\0\0\0\x14ftypqt  " + bytes(range(256)) * 64)  # a header and nothing to decode
    config = build_config({"production": {"name": "P"}, "notify": {"digest_window": 0},
                           "roles": {"dit": {"notify": [inbox.url("dit")]},
                                     "editorial": {"notify": [inbox.url("editorial")]}},
                           "volumes": [{"name": "ingest", "path": str(tmp_path), "owner": "dit"}]})
    store = Store(tmp_path / "state.db")
    notifier = AppriseNotifier()
    thumbs = Thumbnails(tmp_path / "thumbnails")
    outbox = Outbox(store, config, lambda m, t: notifier.notify(m, t, config), attach=thumbs)
    pm = PluginManager()
    pm.load(shipped=False, entry_points=False)
    router = RoleRouter(pm, config)
    for i in range(100):
        clip = card / f"A002C{i:03d}_141024_R2EC.mov"
        clip.write_bytes(broken.read_bytes())
        asset = Asset("ingest", str(tmp_path), f"A002R2EC/{clip.name}", clip.stat().st_size, clip.stat().st_mtime_ns)
        f = Finding("sanity.truncated", Severity.BLOCKER, asset, "the file is incomplete", owner="dit",
                    impacts=("editorial",))
        store.commit_check(asset, Facts(kind="media"), [f], router, batch=1)
    try:
        started = time.monotonic()
        outbox.tick()
        first = time.monotonic() - started
        got = inbox.wait_for(2, 10)
        last = time.monotonic() - started
        print(f"\n100 truncated clips: first message {first:.2f} s, last {last:.2f} s")
        assert {m.role for m in got} == {"dit", "editorial"}
        # Not a speed target (bench/ holds those): the old code held the first message for 137 s while it
        # grabbed frames in line; 1.2 s now on a quiet machine, 5 s at load 20. The bound only tells the two apart.
        assert first < 30 and last < 40, (first, last)
        # the grabs were tried in the background, a few, once: failures are remembered
        assert thumbs.idle(60)
        failed = sorted((tmp_path / "thumbnails").glob("*.failed"))
        assert 1 <= len(failed) <= 6
        assert not list((tmp_path / "thumbnails").glob("*.jpg"))
        import json
        from reelwatch.core.model import Notice
        again = tuple(Notice("new", json.loads(r["data"]))
                      for r in store.query("SELECT data FROM notices ORDER BY id LIMIT 6"))
        thumbs.prepare(again)  # the same clips in a later message: a failed grab is not tried again
        assert thumbs.idle(0.01) and len(list((tmp_path / "thumbnails").glob("*.failed"))) == len(failed)
    finally:
        thumbs.close()
        store.close()


def test_every_message_carries_an_idempotency_key_in_header_and_footer(tmp_path, inbox):
    config = build_config({"roles": {"dit": {"notify": [inbox.url("dit")]}}, "notify": {"digest_window": 0}})
    store = Store(tmp_path / "state.db")
    outbox = Outbox(store, config, lambda m, t: AppriseNotifier().notify(m, t, config))
    from reelwatch.core.model import Message
    outbox.enqueue(Message(role="dit", production="P", kind="admin", subject="one", text="first"))
    outbox.enqueue(Message(role="dit", production="P", kind="admin", subject="two", text="second"))
    for _ in range(3):
        outbox.tick()
    got = inbox.wait_for(2, 5)
    keys = []
    for m in got:
        footer = KEY.search(m.body["message"])
        assert footer and m.headers.get("Idempotency-Key") == footer.group(1)
        keys.append(footer.group(1))
    assert len(set(keys)) == 2  # one key per message
    store.close()


def test_a_delivery_in_flight_at_kill_9_is_repeated_with_the_same_key_and_says_so(tmp_path, inbox, daemon):
    config = write_config(tmp_path, inbox, settle=0.2, roles=("dit", "admin"))
    inbox.delay = 1.5  # a target that takes 1.5 s to answer
    d = daemon(config)
    d.wait_ready()
    (tmp_path / "ingest" / "x.mov").write_bytes(b"")
    assert inbox.wait_for(1, 20, role="dit"), d.output()
    d.proc.send_signal(signal.SIGKILL)  # while the target is still answering
    d.proc.wait(10)
    [(sending,)] = state_rows(tmp_path / "state.db", "SELECT sending FROM outbox WHERE role='dit'")
    assert sending, "the send in flight was not written down before it was made"
    inbox.delay = 0.0
    d2 = daemon(config)
    d2.wait_ready()
    got = inbox.wait_for(2, 20, role="dit")
    assert len(got) == 2, d2.output()
    first, again = got
    assert first.headers["Idempotency-Key"] == again.headers["Idempotency-Key"]
    assert KEY.search(first.body["message"]).group(1) == first.headers["Idempotency-Key"]
    assert "This may repeat a message you already have" in again.body["message"]
    assert "may repeat" not in first.body["message"]
    # the receiver can drop the repeat by its key: one message, not two
    assert len({m.headers["Idempotency-Key"] for m in got}) == 1
    time.sleep(1)
    assert len(inbox.wait_for(3, 0.1, role="dit")) == 2
    assert d2.stop() == 0


def test_our_part_of_the_window_is_one_commit(tmp_path, inbox):
    """A kill between the target's answer and our record repeats the message, so the record is the
    first thing done after the answer: the first transaction that ends after each answer already
    holds that message as delivered to its target (nothing else, no other send, comes between). Ordered, not timed:
    the time it takes is printed for the reader (a loaded machine stretches it)."""
    config = build_config({"roles": {"dit": {"notify": [inbox.url("dit")]}}, "notify": {"digest_window": 0}})
    store = Store(tmp_path / "state.db")
    recorded: list[tuple[float, int]] = []
    notifier = AppriseNotifier()

    def send(m, t):
        ok = notifier.notify(m, t, config)
        return ok

    outbox = Outbox(store, config, send)
    real_tx = store.tx

    from contextlib import contextmanager

    @contextmanager
    def timed_tx(*args, **kw):  # (shared=True: a claim on PostgreSQL)
        with real_tx(*args, **kw) as db:
            yield db
            # a message is recorded for its target when that target is in ``delivered`` (the
            # message as a whole is marked sent in the transaction after)
            sent = db.execute("SELECT COUNT(*) FROM outbox WHERE state='sent' OR "
                              "COALESCE(delivered, '[]') <> '[]'").fetchone()[0]
        recorded.append((time.time(), int(sent)))
    store.tx = timed_tx  # type: ignore[method-assign]
    inbox.delay = 0.3
    from reelwatch.core.model import Message
    for i in range(5):
        outbox.enqueue(Message(role="dit", production="P", kind="admin", subject=f"m{i}", text="x"))
    for _ in range(6):
        outbox.tick()
    assert len(inbox.wait_for(5, 5)) == 5
    assert len(inbox.answered) == 5
    gaps = []
    for n, answered in enumerate(inbox.answered, start=1):
        after = [(at, sent) for at, sent in recorded if at >= answered]
        assert after, f"no transaction after answer {n}"
        at, sent = after[0]
        assert sent >= n, f"the first transaction after answer {n} held {sent} sent, not {n}: {recorded}"
        gaps.append(at - answered)
    print(f"\nanswer -> delivered recorded: max {max(gaps) * 1000:.1f} ms over {len(gaps)} sends")
    store.close()


def test_the_key_is_in_every_format_and_push_keeps_it_within_its_size():
    from reelwatch.core.model import Message, Notice
    from reelwatch.notify.render import PUSH_MAX, render
    finding = {"rule": "sanity.truncated", "severity": "blocker", "path": "/v/A002R2EC/" + "x" * 300 + ".mov",
               "relpath": "A002R2EC/" + "x" * 300 + ".mov", "volume": "ingest", "message": "incomplete " * 40,
               "owner": "dit", "id": 7}
    message = Message(role="dit", production="P", notices=(Notice("new", finding),), key="rw-00112233aabb",
                      repeat=True)
    r = render(message)
    for text in (r.text, r.markdown, r.html, r.slack):
        assert "rw-00112233aabb" in text and "may repeat" in text
    assert r.push.endswith("[rw-00112233aabb repeat?]") and len(r.push) <= PUSH_MAX
    assert "rw-" not in render(Message(role="dit", production="P", notices=(Notice("new", finding),))).text
