"""A fleet judges a card by every copy it knows: real daemons in separate processes, one real
PostgreSQL, each node with its own volumes. Card A002R2EC offloaded to two drives on a cart and
copied again to the lab's NAS is one card with three copies; "safe to format" is said once for the
fleet, taken back once when a copy on another machine stops holding, and never rests on a copy
whose node is not running. Two nodes finding problems for one role within one digest window give
that role one digest."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest

from conftest import reelwatch, wait_until, write_config
from pgserver import PASSWORD, sqlite_case
from reelwatch.demo import mediagen
from reelwatch.integrity.mhl.create import create_generation
from reelwatch.state.store import Store

CARD = "A002R2EC"
CLIP = "Clips/A002C006_141024_R2EC.mov"
FOLDER = "Camera Media"


def sealed_card(tmp_path: Path) -> Path:
    """A camera card of real (tiny) clips, sealed with an ASC MHL history at offload."""
    src = tmp_path / "camera" / CARD
    for n in (6, 7):
        path = src / f"Clips/A002C00{n}_141024_R2EC.mov"
        path.parent.mkdir(parents=True, exist_ok=True)
        mediagen.make_clip(path, width=160, height=90, frames=2, audio_channels=0)
    (src / "Sidecar.txt").write_text("camera sidecar\n")
    create_generation(src)
    return src


def fleet_set(cart: str = "cart-a", lab: str = "lab") -> str:
    """The same mirror set on every node: each copy names the node whose volume it is."""
    return ('[[rules.mirrors.sets]]\nname = "offload"\n'
            f'copies = [{{volume = "raid_a", folder = "{FOLDER}", node = "{cart}"}}, '
            f'{{volume = "shuttle", folder = "{FOLDER}", node = "{cart}"}}, '
            f'{{volume = "lab_nas", folder = "{FOLDER}", node = "{lab}"}}]\n')


def node_config(tmp_path: Path, name: str, url: str, inbox, volumes: dict[str, str], *, digest: float = 1.0,
                extra: str = "") -> Path:
    folder = tmp_path / name
    folder.mkdir()
    config = write_config(folder, inbox, volumes=volumes, digest=digest, settle=0.5, extra=extra)
    text = "".join(line for line in config.read_text().splitlines(keepends=True) if not line.startswith("url = "))
    text = text.replace(f'path = "{folder / "state.db"}"\n',
                        f'path = "{folder / "state.db"}"\nnode = "{name}"\nurl = "{url}"\n', 1)
    config.write_text(text)
    return config


@pytest.fixture
def state(pg_url):
    store = Store(pg_url, password=PASSWORD)
    yield store
    store.close()


def mirror_rules(store: Store) -> set[str]:
    return {r[0] for r in store.query("SELECT rule FROM findings WHERE status IN ('open','acked') "
                                      "AND rule LIKE 'mirror.%'")}


def titled(inbox, role: str, words: str) -> list:
    return [m for m in list(inbox.received) if m.role == role and words in m.body["title"]]


def test_a_card_on_a_cart_and_the_lab_is_one_card_with_three_copies(tmp_path, pg_url, inbox, daemon, state):
    src = sealed_card(tmp_path)
    cart = daemon(node_config(tmp_path, "cart-a", pg_url, inbox, {"raid_a": "dit", "shuttle": "dit"},
                              extra=fleet_set()))
    lab = daemon(node_config(tmp_path, "lab", pg_url, inbox, {"lab_nas": "dit"}, extra=fleet_set()))
    cart.wait_ready()
    lab.wait_ready()
    for where in ("cart-a/raid_a", "cart-a/shuttle", "lab/lab_nas"):
        shutil.copytree(src, tmp_path / where / FOLDER / CARD)
    out = lambda: cart.output()[-3000:] + lab.output()[-3000:]  # noqa: E731
    assert wait_until(lambda: mirror_rules(state) == {"mirror.safe_to_format"}, 60), (mirror_rules(state), out())
    [good] = state.query("SELECT data FROM findings WHERE status='open' AND rule='mirror.safe_to_format'")
    message = json.loads(good[0])["message"]
    assert "on raid_a, shuttle and lab_nas" in message, message  # one card, three copies
    assert wait_until(lambda: titled(inbox, "dit", "is safe to format"), 30), out()
    time.sleep(4)  # a second node announcing it too would have done so by now
    assert len(titled(inbox, "dit", "is safe to format")) == 1, [m.body["title"] for m in inbox.received]

    # a clip deleted on the lab's copy, on the other machine: taken back loudly, once, for the fleet
    (tmp_path / "lab/lab_nas" / FOLDER / CARD / CLIP).unlink()
    assert wait_until(lambda: "mirror.safe_to_format" not in mirror_rules(state), 60), out()
    assert mirror_rules(state) & {"mirror.incomplete", "mirror.mismatch"}, mirror_rules(state)
    assert wait_until(lambda: titled(inbox, "dit", "NO LONGER safe to format"), 30), out()
    time.sleep(4)
    assert len(titled(inbox, "dit", "NO LONGER safe to format")) == 1, [m.body["title"] for m in inbox.received]
    assert PASSWORD not in cart.output() + lab.output()


def test_a_copy_on_a_node_that_is_not_running_does_not_count(tmp_path, pg_url, inbox, daemon, state):
    """The lab verified its copy, then stopped. The cart's two copies then agree with what the lab last
    recorded, but nobody can vouch for the lab's copy now: not safe to format, saying why."""
    src = sealed_card(tmp_path)
    lab = daemon(node_config(tmp_path, "lab", pg_url, inbox, {"lab_nas": "dit"}, extra=fleet_set()))
    lab.wait_ready()
    shutil.copytree(src, tmp_path / "lab/lab_nas" / FOLDER / CARD)
    assert wait_until(lambda: state.query("SELECT COUNT(*) FROM findings WHERE rule='mirror.missing_copy'")[0][0],
                      60), lab.output()[-3000:]
    assert lab.stop() == 0
    cart = daemon(node_config(tmp_path, "cart-a", pg_url, inbox, {"raid_a": "dit", "shuttle": "dit"},
                              extra=fleet_set()))
    cart.wait_ready()
    for where in ("cart-a/raid_a", "cart-a/shuttle"):
        shutil.copytree(src, tmp_path / where / FOLDER / CARD)

    def judged() -> list[str]:
        rows = state.query("SELECT data FROM findings WHERE status='open' AND rule LIKE 'mirror.%'")
        return [json.loads(r[0])["message"] for r in rows]
    assert wait_until(lambda: any("cannot be compared with lab_nas" in m for m in judged()), 60), \
        (judged(), cart.output()[-3000:])
    time.sleep(3)
    assert "mirror.safe_to_format" not in mirror_rules(state), judged()
    assert any("lab was stopped" in m for m in judged()), judged()
    # the lab runs again, with nothing changed on any disk: its word counts again, and the card is safe
    lab = daemon(tmp_path / "lab" / "production.toml")
    lab.wait_ready()
    assert wait_until(lambda: mirror_rules(state) == {"mirror.safe_to_format"}, 60), (judged(), lab.output()[-3000:])


def test_a_verdict_resting_on_a_node_that_stops_is_taken_back_once(tmp_path, pg_url, inbox, daemon, state):
    src = sealed_card(tmp_path)
    cart = daemon(node_config(tmp_path, "cart-a", pg_url, inbox, {"raid_a": "dit", "shuttle": "dit"},
                              extra=fleet_set()))
    lab = daemon(node_config(tmp_path, "lab", pg_url, inbox, {"lab_nas": "dit"}, extra=fleet_set()))
    cart.wait_ready()
    lab.wait_ready()
    shutil.copytree(src, tmp_path / "lab/lab_nas" / FOLDER / CARD)  # the lab first, then the cart, at once
    for where in ("cart-a/raid_a", "cart-a/shuttle"):
        shutil.copytree(src, tmp_path / where / FOLDER / CARD)
    assert wait_until(lambda: titled(inbox, "dit", "is safe to format"), 60), cart.output()[-3000:]
    assert lab.stop() == 0  # nobody can vouch for the lab's copy now: the DIT hears it at once
    assert wait_until(lambda: titled(inbox, "dit", "NO LONGER safe to format"), 30), cart.output()[-3000:]
    [gone] = titled(inbox, "dit", "NO LONGER safe to format")
    assert "lab was stopped" in gone.body["message"], gone.body["message"]
    time.sleep(4)
    assert len(titled(inbox, "dit", "NO LONGER safe to format")) == 1


@sqlite_case("a copy on another node is refused without [state] url")
def test_a_copy_on_another_node_needs_the_shared_state(tmp_path, inbox):
    config = write_config(tmp_path, inbox, volumes={"raid_a": "dit", "shuttle": "dit"}, extra=fleet_set())
    text = config.read_text()
    config.write_text(text.replace('[state]\n', '[state]\nnode = "cart-a"\n', 1))
    done = reelwatch("config", "validate", str(config))
    assert done.returncode == 2
    assert "lab" in done.stdout + done.stderr and "[state] url" in done.stdout + done.stderr, done.stdout + done.stderr


def test_two_nodes_with_problems_for_one_role_in_one_window_give_it_one_digest(tmp_path, pg_url, inbox, daemon,
                                                                               state):
    a = daemon(node_config(tmp_path, "cart-a", pg_url, inbox, {"ingest_a": "dit"}, digest=6))
    b = daemon(node_config(tmp_path, "cart-b", pg_url, inbox, {"ingest_b": "dit"}, digest=6))
    a.wait_ready()
    b.wait_ready()
    (tmp_path / "cart-a" / "ingest_a" / "A001C001_cart_a.mov").write_bytes(b"")
    (tmp_path / "cart-b" / "ingest_b" / "B001C001_cart_b.mov").write_bytes(b"")

    def settled() -> bool:
        findings = state.query("SELECT COUNT(*) FROM findings")[0][0]
        unsent = state.query("SELECT COUNT(*) FROM notices WHERE message_id IS NULL")[0][0]
        pending = state.query("SELECT COUNT(*) FROM outbox WHERE state!='sent'")[0][0]
        return findings >= 2 and unsent == 0 and pending == 0
    assert wait_until(settled, 60), a.output()[-3000:] + b.output()[-3000:]
    time.sleep(2)
    told = [m for m in inbox.received if m.role == "dit"]
    text = [json.dumps(m.body) for m in told]
    assert len(told) == 1, text  # one digest for the fleet, not one per node
    assert "A001C001_cart_a.mov" in text[0] and "B001C001_cart_b.mov" in text[0], text
    assert {r[0] for r in state.query("SELECT volume FROM findings")} == {"ingest_a", "ingest_b"}


def test_whose_word_counts_for_a_copy_on_another_node(state):
    """What another node published counts only while that node runs and is heard from, and only when the
    volume's name is that node's alone (two carts that both call a drive "raid" would mix their records)."""
    from reelwatch.state import copies, fleet
    now = time.time()
    card = f"{FOLDER}/{CARD}"
    assert "has not joined the fleet" in copies.read(state, "lab", "lab_nas", card)["why"]
    fleet.register(state, "lab", "lab-host", ["lab_nas"], "1", 1, now)
    assert copies.read(state, "lab", "lab_nas", card) == {"record": None}  # expected, not seen there yet
    copies.publish(state, "lab", "lab_nas", card, {"present": True, "set": "offload", "unit": CARD})
    assert copies.read(state, "lab", "lab_nas", card)["record"]["present"] is True
    updated = state.query("SELECT updated FROM fleet_copies")[0][0]
    copies.publish(state, "lab", "lab_nas", card, {"present": True, "set": "offload", "unit": CARD})
    assert state.query("SELECT updated FROM fleet_copies")[0][0] == updated  # unchanged: not rewritten
    fleet.beat(state, "lab", "ok", "", now - copies.QUIET_AFTER - 5)
    assert "has not been heard from since" in copies.read(state, "lab", "lab_nas", card)["why"]
    fleet.beat(state, "lab", "ok", "", now)
    fleet.leave(state, "lab", now)
    assert "lab was stopped" in copies.read(state, "lab", "lab_nas", card)["why"]
    fleet.register(state, "lab", "lab-host", ["lab_nas", "raid"], "1", 1, now)
    fleet.register(state, "cart-b", "cart-b-host", ["raid"], "1", 2, now)
    why = copies.read(state, "lab", "raid", card)["why"]
    assert "the volume name raid is used by cart-b and lab" in why, why
    assert "does not watch a volume named shuttle" in copies.read(state, "lab", "shuttle", card)["why"]
