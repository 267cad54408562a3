"""A send whose record lands in another database: a fleet node that loses its PostgreSQL switches
its store to the offline journal at the first failed write, from any thread, possibly while the
outbox is between a target's answer and the record of it. The record then updates no row (the
message is not in the journal); the outbox took that for "recorded", forgot the send, and the
message went out again with the same key once the database was back (seen in a full PostgreSQL
run: one key twice in tests/test_fleet.py). Here the switch is made inside the send itself."""

from __future__ import annotations

from reelwatch.builtin.notify_apprise import AppriseNotifier
from reelwatch.core.config import build_config
from reelwatch.core.model import Message
from reelwatch.notify.outbox import Outbox
from reelwatch.state.store import Store


def test_a_send_recorded_while_the_store_points_elsewhere_is_not_sent_again(tmp_path, inbox) -> None:
    config = build_config({"roles": {"dit": {"notify": [inbox.url("dit")]}}, "notify": {"digest_window": 0}})
    store, elsewhere = Store(tmp_path / "state.db"), Store(tmp_path / "journal.db")
    notifier = AppriseNotifier()
    switched: list[object] = []

    def send(message: Message, targets: list[str]) -> bool:
        ok = notifier.notify(message, targets, config)
        if not switched:  # the database goes away between the target's answer and our record of it
            switched.append(store.switch(elsewhere.db, str(tmp_path / "journal.db"), store._salt))  # noqa: SLF001
        return ok

    try:
        outbox = Outbox(store, config, send)
        msg_id = outbox.enqueue(Message(role="dit", production="P", kind="admin", subject="card A002", text="x"))
        outbox.tick()
        assert len(inbox.wait_for(1, 5)) == 1
        store.switch(switched[0], str(tmp_path / "state.db"), store._salt)  # noqa: SLF001  (the database is back)
        for _ in range(3):
            outbox.tick()
        assert len(inbox.wait_for(2, 2)) == 1, [r.body for r in inbox.received]  # sent once, not twice
        (row,) = store.query("SELECT state FROM outbox WHERE id=?", (msg_id,))
        assert row["state"] == "sent"
    finally:
        store.close()
        elsewhere.close()
