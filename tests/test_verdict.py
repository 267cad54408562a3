""""Safe to format" is a verdict on the whole card: every copy complete, identical and matching the
card's seal; judged again whenever anything that feeds it changes; said as good news in a message of
its own, and taken back loudly when it stops holding. Real trees, a real state database, the real
pipeline and outbox, the real ``reelwatch rehash`` and the real daemon with inotify."""

from __future__ import annotations

import hashlib
import random
import shutil
import time
from pathlib import Path

import pytest

from conftest import reelwatch, state_exists, write_config
from reelwatch.checking.runtime import load_runtime
from reelwatch.core.config import ConfigError
from reelwatch.integrity.mhl.create import create_generation
from reelwatch.core.model import Asset
from reelwatch.notify.outbox import Outbox
from reelwatch.checking.pipeline import Pipeline, file_asset
from reelwatch.service.rehash import rehash
from reelwatch.notify.render import render
from reelwatch.state.store import Store
from test_mirrors import CARD, CLIPS, Production, card, corrupt_in_place, mirror_toml

CLIP = "Clips/A002C006_141024_R2EC.mov"


def sealed_card(tmp_path: Path, files: dict[str, bytes] = CLIPS) -> Path:
    """The camera card as it comes out of the camera, sealed with an ASC MHL history at offload."""
    src = card(tmp_path / "camera", files, folder=CARD)
    create_generation(src)
    return src


def offload(src: Path, *roots: Path, skip: tuple[str, ...] = ()) -> list[Path]:
    out = []
    for root in roots:
        dest = root / "Camera Media" / CARD
        shutil.copytree(src, dest, ignore=lambda d, names: [n for n in names if n in skip])
        out.append(dest)
    return out


class Sent:
    """The outbox's sender: every message, and what each role would read."""

    def __init__(self) -> None:
        self.messages: list = []

    def __call__(self, message, targets) -> bool:
        self.messages.append(message)
        return True

    def of(self, role: str) -> list:
        return [m for m in self.messages if m.role == role]


def deliver(prod: Production) -> Sent:
    sent = Sent()
    outbox = Outbox(prod.store, prod.config, sent)
    outbox.digest(force=True)
    while outbox.deliver():  # the head of each role's queue per round
        pass
    return sent


def checked_batch(prod: Production, *where: tuple[str, str], gone: tuple[tuple[str, str], ...] = ()) -> list:
    """What the daemon does: every new or changed file is checked, deleted ones are marked gone, and the
    batch rules run over all of them."""
    batch = prod.store.next_batch()
    assets = [a for volume, sub in where for a in prod.assets(volume, sub) if not prod.pm.ignore(volume, a.relpath)]
    for a in assets:
        prod.pipeline.process(a, batch)
    for volume, rel in gone:
        prod.store.mark_gone(volume, rel)
        assets.append(Asset(volume, str(prod.tmp / volume), rel, 0, 0))
    return prod.pipeline.finish_batch(assets, batch)


# -- the observed failures -----------------------------------------------------------------------

def test_the_same_bit_flip_on_both_copies_is_not_safe_to_format(tmp_path):
    prod = Production(tmp_path)
    for dest in offload(sealed_card(tmp_path), prod.raid, prod.shuttle):
        corrupt_in_place(dest / CLIP)  # the same bad read from the card, written to both copies
    [f] = prod.batch(("raid_a", ""), ("shuttle", ""))
    assert (f.rule, f.severity.label) == ("mirror.seal_mismatch", "error")
    assert f.message == (f"Do not format card {CARD}: 1 file does not match the checksum in the card's ASC MHL seal "
                         f"on both copies ({CLIP})")
    assert f.details["seal"] == {"differ": [CLIP]}


def test_the_same_clip_missing_on_both_copies_is_not_safe_to_format(tmp_path):
    prod = Production(tmp_path)
    offload(sealed_card(tmp_path), prod.raid, prod.shuttle, skip=(Path(CLIP).name,))
    [f] = prod.batch(("raid_a", ""), ("shuttle", ""))
    assert f.rule == "mirror.seal_mismatch"
    assert f.message == (f"Do not format card {CARD}: 1 file listed in the card's ASC MHL seal is missing on both "
                         f"copies ({CLIP})")


def test_a_checksum_manifest_is_a_seal_too(tmp_path):
    prod = Production(tmp_path)
    files = {k: v for k, v in CLIPS.items() if k.startswith("Clips/")}
    lines = "".join(f"{hashlib.md5(v).hexdigest()}  {Path(k).name}\n" for k, v in files.items())
    src = card(tmp_path / "camera", {**files, "Clips/checksum.md5": lines.encode()}, folder=CARD)
    for dest in offload(src, prod.raid, prod.shuttle):
        corrupt_in_place(dest / CLIP)
    [f] = prod.batch(("raid_a", ""), ("shuttle", ""))
    assert f.message == (f"Do not format card {CARD}: 1 file does not match the checksum in the card's checksum.md5 "
                         f"on both copies ({CLIP})")


def test_safe_to_format_names_the_seal_it_matched(tmp_path):
    prod = Production(tmp_path)
    offload(sealed_card(tmp_path), prod.raid, prod.shuttle)
    [f] = prod.batch(("raid_a", ""), ("shuttle", ""))
    assert f.rule == "mirror.safe_to_format"
    assert f.message.endswith("match on raid_a and shuttle (xxh128), and match the card's ASC MHL history")
    assert f.details["positive"]["headline"] == f"{CARD} is safe to format"


def test_a_file_not_in_the_seal_is_not_safe(tmp_path):
    prod = Production(tmp_path)
    for dest in offload(sealed_card(tmp_path), prod.raid, prod.shuttle):
        (dest / "Clips" / "stray.mov").write_bytes(b"from somewhere else")
    [f] = prod.batch(("raid_a", ""), ("shuttle", ""))
    assert f.message == (f"Do not format card {CARD}: 1 file is not in the card's ASC MHL seal on both copies, so "
                         "nothing proves it came from the card (Clips/stray.mov)")


def test_a_clip_deleted_from_one_copy_retracts_safe_loudly_and_once(tmp_path):
    prod = Production(tmp_path)
    offload(sealed_card(tmp_path), prod.raid, prod.shuttle)
    assert [f.rule for f in checked_batch(prod, ("raid_a", ""), ("shuttle", "")) if f.rule.startswith("mirror.")] \
        == ["mirror.safe_to_format"]
    first = deliver(prod)
    assert [(m.role, m.kind) for m in first.messages if m.kind != "findings"] == [
        ("dit", "positive"), ("supervisor", "positive")]
    rel = f"Camera Media/{CARD}/{CLIP}"
    (prod.shuttle / rel).unlink()
    checked_batch(prod, gone=(("shuttle", rel),))
    assert not [r for r in prod.open() if r.rule == "mirror.safe_to_format"]
    sent = deliver(prod)
    dit = sent.of("dit")
    assert [m.kind for m in dit] == ["retraction"], [render(m).title for m in dit]  # the reason comes with it
    shown = render(dit[0])
    assert shown.title == f"[Test Production] {CARD} is NO LONGER safe to format"
    assert f"Why: Do not format card {CARD} yet: the copy on shuttle is incomplete." in shown.text
    assert [m.kind for m in sent.of("supervisor")] == ["retraction"]


def test_safe_to_format_is_good_news_in_a_message_of_its_own(tmp_path):
    prod = Production(tmp_path)
    offload(sealed_card(tmp_path), prod.raid, prod.shuttle)
    checked_batch(prod, ("raid_a", ""), ("shuttle", ""))
    sent = deliver(prod)
    [news] = [m for m in sent.of("dit") if m.kind == "positive"]
    shown = render(news)
    assert shown.title == f"[Test Production] {CARD} is safe to format"
    for text in (shown.text, shown.html, shown.push):
        assert "fix" not in text.lower() and "problem" not in text.lower()
    assert "Checked: every copy of card A002R2EC is complete, identical" in shown.text
    assert all(n.finding["rule"] != "mirror.safe_to_format" for m in sent.messages if m.kind == "findings"
               for n in m.notices)


def test_rehash_finding_silent_corruption_retracts_the_verdict(tmp_path):
    prod = Production(tmp_path)
    card(prod.raid, CLIPS)
    card(prod.shuttle, CLIPS)
    checked_batch(prod, ("raid_a", ""), ("shuttle", ""))
    deliver(prod)
    corrupt_in_place(prod.shuttle / "Camera Media" / CARD / CLIP)  # same size and mtime: nobody notices
    out = reelwatch("rehash", "--config", str(prod.config_path), "--sample", "100%")
    assert out.returncode == 1, out.stderr
    assert {r.rule for r in prod.open()} == {"mirror.mismatch"}
    [retraction] = [m for m in deliver(prod).of("dit") if m.kind == "retraction"]
    assert f"1 file does not match between raid_a and shuttle ({CLIP})" in render(retraction).text


def test_the_same_silent_change_on_both_copies_breaks_the_recorded_checksums(tmp_path):
    """No ASC MHL: the seal is the checksum reelwatch recorded when it first read each file."""
    prod = Production(tmp_path)
    card(prod.raid, CLIPS)
    card(prod.shuttle, CLIPS)
    checked_batch(prod, ("raid_a", ""), ("shuttle", ""))
    for root in (prod.raid, prod.shuttle):
        corrupt_in_place(root / "Camera Media" / CARD / CLIP)
    report = rehash(prod.store, prod.config, sample=1.0, router=prod.pipeline.router,
                    rejudge=lambda assets: prod.pipeline.finish_batch(assets, prod.store.next_batch()))
    assert len(report.changed) == 2
    [verdict] = prod.open()
    assert verdict.rule == "mirror.seal_mismatch"
    assert verdict.data["message"] == (f"Do not format card {CARD}: 1 file changed silently since it was checked, as "
                                       f"reelwatch rehash found, on both copies ({CLIP})")


# -- two shuttles, no RAID -------------------------------------------------------------------------

def two_shuttles(tmp_path: Path, drives: int = 2) -> tuple[Path, list[Path]]:
    extra = mirror_toml(f'{{volume = "shuttle", drives = {drives}}}')
    config = write_config(tmp_path, volumes={}, settle=0, extra=extra)
    text = config.read_text().replace(
        "[state]", f'[[volumes]]\nname = "shuttle"\npath = "{tmp_path}/drives/*"\nowner = "dit"\nsettle = 0\n'
                   f'observer = "inotify"\n\n[state]')
    config.write_text(text)
    drives_ = [tmp_path / "drives" / f"SHUTTLE_0{i}" for i in (1, 2)]
    for d in drives_:
        d.mkdir(parents=True)
    return config, drives_


def test_two_shuttles_under_one_mount_root_form_a_mirror_set(tmp_path):
    config, (one, two) = two_shuttles(tmp_path)
    runtime = load_runtime(config, None)
    store = Store(tmp_path / "state.db")  # on disk: rehash, another process, records silent changes there
    pipeline = Pipeline(runtime.pm, runtime.config, store)

    def verdict(*changed: Path) -> list:
        assets = [file_asset(f"shuttle-{d.name}", str(d), f"{CARD}/{CLIP}") for d in changed]
        return [f for f in pipeline.finish_batch([a for a in assets if a], store.next_batch())
                if f.rule.startswith("mirror.")]

    card(one, CLIPS, folder=CARD)
    [f] = verdict(one)
    assert f.message == (f"Card {CARD} is on only 1 of the 2 shuttle drives it must be on (shuttle-SHUTTLE_01): do "
                         "not format it until it is on 2 of them")
    card(two, CLIPS, folder=CARD)
    [f] = verdict(two)
    assert f.rule == "mirror.safe_to_format" and "match on shuttle-SHUTTLE_01 and shuttle-SHUTTLE_02" in f.message
    assert (f.asset.volume, f.asset.relpath) == ("shuttle", f"{CARD}/")
    corrupt_in_place(two / CARD / CLIP)
    store.query("DELETE FROM hashes")  # as if rehash had found it
    [f] = verdict(two)
    assert f.rule == "mirror.mismatch"
    assert [r.rule for r in store.findings()] == ["mirror.mismatch"]  # the safe verdict is resolved
    store.close()


def test_drives_needs_a_mount_root(tmp_path):
    bad = write_config(tmp_path, volumes={"raid_a": "dit", "shuttle": "dit"}, extra=mirror_toml(
        '{volume = "raid_a", drives = 2}'))
    with pytest.raises(ConfigError) as err:
        load_runtime(bad, None)
    assert "rules.mirrors.sets[0].copies[0].drives: 2 drives need a mount root" in str(err.value)


# -- the real daemon ---------------------------------------------------------------------------------

def wait_open(db: Path, test, timeout: float = 30) -> bool:
    """Wait until the open mirror verdicts in the state database pass ``test``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if state_exists(db):
            store = Store(db, readonly=True)
            try:
                if test({r.rule for r in store.findings(status=("open", "acked")) if r.rule.startswith("mirror.")}):
                    return True
            finally:
                store.close()
        time.sleep(0.2)
    return False


def wait_title(inbox, role: str, words: str, timeout: float = 40):
    """The first message for ``role`` that says ``words``, waiting up to ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [m for m in list(inbox.received) if m.role == role and words in m.body["title"] + m.body["message"]]
        if found:
            return found[0]
        time.sleep(0.2)
    return None


@pytest.mark.parametrize("layout", ["raid_and_shuttle", "two_shuttles"])
def test_daemon_retracts_safe_when_a_clip_is_deleted_from_one_copy(tmp_path, inbox, daemon, layout):
    src = sealed_card(tmp_path)
    if layout == "two_shuttles":
        config, roots = two_shuttles(tmp_path)
        text = config.read_text()
        for role in ("dit", "supervisor"):
            text = text.replace(f"json://127.0.0.1:9/{role}", inbox.url(role))
        config.write_text(text)
        cards = [r / CARD for r in roots]
    else:
        config = write_config(tmp_path, inbox, volumes={"raid_a": "dit", "shuttle": "dit"}, settle=0.5,
                              extra=mirror_toml())
        cards = [tmp_path / v / "Camera Media" / CARD for v in ("raid_a", "shuttle")]
    d = daemon(config)
    d.wait_ready()
    for dest in cards:
        shutil.copytree(src, dest)
    assert wait_open(tmp_path / "state.db", lambda rules: "mirror.safe_to_format" in rules), d.output()
    good = wait_title(inbox, "dit", "safe to format")
    assert good, d.output()
    (cards[1] / CLIP).unlink()
    # the observed failure: no new verdict in 75 s of reconciles, "safe to format" left standing
    assert wait_open(tmp_path / "state.db", lambda rules: rules and "mirror.safe_to_format" not in rules), d.output()
    assert good.body["title"] == f"[Test Production] {CARD} is safe to format"  # good news, not "1 problem"
    bad = wait_title(inbox, "dit", "NO LONGER")
    assert bad and bad.body["title"] == f"[Test Production] {CARD} is NO LONGER safe to format", d.output()
    assert "Why: Do not format card A002R2EC" in bad.body["message"]
    assert wait_title(inbox, "supervisor", "NO LONGER")
    assert d.stop() == 0
    store = Store(tmp_path / "state.db", readonly=True)
    assert not [r for r in store.findings() if r.rule == "mirror.safe_to_format"]
    store.close()


def test_a_seal_that_arrives_while_the_daemon_is_stopped_is_verified_at_start(tmp_path, inbox, daemon):
    """A history's events can be missed (written while stopped, or lost in an inotify overflow): the rescan
    that follows looks for histories that are not the ones last verified."""
    config = write_config(tmp_path, inbox, volumes={"raid_a": "dit", "shuttle": "dit"}, settle=0.3,
                          extra=mirror_toml())
    cards = [tmp_path / v / "Camera Media" / CARD for v in ("raid_a", "shuttle")]
    d = daemon(config)
    d.wait_ready()
    for dest in cards:
        card(dest.parent.parent, CLIPS)
    assert wait_open(tmp_path / "state.db", lambda rules: rules == {"mirror.safe_to_format"}), d.output()
    assert d.stop() == 0
    # the card's seal, from the card itself: one clip on it is not what both copies hold
    src = sealed_card(tmp_path, {**CLIPS, CLIP: b"the real take" * 100})
    for dest in cards:
        shutil.copytree(src / "ascmhl", dest / "ascmhl")
    d2 = daemon(config)
    d2.wait_ready()
    assert wait_open(tmp_path / "state.db", lambda rules: "mirror.seal_mismatch" in rules
                     and "mirror.safe_to_format" not in rules), d2.output()
    assert d2.stop() == 0


# -- the property: never "safe" on a card that differs from its seal or between copies ---------------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

FILES = {"Clips/A002C001_141024_R2EC.xml": b"<clip n='1'/>" * 40, "Clips/A002C002_141024_R2EC.xml": b"<clip/>" * 90,
         "Sidecar.txt": b"camera sidecar\n"}
NAMES = sorted(FILES)
EVENTS = st.tuples(st.sampled_from(["copy", "flip", "silent_flip", "delete", "rename", "rehash"]),
                   st.integers(0, 2), st.integers(0, len(NAMES) - 1))


class Cart:
    """N copies of one sealed card, changed the way a day on set changes them, checked the way the daemon
    checks: new and changed files are checked, deleted ones marked gone, the batch rules run, and
    ``reelwatch rehash`` re-reads everything and re-judges what changed silently."""

    def __init__(self, base: Path, copies: int) -> None:
        self.volumes = ["raid_a", "shuttle", "lto"][:copies]
        spec = ", ".join(f'{{volume = "{v}", folder = "Camera Media"}}' for v in self.volumes)
        self.prod = Production(base, extra=mirror_toml(spec), volumes={v: "dit" for v in self.volumes})
        self.src = sealed_card(base, FILES)
        self.cards = offload(self.src, *(base / v for v in self.volumes))
        self.hidden: set[tuple[int, str]] = set()
        self.tick = 1_700_000_000
        checked_batch(self.prod, *((v, "") for v in self.volumes))

    def rel(self, name: str) -> str:
        return f"Camera Media/{CARD}/{name}"

    def check(self, i: int, *names: str, gone: tuple[str, ...] = ()) -> None:
        batch = self.prod.store.next_batch()
        assets = [a for n in names if (a := file_asset(self.volumes[i], str(self.prod.tmp / self.volumes[i]),
                                                        self.rel(n))) is not None]
        for a in assets:
            self.prod.pipeline.process(a, batch)
        for n in gone:
            self.prod.store.mark_gone(self.volumes[i], self.rel(n))
            assets.append(Asset(self.volumes[i], str(self.prod.tmp / self.volumes[i]), self.rel(n), 0, 0))
        self.prod.pipeline.finish_batch(assets, batch)

    def write(self, path: Path, data: bytes, *, keep_mtime: bool = False) -> None:
        st_ = path.stat() if keep_mtime else None
        path.write_bytes(data)
        self.tick += 7
        ns = st_.st_mtime_ns if st_ else self.tick * 1_000_000_000
        import os
        os.utime(path, ns=(ns, ns))

    def apply(self, kind: str, i: int, j: int) -> None:
        i %= len(self.volumes)
        name, path = NAMES[j], self.cards[i % len(self.cards)] / NAMES[j]
        if kind == "rehash":
            rehash(self.prod.store, self.prod.config, sample=1.0, router=self.prod.pipeline.router,
                   rejudge=lambda assets: self.prod.pipeline.finish_batch(assets, self.prod.store.next_batch()))
            self.hidden.clear()
            return
        if kind == "copy":
            path.parent.mkdir(parents=True, exist_ok=True)
            self.write(path, FILES[name])
            self.hidden.discard((i, name))
            self.check(i, name)
        elif not path.exists():
            return
        elif kind == "flip":
            self.write(path, bytes([path.read_bytes()[0] ^ 1]) + path.read_bytes()[1:])
            self.hidden.discard((i, name))
            self.check(i, name)
        elif kind == "silent_flip":
            corrupt_in_place(path)
            self.hidden.add((i, name))
        elif kind == "delete":
            path.unlink()
            self.hidden.discard((i, name))
            self.check(i, gone=(name,))
        elif kind == "rename":
            path.rename(path.with_name(path.name + ".moved"))
            self.hidden.discard((i, name))
            self.check(i, name + ".moved", gone=(name,))

    def truth(self) -> bool:
        """Every copy holds exactly the card's files, byte for byte."""
        for top in self.cards:
            found = {p.relative_to(top).as_posix(): p.read_bytes() for p in top.rglob("*")
                     if p.is_file() and "ascmhl" not in p.relative_to(top).parts}
            if found != FILES:
                return False
        return True

    def verdicts(self) -> set[str]:
        return {r.rule for r in self.prod.store.findings(status=("open", "acked")) if r.rule.startswith("mirror.")}

    def silent_open(self) -> bool:
        return any(r.rule == "integrity.hash_changed" for r in self.prod.store.findings(status=("open", "acked")))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                               HealthCheck.too_slow])
@given(copies=st.integers(2, 3), events=st.lists(EVENTS, max_size=8), seed=st.integers(0, 2**16))
def test_no_safe_verdict_stands_on_a_card_that_differs_from_its_seal_or_between_copies(copies, events, seed):
    import tempfile
    random.seed(seed)
    with tempfile.TemporaryDirectory(prefix="rw-cart-") as tmp:
        cart = Cart(Path(tmp), copies)
        assert cart.verdicts() == {"mirror.safe_to_format"}
        for step, (kind, i, j) in enumerate(events):
            cart.apply(kind, i, j)
            if cart.hidden:
                continue  # a silent change nobody can see until rehash reads it again
            safe = "mirror.safe_to_format" in cart.verdicts()
            assert not safe or cart.truth(), f"safe to format stands after {events[:step + 1]}"
            if cart.truth() and not cart.silent_open():
                assert safe, f"not safe to format after {events[:step + 1]}, though every copy is right"
        cart.prod.store.close()
