"""Turn a :class:`~reelwatch.core.model.Message` into words a busy person can act on.

One message becomes one :class:`Rendered`: a single-line title (an email Subject), and the
same content as plain text, Markdown, HTML, Slack mrkdwn and a push-sized summary.

A digest is grouped the way people think about media: by card or camera roll, sound roll,
shot or folder (:func:`group_of`), then by rule, so 500 bad clips from one card become one
item: what was found, what was expected, who is affected and why, the concrete fix, where,
and the ids to acknowledge it. The size is bounded however many notices come in.

Every string from a finding is untrusted and passes through
:mod:`reelwatch.notify.channels` before it reaches any format.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from ..core.model import Message, Severity
from .channels import (
    Block, Line, Span, bold, channel_format, clip, code, defuse_mentions, group_of, key_footer, line, mapping, noun,
    one_line, role_name, serialise, text_of, visible, with_suffix,
)
from .sublines import NAME_MAX, PATH_MAX, PROSE_MAX, ack_line, also_found, other_copies, finding_ids, in_the_cut, prose

__all__ = ["Rendered", "channel_format", "group_of", "render", "render_test"]

TITLE_MAX = 200
PUSH_MAX = 240
BODY_BUDGET = 6000
"""Plain-text characters spent on detailed items before the rest become one-liners."""
OVERFLOW_LINES = 8
KIND_ORDER = {"escalated": 0, "new": 1, "changed": 2, "affects": 3}
_URL = re.compile(r"\b([a-z][a-z0-9+.-]{1,20})://\S+", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Rendered:
    """One message in every format a channel may need."""

    title: str
    """Single line, no control characters, at most 200 characters: production, severity, volumes, counts."""
    text: str
    """Plain text (plain email, ``json://``, generic)."""
    markdown: str
    """Markdown, every untrusted string escaped or in a code span."""
    html: str
    """HTML for email, every untrusted string escaped."""
    slack: str
    """Slack mrkdwn: ``& < >`` as entities, formatting characters and mentions neutralised."""
    push: str
    """At most 240 characters, for ntfy, Pushover and the like."""


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _severity(f: Mapping[str, Any]) -> Severity:
    try:
        return Severity.parse(f.get("severity", "info"))
    except (ValueError, TypeError, AttributeError):
        return Severity.INFO


def _group_label(group: tuple[str, str, str]) -> str:
    return "top level" if group[1] == "top" else f"{group[1]} {clip(visible(group[2]), NAME_MAX)}"


def _plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


@dataclass(slots=True)
class _Item:
    """One rule on one group, for one kind of notice."""

    group: tuple[str, str, str]
    kind: str
    rule: str
    findings: list[Mapping[str, Any]]

    @property
    def severity(self) -> Severity:
        return max((_severity(f) for f in self.findings), default=Severity.INFO)

    @property
    def order(self) -> tuple[Any, ...]:
        return (KIND_ORDER.get(self.kind, 9), -self.severity, -len(self.findings), self.group, self.rule)


def _said(f: Mapping[str, Any]) -> str:
    """What a finding says, its own file name left out: findings that say the same are one item."""
    name = _name(f)
    return str(f.get("message") or "").replace(name, "\0") if name != "(no name)" else str(f.get("message") or "")


def _items(message: Message) -> tuple[list[_Item], list[_Item]]:
    """Problems and resolved notices, bucketed by group, kind, rule and (problems) what they say, best first:
    500 empty clips are one item, a plate with a different problem under the same rule is an item of its own."""
    buckets: dict[tuple[Any, ...], _Item] = {}
    for notice in message.notices:
        f = mapping(notice.finding)
        kind = str(notice.kind) if notice.kind in (*KIND_ORDER, "resolved") else "new"
        group = group_of(f)
        rule = str(f.get("rule") or "unknown rule")
        said = "" if kind == "resolved" else _said(f)
        item = buckets.setdefault((group, kind, rule, said), _Item(group, kind, rule, []))
        item.findings.append(f)
    for item in buckets.values():
        item.findings.sort(key=lambda f: str(f.get("relpath") or f.get("path") or ""))
    problems = sorted((i for i in buckets.values() if i.kind != "resolved"), key=lambda i: i.order)
    resolved = sorted((i for i in buckets.values() if i.kind == "resolved"), key=lambda i: (i.group, i.rule))
    return problems, resolved


def _name(f: Mapping[str, Any]) -> str:
    return PurePosixPath(str(f.get("relpath") or f.get("path") or "")).name or "(no name)"


def _where(item: _Item) -> tuple[list[Span | str], Line | None]:
    """The files of an item as headline spans, and a sub-line naming the folder or the file."""
    fs = item.findings
    if len(fs) == 1:
        path = str(fs[0].get("path") or fs[0].get("relpath") or "")
        if not path:
            return [], None
        name = code(clip(visible(_name(fs[0])), NAME_MAX))
        return [" \u2014 ", name], line("File: ", code(clip(visible(path), PATH_MAX)))
    folders = {str(PurePosixPath(str(f.get("path") or f.get("relpath") or "")).parent) for f in fs}
    common = len(folders) == 1
    spans = [f" in {len(fs)} {noun(fs)[1]}: ", *_names(fs, relative=not common)]
    folder = folders.pop() if common else "."
    sub = line("Folder: ", code(clip(visible(folder), PATH_MAX))) if folder not in ("", ".") else None
    return spans, sub


def _names(fs: Sequence[Mapping[str, Any]], relative: bool = False, shown: int = 3) -> list[Span | str]:
    """``a, b, c and 495 more`` as code spans: file names, or paths in the volume."""
    names = [clip(visible(f.get("relpath") or _name(f)), PATH_MAX) if relative else clip(visible(_name(f)), NAME_MAX)
             for f in fs[:shown]]
    out: list[Span | str] = []
    for i, name in enumerate(names):
        out += [" and " if i and i == len(names) - 1 == len(fs) - 1 else ", " if i else "", code(name)]
    return out + ([f" and {len(fs) - len(names)} more"] if len(fs) > len(names) else [])


def _first(fs: Sequence[Mapping[str, Any]], key: str) -> str:
    return next((prose(f.get(key)) for f in fs if f.get(key)), "")


def _owner(fs: Sequence[Mapping[str, Any]]) -> Any:
    return next((f.get("owner") for f in fs if f.get("owner")), None)


def _detail(item: _Item, role: str) -> Block:
    """The full item: found, where, expected, who is affected and why, the fix, ids to ack."""
    fs = item.findings
    first = fs[0]
    head: list[Span | str] = [bold(("ESCALATED " if item.kind == "escalated" else "") + item.severity.name), ": "]
    if item.kind == "changed":
        head.append("changed: ")
    head.append(prose(first.get("message")) or "a check failed")
    where, where_line = _where(item)
    head += where
    subs: list[Line] = [where_line] if where_line else []
    subs += other_copies(first)
    also = also_found(first)
    if also:
        subs.append(line("Also found in it (the same problem): ", prose("; ".join(also), PROSE_MAX)))
    expected, impact, fix = _first(fs, "expected"), _first(fs, "impact"), _first(fs, "fix")
    owner = _owner(fs)
    raw = next((f.get("impacts") for f in fs if f.get("impacts")), ())
    impacts = [raw] if isinstance(raw, str) else [r for r in raw if isinstance(r, str)] if isinstance(
        raw, list | tuple) else []
    if expected:
        subs.append(line("Expected: ", expected))
    if item.kind == "escalated":
        subs.append(line(f"Not acknowledged in time; {role_name(owner)} owns it."))
    if item.kind == "affects":
        # without the rule's own words for how, say only what is known: you are listed as affected
        subs.append(line("Affects you: ", impact or f"the rule lists {role_name(role)} among the roles this "
                         "affects, without saying how."))
    elif impacts or impact:
        who = ", ".join(role_name(r) for r in impacts[:5])
        subs.append(line(f"Affects {who}: " if who else "Why it matters: ", impact or "downstream work."))
    subs += in_the_cut(first)
    if item.kind == "affects" or (owner and str(owner) != role):
        subs.append(line(f"{_cap(role_name(owner))} is fixing it" if owner else "Nobody is assigned to fix it",
                         *((": ", fix) if fix else (".",))))
    elif fix:
        subs.append(line("Your fix: " if owner else "Fix: ", fix))
    subs.append(ack_line(item.rule, finding_ids(fs)))
    return Block("li", line(*head), tuple(subs))


def _brief(item: _Item) -> Line:
    """One line for an item that did not fit in full."""
    n = len(item.findings)
    what = prose(item.findings[0].get("message"), 120) or visible(item.rule)
    where = f"{_plural(n, *noun(item.findings))}, {_group_label(item.group)}"
    mine = ", affects you" if item.kind == "affects" else ""
    return line(bold(item.severity.name), f": {what} ({where}{mine}), rule ", code(clip(visible(item.rule), NAME_MAX)))


def _resolved_line(item: _Item) -> Line:
    fs = item.findings
    rule = code(clip(visible(item.rule), NAME_MAX))
    if len(fs) == 1:
        return line("resolved: ", code(clip(visible(_name(fs[0])), NAME_MAX)), " now passes ", rule,
                    f" ({_group_label(item.group)})")
    return line(f"resolved: {len(fs)} {noun(fs)[1]} on {_group_label(item.group)} now pass ", rule, ": ",
                *_names(fs))


def _volumes(message: Message, limit: int = 2) -> str:
    vols = [clip(one_line(v), 24) for v in message.volumes]
    if not vols:
        return "no volume"
    return ", ".join(vols[:limit]) + (f" +{len(vols) - limit} more" if len(vols) > limit else "")


def _production(message: Message) -> str:
    return clip(one_line(message.production), 48) or "reelwatch"


def _title(message: Message, problems: list[_Item], resolved: list[_Item]) -> str:
    groups: list[str] = []
    for item in problems or resolved:
        label = "top level" if item.group[1] == "top" else clip(one_line(item.group[2]), 24)
        if label not in groups:
            groups.append(label)
    where = f" ({', '.join(groups[:3])}{f' +{len(groups) - 3} more' if len(groups) > 3 else ''})" if groups else ""
    n = sum(len(i.findings) for i in problems)
    r = sum(len(i.findings) for i in resolved)
    head = f"[{_production(message)}] "
    if n:
        worst = max(i.severity for i in problems)
        escalated = "ESCALATED " if any(i.kind == "escalated" for i in problems) else ""
        affects = " affecting you" if all(i.kind == "affects" for i in problems) else ""
        done = f", {r} resolved" if r else ""
        title = f"{head}{escalated}{worst.name} on {_volumes(message)}: {_plural(n, 'problem')}{affects}{done}{where}"
    elif r:
        title = f"{head}Resolved on {_volumes(message)}: {_plural(r, 'problem')} fixed{where}"
    else:
        title = f"{head}Nothing to report"
    return clip(defuse_mentions(one_line(title)), TITLE_MAX)


def _untitled(message: Message, title: str) -> str:
    """The title without its ``[production]`` prefix, for push text."""
    head = f"[{_production(message)}] "
    return title[len(head):] if title.startswith(head) else title


def _summary(message: Message, problems: list[_Item], resolved: list[_Item]) -> Line:
    count = {k: sum(len(i.findings) for i in problems if i.kind == k) for k in (*KIND_ORDER, "resolved")}
    count["resolved"] = sum(len(i.findings) for i in resolved)
    n = sum(len(i.findings) for i in problems)
    who = role_name(message.role)
    parts = [f"{_production(message)}: {_plural(n, 'problem')} for {who} on {_volumes(message, 5)}."]
    mine = count["new"] + count["changed"]
    if mine:
        parts.append(f"{mine} {'needs' if mine == 1 else 'need'} your fix.")
    if count["escalated"]:
        parts.append(f"{count['escalated']} escalated: not acknowledged in time.")
    if count["affects"]:
        one = count["affects"] == 1
        parts.append(f"{count['affects']} {'affects' if one else 'affect'} your work; "
                     f"someone else is fixing {'it' if one else 'them'}.")
    if count["resolved"]:
        parts.append(f"{count['resolved']} resolved.")
    return line(" ".join(parts))


def _digest(message: Message, max_items: int) -> tuple[list[Block], list[_Item], list[_Item]]:
    problems, resolved = _items(message)
    blocks = [Block("p", _summary(message, problems, resolved))]
    detailed: list[tuple[_Item, Block]] = []
    spent = 0
    for item in problems:
        if len(detailed) >= max_items or (detailed and spent > BODY_BUDGET):
            break
        block = _detail(item, str(message.role))
        spent += len(text_of(block.line)) + sum(len(text_of(s)) for s in block.subs)
        detailed.append((item, block))
    totals: dict[tuple[str, str, str], int] = {}
    for item in problems:
        totals[item.group] = totals.get(item.group, 0) + len(item.findings)
    seen: list[tuple[str, str, str]] = []
    for item, _ in detailed:
        if item.group not in seen:
            seen.append(item.group)
    for group in seen:
        vol = clip(visible(group[0]), 40)
        label = (("Top level" + (f" of {vol}" if vol else "")) if group[1] == "top"
                 else _cap(_group_label(group)) + (f" on {vol}" if vol else ""))
        blocks.append(Block("h", line(f"{label}: {_plural(totals[group], 'problem')}")))
        blocks += [b for i, b in detailed if i.group == group]
    rest = problems[len(detailed):]
    if rest:
        blocks.append(Block("h", line(f"Also: {_plural(sum(len(i.findings) for i in rest), 'more problem')}")))
        blocks += [Block("li", _brief(i)) for i in rest[:OVERFLOW_LINES]]
        hidden = rest[OVERFLOW_LINES:]
        if hidden:
            places = len({i.group for i in hidden})
            blocks.append(Block("p", line(f"And {_plural(sum(len(i.findings) for i in hidden), 'more problem')} "
                                          f"in {_plural(places, 'place')}.")))
    if resolved:
        blocks.append(Block("h", line("Resolved")))
        blocks += [Block("li", _resolved_line(i)) for i in resolved[:max_items]]
        if len(resolved) > max_items:
            more = sum(len(i.findings) for i in resolved[max_items:])
            blocks.append(Block("p", line(f"And {more} more resolved.")))
    if problems:
        role = str(message.role)
        listing = f"reelwatch findings --role {role}" if re.fullmatch(r"[a-z][a-z0-9_-]{0,30}", role) else \
            "reelwatch findings"
        blocks.append(Block("p", line("Every open finding: ", code(listing), ". Acknowledged findings stop escalating.")))
    return blocks, problems, resolved


def _push(title_rest: str, item: _Item | None, more: int, role: str) -> str:
    """Title, the first item in one line, its fix (or who fixes it) and the ack command; <= 240."""
    parts = [title_rest]
    if item is not None:
        fs = item.findings
        what = prose(fs[0].get("message"), 100) or visible(item.rule)
        where = f" in {_plural(len(fs), *noun(fs))}" if len(fs) > 1 else f": {clip(visible(_name(fs[0])), 60)}"
        parts.append(f"{item.severity.name}: {what}{where}")
        fix, owner = _first(fs, "fix"), _owner(fs)
        if item.kind == "affects" or (owner and str(owner) != role):
            parts.append(f"{_cap(role_name(owner))} is fixing it." if owner else "Nobody is assigned to fix it.")
        elif fix:
            parts.append(f"Fix: {clip(fix, 100)}")
        ids = finding_ids(fs)
        parts += [f"ack: reelwatch ack {ids[0]}"] if len(ids) == 1 else []
    if more:
        parts.append(f"+{_plural(more, 'more problem')}")
    text = defuse_mentions("\n".join(one_line(p) for p in parts if p))
    return text if len(text) <= PUSH_MAX else text[:PUSH_MAX - 1].rstrip() + "\u2026"


def _redact(text: str) -> str:
    return _URL.sub(lambda m: f"{m.group(1)}://(hidden)", text)


def _plain(message: Message) -> Rendered:
    """A test, admin, positive or retraction message: its subject and text, made safe."""
    subject = _redact(str(message.subject or ""))
    defaults = {"test": "Test message", "admin": "reelwatch needs attention", "positive": "Good news",
                "retraction": "What reelwatch said is NO LONGER true"}
    subject = subject or defaults.get(message.kind, "reelwatch")
    label = "reelwatch admin: " if message.kind == "admin" else ""
    title = clip(defuse_mentions(one_line(f"[{_production(message)}] {label}{subject}")), TITLE_MAX)
    lines = [ln for ln in _redact(str(message.text or "")).split("\n") if ln.strip()]
    blocks = [Block("h", line(prose(subject, 200)))] + [Block("p", line(prose(ln, 2000))) for ln in lines[:40]]
    if message.kind == "test":
        blocks.append(Block("p", line(f"Role: {role_name(message.role)}. Production: {_production(message)}.")))
    footer, suffix = key_footer(message.key, message.repeat)
    blocks += footer
    push_text = defuse_mentions(one_line(subject) + (": " + one_line(" ".join(lines)) if lines else ""))
    push = push_text if len(push_text) <= PUSH_MAX else push_text[:PUSH_MAX - 1].rstrip() + "\u2026"
    push = with_suffix(push, suffix, PUSH_MAX)
    return Rendered(title=title, text=serialise(blocks, "text"), markdown=serialise(blocks, "markdown"),
                    html=serialise(blocks, "html"), slack=serialise(blocks, "slack"), push=push)


def render(message: Message, *, max_items: int = 5) -> Rendered:
    """Render one message for every channel. Never raises for odd finding contents."""
    if message.kind != "findings":
        return _plain(message)
    blocks, problems, resolved = _digest(message, max(1, int(max_items)))
    footer, suffix = key_footer(message.key, message.repeat)
    blocks += footer
    title = _title(message, problems, resolved)
    more = sum(len(i.findings) for i in problems[1:])
    push = with_suffix(_push(_untitled(message, title), problems[0] if problems else None, more,
                             str(message.role)), suffix, PUSH_MAX)
    return Rendered(title=title, text=serialise(blocks, "text"), markdown=serialise(blocks, "markdown"),
                    html=serialise(blocks, "html"), slack=serialise(blocks, "slack"), push=push)


def render_test(role: str, production: str) -> Message:
    """The message ``reelwatch notify test ROLE`` sends: proves the channel, asks nothing."""
    who = role_name(role)
    text = (f"This is a test from reelwatch for the {role} role ({who}) on {production}.\n"
            "If you can read this, this channel works: problems found on the watched volumes will reach you "
            "here, with what was found, who it affects and how to fix it.\nNothing needs doing.")
    return Message(role=role, production=production, kind="test", subject=f"Test message for {who}", text=text)
