"""The builtin notifier: apprise, with each target getting the format that suits it.

A role's targets are apprise URLs, or paths to apprise config files (YAML or text) whose
tags are role names. Each target is sent separately so that one target being down is
reported precisely and never blocks the others. URLs never reach a log: results name a
target by its redacted form.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

from ..core.hookspecs import hookimpl
from ..core.model import Message
from ..core.redact import redact_url
from ..notify.render import Rendered, channel_format, render

log = structlog.get_logger("reelwatch.notify")
FORMATS = {"html": "html", "markdown": "markdown", "slack": "markdown", "text": "text", "push": "text"}
"""apprise's NotifyFormat values (plain strings), so that apprise is imported only when something is
sent: loading it is the largest part of ``reelwatch check``'s start-up."""
# apprise's Slack plugin converts Markdown to Slack markup itself (and escapes it); handing it
# our own mrkdwn would be converted twice. Never send Slack a body with no format: apprise
# then passes <!channel> through as a live mention.
ATTACHING = ("html", "slack")
KEY_HEADER = "Idempotency-Key"
HEADER_SCHEMES = frozenset({"json", "jsons", "form", "forms", "xml", "xmls", "mailto", "mailtos"})
"""apprise's HTTP and email plugins take extra headers as ``+Name=value`` in the URL: these
targets get the message's idempotency key as an ``Idempotency-Key`` header too."""


@dataclass(frozen=True, slots=True)
class TargetResult:
    target: str
    """Redacted form of the target, safe to show."""
    ok: bool
    detail: str = ""


def _is_config_file(target: str) -> bool:
    return "://" not in target and Path(target).suffix.lower() in (".yml", ".yaml", ".txt", ".cfg", ".conf")


def _body(rendered: Rendered, fmt: str) -> str:
    return {"html": rendered.html, "markdown": rendered.markdown, "slack": rendered.markdown,
            "push": rendered.push}.get(fmt, rendered.text)


def with_key_header(target: str, key: str) -> str:
    """The target URL with the idempotency key added as a header, where the channel allows."""
    scheme = target.split("://", 1)[0].lower() if "://" in target else ""
    if not key or scheme not in HEADER_SCHEMES or f"+{KEY_HEADER}=" in target:
        return target
    base, _, fragment = target.partition("#")
    joined = f"{base}{'&' if '?' in base else '?'}+{KEY_HEADER}={key}"
    return joined + (f"#{fragment}" if fragment else "")


def deliver(message: Message, targets: Sequence[str], role: str, base_dir: str = ".") -> list[TargetResult]:
    """Send one message to every target of a role; one result per target."""
    import apprise
    rendered = render(message)
    results: list[TargetResult] = []
    for target in targets:
        obj = apprise.Apprise()
        if _is_config_file(target):
            cfg = apprise.AppriseConfig()
            path = Path(target) if Path(target).is_absolute() else Path(base_dir) / target
            if not cfg.add(str(path)):
                results.append(TargetResult(path.name, False, "apprise config file could not be read"))
                continue
            obj.add(cfg)
            fmt, tag, shown = "text", role, f"config {path.name} (tag {role})"
        else:
            if not obj.add(with_key_header(target, message.key)):
                results.append(TargetResult(redact_url(target), False, "not a valid apprise URL"))
                continue
            fmt, tag, shown = channel_format(target), None, redact_url(target)
        attach = None
        if message.attachments and fmt in ATTACHING:
            attach = apprise.AppriseAttachment()
            for item in message.attachments:
                if Path(item).is_file():
                    attach.add(item)
        title = rendered.title if fmt != "push" else rendered.title[:120]
        kwargs: dict[str, Any] = {"title": title, "body": _body(rendered, fmt), "body_format": apprise.NotifyFormat(FORMATS[fmt])}
        if attach is not None and len(attach):
            kwargs["attach"] = attach
        if tag is not None:
            kwargs["tag"] = tag
        try:
            ok = bool(obj.notify(**kwargs))
        except Exception as exc:  # apprise says it never raises; be sure
            ok = False
            log.error("notify_exception", target=shown, error=type(exc).__name__)
        results.append(TargetResult(shown, ok, "" if ok else "delivery failed"))
    return results


class AppriseNotifier:
    """The builtin ``notify`` hook implementation."""

    @hookimpl(trylast=True)
    def notify(self, message: Message, targets: Sequence[str], config: Any) -> bool:
        base = getattr(config, "base_dir", ".")
        results = deliver(message, targets, message.role, base)
        for r in results:
            log.info("delivery", role=message.role, target=r.target, ok=r.ok, message_id=message.id)
        return bool(results) and all(r.ok for r in results)
