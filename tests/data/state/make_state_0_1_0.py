"""Writes tests/data/state/state-0.1.0.sql with reelwatch 0.1.0's own Store (commit 4b56200)."""
import sqlite3
import sys
from reelwatch.core.model import Asset, Facts, Finding, Severity, Message
from reelwatch.state.store import Store
from reelwatch.core.config import build_config
from reelwatch.notify.outbox import Outbox

t = [1_750_000_000.0]
def clock():
    t[0] += 1.0
    return t[0]
db = sys.argv[1]
store = Store(db, clock=clock)
route = lambda f: [(f.owner, "new"), ("editorial", "affects")]
a1 = Asset("raid", "/mnt/raid", "A002R2EC/A002C003_250101_R2EC.mov", 1000, 5)
a2 = Asset("raid", "/mnt/raid", "A002R2EC/A002C004_250101_R2EC.mov", 0, 6)
a3 = Asset("nas", "/mnt/nas", "VFX/AGM_010_comp_v002.mov", 2000, 7)
f1 = Finding("spec.frame_rate", Severity.ERROR, a1, "25 fps, expected 23.976", owner="dit", impacts=("editorial",))
f2 = Finding("sanity.empty", Severity.BLOCKER, a2, "the file is empty", owner="dit", impacts=("editorial",))
f3 = Finding("naming.template", Severity.WARNING, a3, "the name does not match", owner="vfx", impacts=("editorial",))
store.commit_check(a1, Facts(kind="media"), [f1], route, batch=store.next_batch())
store.commit_check(a2, Facts(kind="empty"), [f2], route, batch=store.next_batch())
store.commit_check(a3, Facts(kind="media").with_derived({"fields": {"show": "AGM", "shot": "010", "version": "002"}}),
                   [f3], route, batch=store.next_batch())
fid = store.findings(status=("open",))[0].id
store.ack([fid], "dit@example.org")
config = build_config({"roles": {"dit": {"notify": ["json://127.0.0.1:9/x"]}, "editorial": {"notify": []}, "vfx": {"notify": []}}})
sent = []
outbox = Outbox(store, config, lambda m, targets: sent.append(m) or True, clock=clock)
outbox.digest(force=True)
outbox.deliver()  # dit's message is sent; editorial's (no targets) and vfx's are sent too; one stays pending:
outbox.enqueue(Message(role="dit", production="", kind="admin", subject="pending", text="still to send"))
store.save_hash("/mnt/raid/A002R2EC/A002C003_250101_R2EC.mov", "xxh128", 1000, 5, "0" * 32)
store.audit("started", version="0.1.0")
store.close()
con = sqlite3.connect(db)
print("-- A state database written by reelwatch 0.1.0 (schema 2): tests/test_migrations.py")
for line in con.iterdump():
    print(line)
