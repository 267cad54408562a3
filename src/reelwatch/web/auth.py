"""Who may see and do what on the web pages.

- With no ``[web.users]`` the pages are served on loopback only, to whoever sits at the machine
  (named after the account running the server in the audit trail); every action still needs the
  session's CSRF token, since any web page the browser opens could post to 127.0.0.1.
- With users, everyone logs in (scrypt hashes, compared in constant time); a user with
  ``can_ack = false`` reads only. Sessions live in server memory, in an HttpOnly SameSite=Strict
  cookie; they end when the server restarts.
- Every state-changing request needs the session's CSRF token and, when the browser sends one, an
  ``Origin`` equal to the page's own; logins are rate-limited per address and per user name.
"""

from __future__ import annotations

import base64
import getpass
import hashlib
import hmac
import secrets
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field

from ..core.config import WebUser

COOKIE = "reelwatch_session"
SESSION_TTL = 12 * 3600.0
"""A shift: a session unused this long must log in again."""
LOGIN_WINDOW, LOGIN_FAILS = 300.0, 5
"""At most 5 failed logins per address or user name in 5 minutes; then the next ones are refused unheard."""
SCRYPT = {"n": 2**14, "r": 8, "p": 1}
"""scrypt cost (about 50 ms and 16 MB per login here): slow to guess offline, quick enough to log in."""


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """``scrypt$n$r$p$salt$hash``, as ``[web.users.NAME] password`` holds it."""
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, **SCRYPT)
    b64 = lambda b: base64.b64encode(b).decode()  # noqa: E731
    return f"scrypt${SCRYPT['n']}${SCRYPT['r']}${SCRYPT['p']}${b64(salt)}${b64(digest)}"


def check_password(password: str, stored: str) -> bool:
    try:
        _, n, r, p, salt, digest = stored.split("$")
        want = base64.b64decode(digest)
        got = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p),
                             dklen=len(want), maxmem=256 * 1024 * 1024)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, want)


@dataclass
class Session:
    user: str
    csrf: str
    can_ack: bool
    roles: tuple[str, ...] = ()
    anonymous: bool = False
    seen: float = field(default_factory=time.monotonic)


class Sessions:
    """Sessions, logins and their rate limit, in memory (thread-safe)."""

    def __init__(self, users: Mapping[str, WebUser], clock=time.monotonic) -> None:
        self.users = dict(users)
        self.clock = clock
        self._lock = threading.Lock()
        self._by_token: dict[str, Session] = {}
        self._fails: dict[str, deque[float]] = {}
        self._dummy = hash_password("x")

    @property
    def open(self) -> bool:
        """No users configured: anyone who can reach the (loopback) server may act."""
        return not self.users

    def reconfigure(self, users: Mapping[str, WebUser]) -> int:
        """New ``[web.users]`` (a reload): a user removed, or whose password, roles or rights changed,
        is logged out now (never served as before until the session runs out); when the server turns
        from open to logins or back, every visitor's session ends too. Returns how many ended."""
        new = dict(users)
        with self._lock:
            old, self.users = self.users, new
            turned = (not old) != (not new)
            ended = [t for t, s in self._by_token.items()
                     if (turned and s.anonymous) or (not s.anonymous and new.get(s.user) != old.get(s.user))]
            for t in ended:
                del self._by_token[t]
        return len(ended)

    def get(self, token: str | None) -> Session | None:
        if not token:
            return None
        with self._lock:
            s = self._by_token.get(token)
            if s is None:
                return None
            if self.clock() - s.seen > SESSION_TTL:
                del self._by_token[token]
                return None
            s.seen = self.clock()
            return s

    def _new(self, session: Session) -> str:
        token = secrets.token_urlsafe(32)
        with self._lock:
            if len(self._by_token) > 10_000:  # a flood of anonymous visits: drop the idlest half
                for t, _ in sorted(self._by_token.items(), key=lambda kv: kv[1].seen)[:5000]:
                    del self._by_token[t]
            self._by_token[token] = session
        return token

    def anonymous(self) -> str:
        """A session for a visitor of an open (loopback, no users) server."""
        who = f"{getpass.getuser()}@web"
        return self._new(Session(user=who, csrf=secrets.token_urlsafe(24), can_ack=True, anonymous=True))

    def guest(self) -> str:
        """A session that may only log in (it carries the login form's CSRF token)."""
        return self._new(Session(user="", csrf=secrets.token_urlsafe(24), can_ack=False, anonymous=True))

    def limited(self, address: str, name: str) -> bool:
        now = self.clock()
        with self._lock:
            for key in (f"ip:{address}", f"user:{name}"):
                q = self._fails.get(key)
                while q and now - q[0] > LOGIN_WINDOW:
                    q.popleft()
                if q and len(q) >= LOGIN_FAILS:
                    return True
        return False

    def login(self, address: str, name: str, password: str) -> tuple[str | None, str]:
        """(token, "") on success, else (None, why) with the reason shown to the person."""
        if self.limited(address, name):
            return None, "too many failed logins; wait a few minutes"
        user = self.users.get(name)
        ok = check_password(password, user.password if user else self._dummy) and user is not None
        if not ok:
            now = self.clock()
            with self._lock:
                for key in (f"ip:{address}", f"user:{name}"):
                    self._fails.setdefault(key, deque()).append(now)
            return None, "wrong user name or password"
        assert user is not None
        return self._new(Session(user=name, csrf=secrets.token_urlsafe(24), can_ack=user.can_ack,
                                 roles=tuple(user.roles))), ""

    def logout(self, token: str | None) -> None:
        with self._lock:
            self._by_token.pop(token or "", None)


def same_origin(origin: str | None, host: str | None, scheme: str) -> bool:
    """A state-changing request is from our own pages: its Origin (when the browser sends one) is us."""
    if origin is None:
        return True  # old browsers and curl; the CSRF token still has to match
    return bool(host) and origin in (f"{scheme}://{host}", f"http://{host}", f"https://{host}")


def csrf_ok(session: Session | None, sent: str | None) -> bool:
    return session is not None and bool(sent) and hmac.compare_digest(session.csrf, str(sent))
