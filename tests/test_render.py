"""Rendering: messages a busy person can act on, safe in every channel.

The content tests assert the useful parts (what, expected, who and why, fix, where, ids);
the hostile-name tests assert the dangerous forms are gone from each channel while the name
stays recognisable. The apprise tests send the output through apprise's own Slack plugin to a
real HTTP receiver on 127.0.0.1 and inspect what Slack would have received.
"""

from __future__ import annotations

import html
import json
import re
import threading
import unicodedata
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest

from reelwatch.core.model import Message, Notice
from reelwatch.notify.render import group_of, render, render_test
from reelwatch.notify.channels import channel_format, visible

PROD = "Harbour Lights"


def finding(fid: int, relpath: str, *, rule: str = "spec.frame_rate", severity: str = "error",
            message: str = "frame rate is 25 fps", volume: str = "ingest", owner: str | None = "dit",
            details: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    data = {
        "id": fid, "rule": rule, "severity": severity, "path": f"/mnt/{volume}/{relpath}", "volume": volume,
        "relpath": relpath, "message": message,
        "expected": "23.976 fps (24000/1001), the production's base rate", "owner": owner,
        "impacts": ["editorial", "sound"], "impact": "editorial will see sync drift against the 23.976 fps sound",
        "fix": "re-render from the camera originals at 23.976 fps", "plugin": "spec", "details": details or {},
    }
    data.update(extra)
    return data


def digest(*notices: tuple[str, dict[str, Any]], role: str = "dit", production: str = PROD) -> Message:
    return Message(role=role, production=production, notices=tuple(Notice(k, f) for k, f in notices))


def card_a002(n: int, start_id: int = 42) -> list[tuple[str, dict[str, Any]]]:
    return [("new", finding(start_id + i, f"Camera Media/A002R2EC/A002C{i + 1:03d}_141024_R2EC.mov"))
            for i in range(n)]


def outside_code(text: str) -> str:
    """The text with inline code spans removed (where formatting is inert)."""
    return re.sub(r"`[^`\n]*`", "", text)


# -- content -----------------------------------------------------------------------------------

def test_one_card_with_500_bad_clips_is_one_compact_actionable_item() -> None:
    notices = card_a002(498)
    notices.append(("new", finding(900, "Camera Media/A003R2EC/A003C001_141024_R2EC.mov", rule="naming.date",
                                   severity="warning", message="the name has no shoot date")))
    notices.append(("resolved", finding(7, "Camera Media/A002R2EC/A002C006.mov")))
    r = render(digest(*notices))

    assert r.title == "[Harbour Lights] ERROR on ingest: 499 problems, 1 resolved (A002R2EC, A003R2EC)"
    text = r.text
    assert text.count("frame rate is 25 fps") == 1
    assert ("ERROR: frame rate is 25 fps in 498 clips: A002C001_141024_R2EC.mov, A002C002_141024_R2EC.mov, "
            "A002C003_141024_R2EC.mov and 495 more") in text
    assert "== Card A002R2EC on ingest: 498 problems ==" in text
    assert "Folder: /mnt/ingest/Camera Media/A002R2EC" in text
    assert "Expected: 23.976 fps (24000/1001)" in text
    assert "Affects editorial, sound: editorial will see sync drift" in text
    assert "Your fix: re-render from the camera originals at 23.976 fps" in text
    assert "Rule spec.frame_rate, findings 42, 43, 44 and 495 more. Ack one with: reelwatch ack 42" in text
    assert "WARNING: the name has no shoot date \u2014 A003C001_141024_R2EC.mov" in text
    assert "Rule naming.date, finding 900. Ack with: reelwatch ack 900" in text
    assert "resolved: A002C006.mov now passes spec.frame_rate (card A002R2EC)" in text
    assert text.index("frame rate is 25 fps") < text.index("no shoot date") < text.index("resolved:")
    assert "499 problems for the DIT on ingest. 499 need your fix. 1 resolved." in text
    assert "Every open finding: reelwatch findings --role dit." in text
    assert len(text) < 2500
    # The same content reaches every format.
    for body in (r.markdown, r.html, r.slack):
        assert "A002C001_141024_R2EC.mov" in body and "reelwatch ack 42" in body and "495 more" in body
    assert "**ERROR**" in r.markdown and "<strong>ERROR</strong>" in r.html and "*ERROR*" in r.slack
    assert "`spec.frame_rate`" in r.markdown and "<code>spec.frame_rate</code>" in r.html


def test_affects_notice_says_it_affects_you_and_names_who_fixes_it() -> None:
    f = finding(12, "Camera Media/A002R2EC/A002C004.mov")
    r = render(digest(("affects", f), role="editorial"))
    assert r.title == "[Harbour Lights] ERROR on ingest: 1 problem affecting you (A002R2EC)"
    assert "Affects you: editorial will see sync drift against the 23.976 fps sound" in r.text
    assert "The DIT is fixing it: re-render from the camera originals at 23.976 fps" in r.text
    assert "Your fix" not in r.text
    assert "1 affects your work; someone else is fixing it." in r.text
    assert "File: /mnt/ingest/Camera Media/A002R2EC/A002C004.mov" in r.text
    assert "The DIT is fixing it." in r.push and "ack: reelwatch ack 12" in r.push


def test_escalated_and_changed_and_resolved_only() -> None:
    esc = render(digest(("escalated", finding(3, "Camera Media/A001/A001C001.mov", severity="blocker")),
                        role="supervisor"))
    assert esc.title.startswith("[Harbour Lights] ESCALATED BLOCKER on ingest: 1 problem (A001)")
    assert "Not acknowledged in time; the DIT owns it." in esc.text
    assert "The DIT is fixing it: re-render" in esc.text
    changed = render(digest(("changed", finding(4, "Camera Media/A001/A001C002.mov", message="frame rate is 30 fps"))))
    assert "ERROR: changed: frame rate is 30 fps" in changed.text
    done = render(digest(*[("resolved", finding(i, f"Camera Media/A002R2EC/A002C00{i}.mov")) for i in range(1, 6)]))
    assert done.title == "[Harbour Lights] Resolved on ingest: 5 problems fixed (A002R2EC)"
    assert ("resolved: 5 clips on card A002R2EC now pass spec.frame_rate: A002C001.mov, A002C002.mov, "
            "A002C003.mov and 2 more") in done.text
    assert "reelwatch findings" not in done.text  # nothing left open
    assert len(done.text) < 400


def test_similar_messages_and_mixed_folders() -> None:
    fs = [("new", finding(i, f"Camera Media/A002R2EC/sub{i}/A002C00{i}.mov", rule="naming.field",
                          message=f"name A002C00{i}.mov has no date")) for i in range(1, 5)]
    r = render(digest(*fs))
    assert "name A002C001.mov has no date in 4 clips" in r.text
    assert "similar" not in r.text  # they say the same thing, only the file name differs
    assert "Camera Media/A002R2EC/sub1/A002C001.mov" in r.text  # paths, as folders differ
    assert "Folder:" not in r.text


def test_a_different_problem_under_the_same_rule_is_shown_not_hidden() -> None:
    plates = [("new", finding(1, "VFX/AGM_010_0010_plate_v001.mov", rule="spec.resolution", volume="delivery",
                              message="picture is 1280x720; profile 'plate' allows 1920x1080")),
              ("new", finding(2, "VFX/AGM_010_0020_plate_v001.mov", rule="spec.resolution", volume="delivery",
                              message="picture is 640x360; profile 'plate' allows 1920x1080")),
              ("new", finding(3, "VFX/AGM_010_0030_plate_v001.mov", rule="spec.resolution", volume="delivery",
                              message="picture is 1280x720; profile 'plate' allows 1920x1080"))]
    r = render(digest(*plates))
    assert "picture is 1280x720; profile 'plate' allows 1920x1080 in 2 clips" in r.text
    assert "picture is 640x360; profile 'plate' allows 1920x1080" in r.text


def test_one_problem_on_several_copies_and_what_else_was_found_in_it() -> None:
    f = finding(1, "Camera Media/A002R2EC/A002C010.mov", rule="sanity.truncated", severity="blocker",
                message="the file is incomplete: MediaInfo reports the file as truncated",
                details={"root_cause": True, "also": [
                    {"rule": "mhl.hash_mismatch", "severity": "blocker", "message": "A002C010.mov does not match"},
                    {"rule": "spec.codec", "severity": "error", "message": "codec is unknown"}]},
                locations=[{"volume": "ingest", "relpath": "Camera Media/A002R2EC/A002C010.mov",
                            "path": "/mnt/ingest/Camera Media/A002R2EC/A002C010.mov"},
                           {"volume": "shuttle", "relpath": "Camera Media/A002R2EC/A002C010.mov",
                            "path": "/mnt/shuttle/Camera Media/A002R2EC/A002C010.mov"}])
    r = render(digest(("new", f)))
    assert "Also on: shuttle: /mnt/shuttle/Camera Media/A002R2EC/A002C010.mov" in r.text
    assert ("Also found in it (the same problem): mhl.hash_mismatch: A002C010.mov does not match; spec.codec: "
            "codec is unknown") in r.text
    assert r.text.count("BLOCKER") == 1


def test_max_items_keeps_the_worst_in_full_and_lists_the_rest() -> None:
    rules = [(f"spec.rule{i}", "blocker" if i == 7 else "warning") for i in range(10)]
    notices = [("new", finding(i, f"Camera Media/A005/A005C00{i}.mov", rule=rule, severity=sev,
                               message=f"problem number {i}")) for i, (rule, sev) in enumerate(rules)]
    r = render(digest(*notices), max_items=2)
    assert r.text.count("Your fix:") == 2
    assert r.text.index("problem number 7") < r.text.index("Your fix:")  # blocker first
    assert "== Also: 8 more problems ==" in r.text
    assert "- WARNING: problem number 9 (1 clip, card A005), rule spec.rule9" in r.text
    assert r.title.startswith("[Harbour Lights] BLOCKER on ingest: 10 problems")
    assert "+9 more problems" in r.push


def test_a_thousand_notice_digest_stays_small() -> None:
    notices = [("new" if i % 3 else "affects",
                finding(i + 1, f"Camera Media/B{i % 60:03d}R4XY/B{i % 60:03d}C{i:04d}_20250101_R4XY.mov",
                        rule=f"spec.rule{i % 7}", severity=("warning", "error", "blocker")[i % 3],
                        message=f"check {i % 7} failed on this clip", volume=("ingest", "shuttle")[i % 2]))
               for i in range(1000)]
    r = render(digest(*notices))
    assert len(r.text.encode()) < 8 * 1024
    assert max(len(r.markdown.encode()), len(r.html.encode()), len(r.slack.encode())) < 16 * 1024
    assert len(r.title) <= 200 and len(r.push) <= 240 and r.push.endswith("+997 more problems")
    assert "1000 problems for the DIT on ingest, shuttle." in r.text
    assert r.text.count("Your fix:") + r.text.count("is fixing it") == 5
    assert re.search(r"And \d+ more problems in \d+ places\.", r.text)
    assert r.title.startswith("[Harbour Lights] BLOCKER on ingest, shuttle: 1000 problems (")
    one_card = render(digest(*card_a002(1000)))
    assert len(one_card.text) < 1500 and "in 1000 clips" in one_card.text


@pytest.mark.parametrize(("relpath", "details", "expected"), [
    ("Camera Media/A002R2EC/A002C006_141024_R2EC.mov", {}, ("ingest", "card", "A002R2EC")),
    ("Day 03/Camera Media/A004/A004C010_20100610_R1JL.mov", {}, ("ingest", "card", "A004")),
    ("RED/A001_0610XY.RDM/A001_C001_0610XY.RDC/A001_C001_0610XY_001.R3D", {}, ("ingest", "card", "A001_0610XY.RDM")),
    ("Sound Media/S001/S001T01.WAV", {}, ("ingest", "sound roll", "S001")),
    ("Audio/SR_012/take1.wav", {}, ("ingest", "sound roll", "SR_012")),
    ("VFX/plates/SH010_plate_v001.1001-1010#.exr", {"fields": {"shot": "SH010"}}, ("ingest", "shot", "SH010")),
    ("anything/clip.mov", {"card": "A009"}, ("ingest", "card", "A009")),
    ("Editorial/exports/reel1.mov", {}, ("ingest", "folder", "Editorial")),
    ("loose.mov", {}, ("ingest", "top", "")),
])
def test_group_of(relpath: str, details: dict[str, Any], expected: tuple[str, str, str]) -> None:
    assert group_of(finding(1, relpath, details=details)) == expected


def test_sound_roll_and_top_level_headings() -> None:
    r = render(digest(("new", finding(1, "Sound Media/S001/S001T01.WAV", rule="sound.rate", message="48.048 kHz")),
                      ("new", finding(2, "loose.mov"))))
    assert "== Sound roll S001 on ingest: 1 problem ==" in r.text
    assert "== Top level of ingest: 1 problem ==" in r.text
    assert r.title.endswith("(S001, top level)") or r.title.endswith("(top level, S001)")


# -- hostile names -----------------------------------------------------------------------------

HOSTILE = [
    "A001<script>alert(1)<\\script>.mov",
    "*bold*_x_<!channel>.mov",
    "name\r\nBcc: victim@example.com.mov",
    "[click](http://evil)",
    "@everyone <@U123> <http://evil|click> &amp; \"q\" 'q'.mov",
    "evil\u202egnp.mov\u2028second\u2029third\x00\x1b[31m\x85\ufeff",
    "tick`code`\\",
    "B" * 300 + ".mov",
]


def _forbidden_chars(text: str, allow_newline: bool) -> list[str]:
    return [c for c in text if (c != "\n" or not allow_newline)
            and unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp", "Cs")]


def hostile_message(name: str) -> Message:
    f = finding(77, f"Camera Media/{name}/{name}", rule="naming.field", message=f"name {name} does not match",
                expected=f"like {name}", impact=f"editorial cannot relink {name}", fix=f"rename {name}")
    f["details"] = {"fields": {"shot": name}}
    return digest(("new", f), ("affects", dict(f, id=78, owner=name)), production=f"HL {name}", role=name)


@pytest.mark.parametrize("name", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_names_are_harmless_in_every_channel(name: str) -> None:
    r = render(hostile_message(name))
    shown = visible(name)
    # Title: one line, no control/format/separator characters, bounded, long names shortened.
    assert "\r" not in r.title and "\n" not in r.title
    assert not _forbidden_chars(r.title, allow_newline=False) and r.title.isprintable()
    assert len(r.title) <= 200
    assert "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB" not in r.title
    for body in (r.text, r.markdown, r.html, r.slack, r.push):
        assert not _forbidden_chars(body, allow_newline=True)
        assert "\nBcc:" not in body
    assert len(r.push) <= 240
    # Plain text: the name is shown as it is, control characters made visible.
    assert shown[:120] in r.text
    if "\r\n" in name:
        assert "name\u240d\u240aBcc: victim@example.com.mov" in r.text
    # HTML: nothing from the name becomes markup or breaks an attribute.
    assert "<script" not in r.html and "<!channel" not in r.html and "<@U123" not in r.html
    assert "<http" not in r.html and '"q"' not in r.html and "'q'" not in r.html
    assert html.escape(shown[:40], quote=True) in r.html
    # Markdown: outside code spans, every special is escaped; no link, image, HTML or mention.
    md = outside_code(r.markdown)
    assert "<" not in md.replace("\\<", "") and "](" not in md.replace("\\]\\(", "")
    assert "*bold*" not in md and "_x_" not in md and "@everyone" not in r.markdown
    assert "@channel" not in r.markdown
    # Slack: no raw angle brackets at all, so no <!channel>, <@U123> or <url|label>.
    assert "<" not in r.slack and ">" not in r.slack
    sl = outside_code(r.slack)
    assert "*bold*" not in sl and "_x_" not in sl and "~" not in sl and "@everyone" not in r.slack
    assert "[click](" not in sl
    # Push: plain and short, mentions defused.
    assert "@everyone" not in r.push


def test_hostile_names_stay_recognisable() -> None:
    r = render(hostile_message("*bold*_x_<!channel>.mov"))
    assert "`*bold*_x_&lt;!channel&gt;.mov`" in r.slack  # verbatim in a code span, entities only
    assert "\u2217bold\u2217\u02cdx\u02cd&lt;!channel&gt;.mov" in r.slack  # prose: look-alikes
    assert "\\*bold\\*\\_x\\_\\<\\!channel\\>\\.mov" in r.markdown
    assert "*bold*_x_&lt;!channel&gt;.mov" in r.html
    r = render(hostile_message("A001<script>alert(1)<\\script>.mov"))
    assert "A001&lt;script&gt;alert(1)&lt;\\script&gt;.mov" in r.html
    r = render(hostile_message("[click](http://evil)"))
    assert "\\[click\\]\\(http://evil\\)" in r.markdown and "\uff3bclick](http://evil)" in r.slack
    r = render(hostile_message("evil\u202egnp.mov"))
    assert "evil\u27e8U+202E\u27e9gnp.mov" in r.text and "evil\u27e8U+202E\u27e9gnp.mov" in r.title
    long = render(hostile_message("B" * 300 + ".mov"))
    assert "\u2026" in long.title and "B" * 40 not in long.title
    assert f"name {'B' * 300}.mov does not match" in long.text  # the body keeps a long name whole
    huge = render(hostile_message("C" * 5000 + ".mov"))
    assert len(huge.text) < 8000 and "C" * 600 not in huge.text and ".mov" in huge.text


def test_hostile_production_and_role_names_cannot_forge_headers() -> None:
    msg = digest(("new", finding(1, "Camera Media/A001/A001C001.mov")),
                 production="Show\r\nBcc: victim@example.com\u2028@channel", role="x\nTo: y")
    r = render(msg)
    assert r.title.startswith("[Show\u240d\u240aBcc: victim@example.com\u27e8U+2028\u27e9\uff20channel]")
    assert r.title.isprintable()


def test_odd_findings_never_crash() -> None:
    msg = Message(role="dit", production="", notices=(
        Notice("new", {}), Notice("weird", {"severity": "bogus", "impacts": "editorial", "id": "abc"}),
        Notice("affects", {"rule": None, "relpath": None, "details": "not a dict", "owner": None}),
        Notice("resolved", {"path": "/x/y.mov"})))
    r = render(msg)
    assert r.title.startswith("[reelwatch] INFO on no volume: 3 problems, 1 resolved")
    assert "Nobody is assigned to fix it" in r.text
    assert "Affects editorial" in r.text  # a lone string of impacts is one role, not letters


# -- plain messages ----------------------------------------------------------------------------

def test_render_test_message() -> None:
    msg = render_test("dit", PROD)
    assert (msg.kind, msg.role, msg.production) == ("test", "dit", PROD)
    r = render(msg)
    assert r.title == "[Harbour Lights] Test message for the DIT"
    assert "If you can read this, this channel works" in r.text and "Nothing needs doing." in r.text
    assert "Role: the DIT. Production: Harbour Lights." in r.text
    assert r.push.startswith("Test message for the DIT: This is a test") and len(r.push) <= 240
    assert "<h3>Test message for the DIT</h3>" in r.html


def test_admin_message_hides_urls_and_is_labelled() -> None:
    msg = Message(role="admin", production=PROD, kind="admin", subject="Undeliverable message for editorial",
                  text="Tried slack://T0000/B0000/XXXXSECRETXXXX and mailtos://user:pw@smtp.example.com 8 times.\n"
                       "Check with: reelwatch notify test editorial")
    r = render(msg)
    assert r.title == "[Harbour Lights] reelwatch admin: Undeliverable message for editorial"
    for body in (r.title, r.text, r.markdown, r.html, r.slack, r.push):
        assert "SECRET" not in body and "user:pw" not in body
    assert "slack://(hidden)" in r.text and "mailtos://(hidden)" in r.text
    assert "Check with: reelwatch notify test editorial" in r.text


def test_positive_message() -> None:
    msg = Message(role="dit", production=PROD, kind="positive", subject="A002R2EC is safe to format",
                  text="All 498 clips on card A002R2EC were verified on ingest and shuttle.")
    r = render(msg)
    assert r.title == "[Harbour Lights] A002R2EC is safe to format"
    assert "All 498 clips on card A002R2EC were verified" in r.text
    assert r.push == "A002R2EC is safe to format: All 498 clips on card A002R2EC were verified on ingest and shuttle."


# -- channel formats ---------------------------------------------------------------------------

@pytest.mark.parametrize(("url", "fmt"), [
    ("mailto://user:pw@smtp.example.com?to=dit@example.com", "html"),
    ("MAILTOS://user:pw@smtp.example.com", "html"),
    ("slack://T000/B000/XXXX/#dailies", "slack"),
    ("https://hooks.slack.com/services/T000/B000/XXXX", "slack"),
    ("json://127.0.0.1:8080/hook", "text"),
    ("form://example.com", "text"),
    ("xml://example.com", "text"),
    ("ntfy://ntfy.sh/reelwatch-dit", "push"),
    ("pover://user@token", "push"),
    ("gotify://host/token", "push"),
    ("pbul://token", "push"),
    ("matrix://user:pw@matrix.example.com/#room", "markdown"),
    ("discord://id/token", "markdown"),
    ("https://discord.com/api/webhooks/1/abc", "markdown"),
    ("tgram://bot/chat", "markdown"),
    ("/etc/reelwatch/apprise.yml", "text"),
    ("no scheme at all", "text"),
    ("weird://[::1", "text"),
    ("https://[::1", "text"),
])
def test_channel_format(url: str, fmt: str) -> None:
    assert channel_format(url) == fmt


# -- through apprise's own Slack plugin to a real receiver -------------------------------------

class _Receiver(BaseHTTPRequestHandler):
    bodies: list[bytes] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server API
        self.bodies.append(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture()
def slack_receiver(monkeypatch: pytest.MonkeyPatch):
    apprise = pytest.importorskip("apprise")
    from apprise.plugins.slack import NotifySlack

    handler = type("Handler", (_Receiver,), {"bodies": []})
    server = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    monkeypatch.setattr(NotifySlack, "webhook_url", f"http://127.0.0.1:{server.server_port}/services")
    try:
        yield apprise, handler.bodies
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.mark.parametrize("variant", ["markdown", "slack"])
def test_slack_via_apprise_gets_no_mention_link_or_markup(slack_receiver, variant: str) -> None:
    apprise, bodies = slack_receiver
    name = "*bold*_x_<!channel> <@U123> <http://evil|click> [click](http://evil) @here.mov"
    r = render(hostile_message(name))
    obj = apprise.Apprise()
    assert obj.add("slack://T000A/B000B/abcdefghijklmnopqrstuvwx")
    assert obj.notify(title=r.title, body=getattr(r, variant), body_format=apprise.NotifyFormat.MARKDOWN)
    payload = json.loads(bodies[-1])
    sent = json.dumps(payload, ensure_ascii=False)
    text = payload["attachments"][0]["text"]
    for bad in ("<!channel", "<@U123", "<http://evil", "|click>", "<!here", "@here"):
        assert bad not in sent
    assert "bold" in text and "channel" in text and "reelwatch ack 77" in text
