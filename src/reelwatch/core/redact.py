"""Keep secrets out of every log line, CLI output and error message.

apprise URLs carry webhook tokens and SMTP passwords in their user-info, path and query.
:func:`redact_url` shows only the scheme and host; :class:`Redactor` also scrubs every
secret-looking part of the configured URLs from arbitrary text, for messages that quote
a URL in some other shape (an exception from a library, say).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import parse_qsl, unquote, urlsplit

MASK = "***"
SECRET_QUERY = re.compile(r"(pass|pwd|token|secret|key|auth|sig|webhook|apikey)", re.IGNORECASE)
URL_IN_TEXT = re.compile(r"\b[a-z][a-z0-9+.-]{1,20}://[^\s'\"<>]+", re.IGNORECASE)


def redact_url(url: str) -> str:
    """``mailto://user:pw@smtp.example.com?to=x`` -> ``mailto://***@smtp.example.com/***``."""
    scheme = url.split(":", 1)[0] if "://" in url else "?"
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:  # e.g. tgram://BOT_ID:TOKEN/... puts a token where a port would be
        return f"{scheme}://{MASK}"
    if not _host_like(host):
        host = MASK  # pbul://TOKEN, pover://user@TOKEN, slack://TokenA/...: the host is a secret
    elif port:
        host = f"{host}:{port}"
    user = f"{MASK}@" if parts.username or parts.password else ""
    rest = f"/{MASK}" if (parts.path.strip("/") or parts.query) else ""
    return f"{parts.scheme}://{user}{host}{rest}"


def _token_like(segment: str) -> bool:
    """Webhook tokens and keys: long, or mixing letters and digits (not a plain word like a role)."""
    has_digit = any(c.isdigit() for c in segment)
    has_alpha = any(c.isalpha() for c in segment)
    return len(segment) >= 16 or (len(segment) >= 6 and has_digit and has_alpha)


def _host_like(host: str) -> bool:
    """A real host name or address (has a dot or a colon, or is localhost), not a token."""
    if host == "localhost":
        return True
    labels = re.split(r"[.:]", host)
    return len(labels) > 1 and not any(len(label) >= 16 and _token_like(label) for label in labels)


def secrets_of(url: str) -> set[str]:
    """The parts of an apprise URL that must never be shown."""
    out: set[str] = set()
    try:
        parts = urlsplit(url)
    except ValueError:
        return {url}
    for piece in re.split(r"[@:]", parts.netloc):
        if piece and (not _host_like(piece) or _token_like(piece)) and not piece.isdigit():
            out |= {piece, unquote(piece)}
    for piece in (parts.username, parts.password):
        if piece:
            out |= {piece, unquote(piece)}
    for segment in parts.path.split("/"):
        if _token_like(segment):
            out |= {segment, unquote(segment)}
    for key, value in parse_qsl(parts.query, keep_blank_values=False):
        if value and (SECRET_QUERY.search(key) or len(value) >= 16):
            out |= {value, unquote(value)}
    out.add(url)
    return {s for s in out if len(s) >= 4}


SECRET_KEY = re.compile(r"pass|pwd|token|secret|auth|credential|api_?key|webhook", re.IGNORECASE)
"""Config keys whose values are secrets wherever they appear (a plugin's ``api_key``, say)."""


def config_redactor(raw: object) -> Redactor:
    """A :class:`Redactor` for everything in a parsed config that can be a secret: every value
    that holds a URL (wherever it is, valid or not) and every value under a secret-looking key."""
    urls: list[str] = []
    words: list[str] = []

    def walk(value: object, key: str = "") -> None:
        if isinstance(value, str):
            if "://" in value:
                urls.append(value)
            elif SECRET_KEY.search(key):
                words.append(value)
        elif isinstance(value, dict):
            for k, v in value.items():
                walk(v, str(k))
        elif isinstance(value, list | tuple):
            for v in value:
                walk(v, key)
    walk(raw)
    red = Redactor(urls)
    red.add_words(words)
    return red


class Redactor:
    """Scrubs known secrets and any URL from text."""

    def __init__(self, urls: Iterable[str] = ()) -> None:
        self._pattern: re.Pattern[str] | None = None
        self._secrets: list[str] = []
        self.add(urls)

    def add(self, urls: Iterable[str]) -> None:
        """Learn the secrets of more URLs (a reloaded config); the old ones are kept."""
        secrets = set(self._secrets)
        for url in urls:
            secrets |= secrets_of(url)
        self._secrets = sorted(secrets, key=len, reverse=True)
        self._pattern = re.compile("|".join(re.escape(s) for s in self._secrets)) if self._secrets else None

    def add_words(self, words: Iterable[str]) -> None:
        """Learn literal secrets that are not URLs (a password or token given on its own)."""
        secrets = set(self._secrets) | {w for w in words if len(w) >= 4}
        self._secrets = sorted(secrets, key=len, reverse=True)
        self._pattern = re.compile("|".join(re.escape(s) for s in self._secrets)) if self._secrets else None

    def __call__(self, text: str) -> str:
        text = URL_IN_TEXT.sub(lambda m: redact_url(m.group(0)), text)
        if self._pattern is not None:
            text = self._pattern.sub(MASK, text)
        return text

    def scrub(self, value: object) -> object:
        if isinstance(value, str):
            return self(value)
        if isinstance(value, dict):
            return {k: self.scrub(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return type(value)(self.scrub(v) for v in value)
        return value
