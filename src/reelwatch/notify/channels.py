"""Safe text for every channel: untrusted strings made visible, escaped per format.

File names and every string inside a finding are untrusted: a name may hold markup
(``<script>``), chat formatting (``*bold*``), mentions (``<!channel>``, ``@everyone``),
links (``[click](http://evil)``), line breaks that would forge an email header, or
bidi overrides that make ``exe.mov`` look like ``vom.exe``. This module

* makes every control, format, separator and lone-surrogate character *visible*
  (``\\r`` -> ``␍``, U+202E -> ``⟨U+202E⟩``) so that it can neither act nor hide;
* escapes the visible text for one channel: plain text, Markdown, HTML, Slack mrkdwn;
* serialises a tiny document model (headings, paragraphs, list items made of spans)
  built by :mod:`reelwatch.notify.render`, so each channel gets the same content;
* names the places and people a message talks about: the card, roll, shot or folder of a
  file (:func:`group_of`) and a role in words (:func:`role_name`);
* tells which format suits an apprise URL (:func:`channel_format`).

Our own words go through the same escaping as untrusted text; only the structure
(bold, code, lists) is ours.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlsplit

_PICTURES = {0x7F: "\u2421"}  # DEL -> ␡; C0 controls map to U+2400 + code
_MENTION = re.compile(r"@(?=(?:channel|here|everyone|room|all|group)\b)", re.IGNORECASE)
_MD_SPECIALS = frozenset("\\`*_{}[]()<>#+-.!|~&$=")
_SLACK_SWAP = {"*": "\u2217", "~": "\u223c", "`": "\u02cb"}  # ∗ ∼ ˋ: look alike, never format
_WORDISH = re.compile(r"\w")
_LINK_OPEN = re.compile(r"\[(?=[^\]]*\]\()")


def _visible_char(ch: str) -> str:
    code = ord(ch)
    if code < 0x20:
        return chr(0x2400 + code)  # ␀ .. ␟, with ␉ ␊ ␍ for tab, LF, CR
    if code in _PICTURES:
        return _PICTURES[code]
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8 (os.fsdecode surrogateescape)
        return f"\u27e80x{code - 0xDC00:02X}\u27e9"
    return f"\u27e8U+{code:04X}\u27e9"


def visible(value: object) -> str:
    """The text of ``value`` with every invisible or acting character shown as a placeholder.

    Controls (C0, DEL, C1), format characters (bidi overrides and isolates, zero-width
    characters, BOM), line and paragraph separators and lone surrogates never survive.
    The result is a single line whenever the input is.
    """
    text = "" if value is None else str(value)
    if text.isprintable() and text.isascii():
        return text
    out = []
    for ch in text:
        if ch == " " or (ch.isprintable() and unicodedata.category(ch) not in ("Cf", "Zl", "Zp", "Cs")):
            out.append(ch)
        else:
            out.append(_visible_char(ch))
    return "".join(out)


def one_line(value: object) -> str:
    """:func:`visible` text with runs of white space collapsed: safe for a header or title."""
    return " ".join(visible(value).split())


def clip(text: str, limit: int) -> str:
    """Shorten to ``limit`` characters, keeping the start and the end (the extension)."""
    if len(text) <= limit:
        return text
    if limit < 8:
        return text[:max(limit, 0)]
    tail = max(4, limit // 3)
    return f"{text[:limit - tail - 1]}\u2026{text[-tail:]}"


def defuse_mentions(text: str) -> str:
    """``@channel``/``@here``/``@everyone``/``@room``/``@all`` -> fullwidth ``＠``: no group ping."""
    return _MENTION.sub("\uff20", text)


def esc_markdown(text: str) -> str:
    """Backslash-escape every Markdown special (CommonMark and Telegram MarkdownV2)."""
    return defuse_mentions("".join(f"\\{c}" if c in _MD_SPECIALS else c for c in text))


def esc_html(text: str) -> str:
    return html.escape(text, quote=True)


def _slack_entities(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def esc_slack(text: str) -> str:
    """Slack mrkdwn has no escape for formatting: entity-escape ``& < >`` and swap ``* ~ `````
    for look-alikes; ``_`` stays only inside a word (``A001_C001``), where Slack never italicises.

    The ``[`` of a Markdown-link shape (``[click](http://evil)``) becomes ``［``: Slack shows
    brackets literally, but a converter that reads the text as CommonMark (apprise does, for
    ``body_format=markdown``) would otherwise make a disguised link of it.
    """
    text = _LINK_OPEN.sub("\uff3b", text)
    out = []
    for i, c in enumerate(text):
        if c in _SLACK_SWAP:
            out.append(_SLACK_SWAP[c])
        elif c == "_":
            inside = 0 < i < len(text) - 1 and _WORDISH.match(text[i - 1]) and _WORDISH.match(text[i + 1])
            out.append("_" if inside else "\u02cd")  # ˍ
        else:
            out.append(c)
    return defuse_mentions(_slack_entities("".join(out)))


def code_markdown(text: str) -> str:
    """An inline code span: nothing inside is formatting, a link or HTML.

    Backticks inside become a look-alike; a space pads a span that starts or ends with a
    backslash or space (CommonMark strips one each side), so that no converter can read
    the closing backtick as escaped.
    """
    inner = defuse_mentions(text.replace("`", _SLACK_SWAP["`"])) or " "
    if inner[0] in " \\" or inner[-1] in " \\":
        inner = f" {inner} "
    return f"`{inner}`"


def code_slack(text: str) -> str:
    return f"`{defuse_mentions(_slack_entities(text.replace('`', _SLACK_SWAP['`']))) or ' '}`"


# -- the document model -------------------------------------------------------------------

TEXT, BOLD, CODE = "t", "b", "c"


@dataclass(frozen=True, slots=True)
class Span:
    """A run of already-:func:`visible` text; ``style`` is ours: plain, bold or code."""

    text: str
    style: str = TEXT


Line = tuple[Span, ...]


@dataclass(frozen=True, slots=True)
class Block:
    """A heading (``h``), paragraph (``p``) or list item (``li``) with its indented sub-lines."""

    kind: str
    line: Line
    subs: tuple[Line, ...] = field(default=())


def line(*parts: str | Span) -> Line:
    """Build a line; bare strings are plain text (made visible here)."""
    return tuple(p if isinstance(p, Span) else Span(visible(p)) for p in parts if p != "")


def bold(text: object) -> Span:
    return Span(visible(text), BOLD)


def code(text: object) -> Span:
    return Span(visible(text), CODE)


def _spans(spans: Line, fmt: str) -> str:
    out = []
    for s in spans:
        if fmt == "text" or fmt == "push":
            out.append(s.text)
        elif fmt == "markdown":
            out.append(code_markdown(s.text) if s.style == CODE else
                       f"**{esc_markdown(s.text)}**" if s.style == BOLD else esc_markdown(s.text))
        elif fmt == "html":
            out.append(f"<code>{esc_html(s.text)}</code>" if s.style == CODE else
                       f"<strong>{esc_html(s.text)}</strong>" if s.style == BOLD else esc_html(s.text))
        elif fmt == "slack":
            out.append(code_slack(s.text) if s.style == CODE else
                       f"*{esc_slack(s.text)}*" if s.style == BOLD else esc_slack(s.text))
        else:
            raise ValueError(f"unknown format {fmt!r}")
    return "".join(out)


def text_of(spans: Line) -> str:
    return _spans(spans, "text")


def serialise(blocks: Sequence[Block], fmt: str) -> str:
    """Write the document in one format: ``text``, ``markdown``, ``html`` or ``slack``."""
    if fmt == "html":
        return _html(blocks)
    parts: list[str] = []
    prev = ""
    for b in blocks:
        body = _spans(b.line, fmt)
        if b.kind == "li":
            if prev != "li" and parts:
                parts.append("")
            bullet = {"slack": "\u2022 ", "markdown": "- "}.get(fmt, "- ")
            parts.append(bullet + body)
            for sub in b.subs:
                subtext = _spans(sub, fmt)
                parts.append(("    - " if fmt == "markdown" else "    ") + subtext)
        else:
            if parts:
                parts.append("")
            if b.kind == "h":
                body = {"markdown": f"### {body}", "slack": f"*{_spans(b.line, 'slack')}*"}.get(fmt, body)
                if fmt == "text":
                    body = f"== {body} =="
            parts.append(body)
        prev = b.kind
    return "\n".join(parts) + "\n"


def _html(blocks: Sequence[Block]) -> str:
    parts = ['<div style="font-family:sans-serif;font-size:14px;line-height:1.4">']
    in_list = False
    for b in blocks:
        if b.kind == "li" and not in_list:
            parts.append("<ul>")
            in_list = True
        elif b.kind != "li" and in_list:
            parts.append("</ul>")
            in_list = False
        body = _spans(b.line, "html")
        if b.kind == "li":
            subs = "".join(f"<br>\n{_spans(s, 'html')}" for s in b.subs)
            parts.append(f"<li>{body}{subs}</li>")
        elif b.kind == "h":
            parts.append(f"<h3>{body}</h3>")
        else:
            parts.append(f"<p>{body}</p>")
    if in_list:
        parts.append("</ul>")
    parts.append("</div>")
    return "\n".join(parts) + "\n"


# -- the message key ------------------------------------------------------------------------------

_KEY = re.compile(r"rw-[0-9a-f]{12}")


def key_footer(key: str, repeat: bool) -> tuple[list[Block], str]:
    """A message's idempotency key as a last paragraph, and as a push suffix: a receiver (or a
    person) can tell a repeat by it. Nothing for a key that is not one of ours."""
    if not _KEY.fullmatch(str(key or "")):
        return [], ""
    tail = (". This may repeat a message you already have: reelwatch stopped while sending it, "
            "and a repeat carries the same key." if repeat else ".")
    return [Block("p", line("Message key ", code(key), tail))], f"\n[{key}{' repeat?' if repeat else ''}]"


def with_suffix(push: str, suffix: str, limit: int) -> str:
    """``push`` shortened so that ``suffix`` still fits in ``limit`` characters."""
    if not suffix:
        return push
    room = limit - len(suffix)
    return (push if len(push) <= room else push[:room - 1].rstrip() + "\u2026") + suffix


# -- places and people: the words a message uses for them --------------------------------------

ROLE_NAMES = {"dit": "the DIT", "editorial": "editorial", "vfx": "VFX", "sound": "sound", "colour": "colour",
              "supervisor": "the supervisor", "admin": "the reelwatch admin"}
_ROLL = re.compile(r"^[A-Z]\d{3,4}(?:R[0-9A-Z]{3,4})?$|^[A-Z]\d{3}_[0-9A-Z]{6}\.RDM$|^[A-Z]\d{3}_\d{6,8}$")
_SOUND_ROLL = re.compile(r"^(?:S|SR|SND|SOUND)[_-]?\d{2,4}$", re.IGNORECASE)
_GROUP_KEYS = (("card", "card"), ("roll", "roll"), ("reel", "reel"), ("shot", "shot"), ("delivery", "delivery"))
_VIDEO = {".mov", ".mxf", ".mp4", ".m4v", ".r3d", ".braw", ".ari", ".arx", ".crm", ".avi", ".mts", ".mkv"}
_AUDIO = {".wav", ".bwf", ".aif", ".aiff", ".flac"}


def role_name(role: object) -> str:
    """``dit`` -> ``the DIT``; an unknown role is shown as written (made safe)."""
    key = str(role or "").strip().lower()
    return ROLE_NAMES.get(key) or clip(one_line(role), 40) or "nobody"


def mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def group_of(finding: Mapping[str, Any]) -> tuple[str, str, str]:
    """``(volume, word, value)``: where a person looks for this file.

    A ``card``/``roll``/``reel``/``shot``/``delivery`` in the finding's details (or in
    ``details["fields"]``) wins; else a camera card or roll folder in the path
    (``A002R2EC``, ``A002``, RED ``A001_0610XY.RDM``; a sound roll such as ``S001`` under a
    sound folder); else the first folder under the volume; ``("vol", "top", "")`` at the top.
    """
    volume = str(finding.get("volume") or "")
    details = mapping(finding.get("details"))
    fields = mapping(details.get("fields"))
    for key, word in _GROUP_KEYS:
        for source in (details, fields):
            value = source.get(key)
            if isinstance(value, str | int) and not isinstance(value, bool) and str(value).strip():
                return volume, word, str(value).strip()
    parts = PurePosixPath(str(finding.get("relpath") or "")).parts[:-1]
    sound = False
    for part in parts:
        low = part.lower()
        if _SOUND_ROLL.match(part) and (sound or not _ROLL.match(part)):
            return volume, "sound roll", part
        if _ROLL.match(part):
            return volume, "sound roll" if sound else "card", part
        sound = sound or "sound" in low or "audio" in low
    return (volume, "folder", parts[0]) if parts else (volume, "top", "")


def noun(findings: Sequence[Mapping[str, Any]]) -> tuple[str, str]:
    """``(clip, clips)``, ``(sound file, sound files)``, ``(sequence, ...)`` or ``(file, files)``."""
    kinds = set()
    for f in findings:
        name = PurePosixPath(str(f.get("relpath") or f.get("path") or "")).name
        suffix = PurePosixPath(name).suffix.lower()
        kinds.add("sequence" if "#" in name or "@" in name else
                  "clip" if suffix in _VIDEO else "sound file" if suffix in _AUDIO else "file")
    word = kinds.pop() if len(kinds) == 1 else "file"
    return word, word + "s"


# -- which format suits a target --------------------------------------------------------------

_SCHEMES: dict[str, frozenset[str]] = {
    "html": frozenset({"mailto", "mailtos", "email", "o365", "azure", "ses", "sendgrid", "mailgun", "sparkpost",
                       "postmark", "resend", "smtp2go", "brevo", "mailersend", "sendpulse", "acs", "groundmail"}),
    "slack": frozenset({"slack", "slacks"}),
    "text": frozenset({"json", "jsons", "form", "forms", "xml", "xmls", "apprise", "apprises", "amqp", "amqps",
                       "mqtt", "mqtts", "syslog", "rsyslog", "http", "https"}),
    "push": frozenset({"ntfy", "ntfys", "pover", "pushover", "gotify", "gotifys", "pbul", "pushbullet", "prowl",
                       "join", "pjet", "pjets", "pushed", "pushy", "spush", "simplepush", "bark", "barks", "psafer",
                       "psafers", "fcm", "gorush", "gorushs", "pushdeer", "pushdeers", "pushme", "wpush", "vapid",
                       "lametric", "lametrics", "windows", "macosx", "dbus", "gnome", "kde", "glib", "qt",
                       "twilio", "sns", "nexmo", "vonage", "d7sms", "clicksend", "msg91", "plivo", "sinch", "46elks",
                       "elks", "bulksms", "bulkvs", "signal", "signals", "smseagle", "smseagles", "httpsms",
                       "pagerduty", "opsgenie", "pushplus", "wxpusher", "chanify", "notica", "noticas"}),
    "markdown": frozenset({"matrix", "matrixs", "discord", "tgram", "telegram", "mmost", "mmosts", "rocket",
                           "rockets", "zulip", "gchat", "wxteams", "webex", "msteams", "workflow", "workflows",
                           "github", "guilded", "cliq", "zcliq", "zohocliq", "twist", "ryver", "flock", "revolt",
                           "reddit", "lark", "feishu", "dingtalk", "kook", "spike", "nctalk", "nctalks"}),
}
_HOSTS = (("hooks.slack.com", "slack"), ("discord.com", "markdown"), ("discordapp.com", "markdown"),
          ("api.telegram.org", "markdown"), ("ntfy.sh", "push"), ("api.pushover.net", "push"),
          ("webhook.office.com", "markdown"), ("chat.googleapis.com", "markdown"))


def channel_format(url: str) -> str:
    """Which rendering suits an apprise target: ``text``, ``markdown``, ``html``, ``slack`` or ``push``.

    Decided from the URL's scheme (and, for ``https://`` webhooks apprise recognises, the
    host). The URL itself is never logged or returned. Anything unknown, including a path to
    an apprise config file, gets plain ``text``.
    """
    try:
        raw = str(url).strip()
        scheme = raw.split("://", 1)[0].lower() if "://" in raw else ""
        if scheme in ("http", "https"):
            host = (urlsplit(raw).hostname or "").lower()
            for suffix, fmt in _HOSTS:
                if host == suffix or host.endswith("." + suffix):
                    return fmt
        for fmt, schemes in _SCHEMES.items():
            if scheme in schemes:
                return fmt
    except (ValueError, TypeError):
        pass
    return "text"
