"""The web application: server-rendered pages over the state database, and the actions on findings.

Every page is a Jinja2 template with autoescape always on (file names and every field read from a
file are untrusted), under a Content-Security-Policy that allows only this server's own scripts,
styles and images. Notify URLs, password hashes and other secrets are never handed to a template.
"""

from __future__ import annotations

import contextlib
import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, FileSystemLoader
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, \
    Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ..core.config import Config, is_loopback
from ..core.model import Severity
from ..state.connect import location, open_state
from ..state.store import Store
from . import actions, auth, cards, live, present, queries
from .fleet import fleet_of

HERE = Path(__file__).parent
HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
                               "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def environment() -> Environment:
    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=True, trim_blocks=True,
                      lstrip_blocks=True)
    env.filters.update(size=present.size, when=present.when, ago=present.ago, name=present.shown_name,
                       basename=present.basename,  # a name that is not UTF-8: its own bytes (a page with one was a 500)
                       urlencode=lambda d: urlencode(d, errors="surrogateescape"))
    return env


@dataclass
class Web:
    """What the pages need: the config (names, roles, volumes: never notify targets) and the state."""

    config: Config
    state_path: Path
    loopback: bool = True
    sessions: auth.Sessions = field(init=False)
    stopping: bool = False
    _read: Store | None = None
    _write: Store | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.sessions = auth.Sessions(self.config.web.users)

    def reader(self) -> Store | None:
        """A read-only connection (None until the daemon has made the SQLite state); with ``[state] url``
        the fleet's shared PostgreSQL database, which every node writes."""
        with self._lock:
            if self._read is None and (self.config.state.url or self.state_path.exists()):
                self._read = open_state(self.config, readonly=True)
            return self._read

    def writer(self) -> Store:
        with self._lock:
            if self._write is None:
                self._write = open_state(self.config)
            return self._write

    def close(self) -> None:
        self.stopping = True
        for s in (self._read, self._write):
            if s is not None:
                s.close()


class Pages:
    """The pages and actions of one application, over one :class:`Web`."""

    def __init__(self, config: Config, web: Web) -> None:
        self.config, self.web, self.env = config, web, environment()

    def reconfigure(self, config: Config) -> int:
        """A reloaded config, from the next request on; returns how many sessions ended (their
        user removed or changed)."""
        self.config = self.web.config = config
        return self.web.sessions.reconfigure(config.web.users)

    def session_of(self, request: Request) -> tuple[auth.Session | None, str | None]:
        token = request.cookies.get(auth.COOKIE)
        return self.web.sessions.get(token), token

    def finish(self, request: Request, response: Response, new_token: str | None) -> Response:
        for k, v in HEADERS.items():
            response.headers.setdefault(k, v)
        if new_token:
            response.set_cookie(auth.COOKIE, new_token, httponly=True, samesite="strict",
                                secure=request.url.scheme == "https", path="/")
        return response

    def page(self, request: Request, template: str, status: int = 200, **ctx: Any) -> Response:
        session, token = self.session_of(request)
        new = None
        if session is None:
            new = self.web.sessions.anonymous() if self.web.sessions.open else self.web.sessions.guest()
            session = self.web.sessions.get(new)
        if not self.web.sessions.open and not (session and session.user) and template not in ("login.html", "error.html"):
            return self.finish(request, RedirectResponse("/login?" + urlencode({"next": _local(str(request.url.path))}),
                                                    303), new)
        html = self.env.get_template(template).render(
            request=request, session=session, production=self.config.production.name, roles=sorted(self.config.roles),
            volumes=[v.name for v in self.config.volumes], severities=[s.label for s in Severity], **ctx)
        return self.finish(request, HTMLResponse(html, status), new)

    def store_or_none(self, request: Request) -> Store | None:
        return self.web.reader()

    def allowed(self, request: Request) -> bool:
        session, _ = self.session_of(request)
        return self.web.sessions.open or bool(session and session.user)

    # -- pages ----------------------------------------------------------------------------
    def overview(self, request: Request) -> Response:
        store = self.store_or_none(request)
        data = queries.overview(store, self.config) if store else None
        board = cards.cards(store, limit=200) if store else []
        return self.page(request, "overview.html", data=data, cards=board, live_after=_recent(store),
                    counts={k: sum(1 for c in board if c["verdict"] == k) for k in ("safe", "do_not_format", "unknown")})

    def cards_page(self, request: Request) -> Response:
        store = self.store_or_none(request)
        return self.page(request, "cards.html", cards=cards.cards(store) if store else [])

    def card_report(self, request: Request) -> Response:
        store = self.store_or_none(request)
        card = cards.card(store, request.query_params.get("set", ""), request.query_params.get("unit", "")) \
            if store else None
        if card is None:
            return self.page(request, "error.html", 404, message="no such card on record")
        from .report import offload_report
        return self.finish(request, HTMLResponse(offload_report(store, self.config, card)), None)

    def shots_page(self, request: Request) -> Response:
        from .shots import shots
        store = self.store_or_none(request)
        text = request.query_params.get("text", "")[:100]
        mine = {v.name for v in self.config.volumes}
        fl = fleet_of(store) if store else None
        others = sorted({v for n in fl.nodes for v in n["volumes"]} - mine) if fl and fl.shown else []
        data = shots(store, self.config, text, others=others) if store else {"lines": [], "truncated": False,
                                                                             "volumes": []}
        return self.page(request, "shots.html", data=data, text=text)

    def findings_page(self, request: Request) -> Response:
        store = self.store_or_none(request)
        flt = queries.Filters.parse(request.query_params)
        result = queries.findings_page(store, flt, volumes=[v.name for v in self.config.volumes]) if store else {"items": [], "total": 0, "next": None}
        if store:
            result["assigned"] = queries.assigned(store, [f["id"] for f in result["items"]])
            fl = fleet_of(store)
            for f in result["items"]:
                f["node"] = fl.names(f["volume"])
        return self.page(request, "findings.html", flt=flt, result=result)

    def finding_page(self, request: Request) -> Response:
        store = self.store_or_none(request)
        fid = int(request.path_params["fid"])
        f = queries.finding(store, fid) if store else None
        if f is None:
            return self.page(request, "error.html", 404, message=f"finding {fid} does not exist")
        a = queries.asset(store, f["volume"], f["relpath"])
        f["node"] = fleet_of(store).names(f["volume"])
        f["found_by"] = queries.found_by(store, f["volume"], f["relpath"], f["first_seen"])
        here = _absolute(self.config, f["volume"], f["relpath"]) is not None  # a grab is made where the file is
        picture = bool(here and a and a["kind"] == "media" and (a["facts"].get("video") or []))
        return self.page(request, "finding.html", f=f, flash=request.query_params.get("done", ""), picture=picture)

    def asset_page(self, request: Request) -> Response:
        store = self.store_or_none(request)
        volume, rel = request.query_params.get("volume", ""), request.query_params.get("path", "")
        a = queries.asset(store, volume, rel) if store else None
        if a is None:
            return self.page(request, "error.html", 404, message="no such file on record")
        path = _absolute(self.config, volume, rel)
        from .history import timeline
        return self.page(request, "asset.html", a=a, facts=present.facts_table(a["facts"]),
                         node=fleet_of(store).names(volume), this_node=self.config.state.node,
                    findings=queries.asset_findings(store, volume, rel), history=timeline(store, volume, rel),
                    sums=queries.checksums(store, path) if path else [], path=path,
                    grab=bool(path and a["kind"] == "media" and (a["facts"].get("video") or [])))

    def grab(self, request: Request) -> Response:
        if not self.allowed(request):
            return PlainTextResponse("log in first", 401)
        from .grabs import grab_for
        volume, rel = request.query_params.get("volume", ""), request.query_params.get("path", "")
        store = self.store_or_none(request)
        if store is None or queries.asset(store, volume, rel) is None:
            return PlainTextResponse("no such file on record", 404)
        path = _absolute(self.config, volume, rel)
        jpg = grab_for(self.web.state_path.parent / "thumbnails", Path(path)) if path else None
        if jpg is None:
            node = fleet_of(store).names(volume) if path is None else ""
            return PlainTextResponse(f"this file is on {node}: its frame grab is made there, not on this server"
                                     if node else "no picture could be taken from this file", 404)
        return self.finish(request, FileResponse(jpg, media_type="image/jpeg"), None)

    def live_page(self, request: Request) -> Response:
        return self.page(request, "live.html", live_after=_recent(self.store_or_none(request)))

    async def events(self, request: Request) -> Response:
        if not self.allowed(request):
            return PlainTextResponse("log in first", 401)
        raw = request.headers.get("last-event-id") or request.query_params.get("after")
        after = int(raw) if raw and raw.isdigit() else None
        gen = live.stream(self.web.reader, after, request.is_disconnected, lambda: self.web.stopping)
        return self.finish(request, StreamingResponse(gen, media_type="text/event-stream",
                                                 headers={"X-Accel-Buffering": "no"}), None)

    # -- actions ----------------------------------------------------------------------------
    async def act(self, request: Request) -> Response:
        session, _ = self.session_of(request)
        form = await request.form()
        wants_json = "application/json" in request.headers.get("accept", "")
        sent = request.headers.get("x-csrf-token") or form.get("csrf")

        def refuse(status: int, why: str) -> Response:
            if wants_json:
                return self.finish(request, JSONResponse({"ok": False, "error": why}, status), None)
            return self.page(request, "error.html", status, message=why)

        if not auth.same_origin(request.headers.get("origin"), request.headers.get("host"), request.url.scheme):
            return refuse(403, "refused: this request came from another site")
        if not auth.csrf_ok(session, sent if isinstance(sent, str) else None):
            return refuse(403, "refused: the form is stale or did not come from this site; reload the page")
        if not (self.web.sessions.open or (session and session.user)):
            return refuse(401, "log in first")
        assert session is not None
        if not session.can_ack:
            return refuse(403, f"refused: {session.user} may read but not change findings")
        fid, verb = int(request.path_params["fid"]), request.path_params["verb"]
        import asyncio
        try:
            store = await asyncio.to_thread(self.web.writer)
            if verb == "ack":
                done = await asyncio.to_thread(actions.ack, store, fid, session.user)
            elif verb == "unack":
                done = await asyncio.to_thread(actions.unack, store, fid, session.user)
            elif verb == "assign":
                done = await asyncio.to_thread(actions.assign, store, self.config, fid, str(form.get("role", "")),
                                               session.user)
            elif verb == "note":
                done = await asyncio.to_thread(actions.note, store, fid, str(form.get("text", "")), session.user)
            else:
                return refuse(404, f"no action {verb!r}")
        except actions.ActionError as exc:
            return refuse(409, str(exc))
        if wants_json:
            return self.finish(request, JSONResponse({"ok": True, "message": done}), None)
        back = _local(str(form.get("next") or f"/findings/{fid}"))
        sep = "&" if "?" in back else "?"
        return self.finish(request, RedirectResponse(f"{back}{sep}{urlencode({'done': done})}", 303), None)

    async def login(self, request: Request) -> Response:
        if request.method == "GET":
            return self.page(request, "login.html", next=_local(request.query_params.get("next", "/")), error="")
        session, token = self.session_of(request)
        form = await request.form()
        if not auth.same_origin(request.headers.get("origin"), request.headers.get("host"), request.url.scheme) \
                or not auth.csrf_ok(session, str(form.get("csrf", ""))):
            return self.page(request, "login.html", 403, next="/", error="the login form is stale; try again")
        import asyncio
        address = request.client.host if request.client else "?"
        new, why = await asyncio.to_thread(self.web.sessions.login, address, str(form.get("user", ""))[:100],
                                           str(form.get("password", ""))[:1000])
        if new is None:
            return self.page(request, "login.html", 429 if "too many" in why else 401,
                        next=_local(str(form.get("next", "/"))), error=why)
        self.web.sessions.logout(token)
        return self.finish(request, RedirectResponse(_local(str(form.get("next", "/"))), 303), new)

    async def logout(self, request: Request) -> Response:
        session, token = self.session_of(request)
        form = await request.form()
        if auth.csrf_ok(session, str(form.get("csrf", ""))):
            self.web.sessions.logout(token)
        return RedirectResponse("/login" if not self.web.sessions.open else "/", 303)



def create_app(config: Config, *, loopback: bool = True) -> Starlette:
    web = Web(config, config.resolve(config.state.path), loopback)
    p = Pages(config, web)

    routes = [
        Route("/", p.overview), Route("/cards", p.cards_page), Route("/cards/report", p.card_report),
        Route("/findings", p.findings_page), Route("/shots", p.shots_page), Route("/findings/{fid:int}", p.finding_page),
        Route("/findings/{fid:int}/{verb}", p.act, methods=["POST"]),
        Route("/asset", p.asset_page), Route("/asset/grab", p.grab), Route("/live", p.live_page), Route("/events", p.events),
        Route("/login", p.login, methods=["GET", "POST"]), Route("/logout", p.logout, methods=["POST"]),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> Any:
        yield
        web.close()

    def damaged(request: Request, exc: Exception) -> Response:
        """A damaged state database is said on the page, with what to do, never as a bare 500."""
        return p.page(request, "error.html", 503, message=f"The state database is damaged: {exc}. The daemon reports "
                    "it too; `reelwatch state check` and `reelwatch state recover` repair it.")

    def unreachable(request: Request, exc: Exception) -> Response:
        """The fleet's database down or refusing: said, with where it is (never its password)."""
        if not getattr(exc, "unreachable", True):
            raise exc  # a fault of the query itself: a server error, not a network one
        return p.page(request, "error.html", 503, message=f"The shared state database ({location(config)}) cannot "
                      f"be reached: {type(exc).__name__}. Each node's own `reelwatch status` says how it is guarding "
                      "meanwhile; this page shows the production again once the database is back.")

    from ..state.dbfile import StateCorrupt
    from ..state.pg import StateDbError, StateUnavailable
    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers={
        StateCorrupt: damaged, StateUnavailable: unreachable, StateDbError: unreachable})
    app.state.web = web
    app.state.pages = p

    if loopback:  # refuse names that are not this machine: a DNS-rebinding page cannot reach us
        inner = app.build_middleware_stack

        def guarded() -> Any:
            stack = inner()

            async def check_host(scope: Any, receive: Any, send: Any) -> None:
                if scope["type"] == "http":
                    host = dict(scope["headers"]).get(b"host", b"").decode("latin-1")
                    name = host.rsplit(":", 1)[0] if not host.startswith("[") else host.split("]")[0] + "]"
                    if not is_loopback(name):
                        await PlainTextResponse("this server answers only on this machine", 421)(scope, receive, send)
                        return
                await stack(scope, receive, send)
            return check_host
        app.build_middleware_stack = guarded  # type: ignore[method-assign]
    return app


def _recent(store: Store | None, shown: int = 12) -> int:
    """Where the live list starts: a page opens with the last few events already in it."""
    if store is None:
        return 0
    rows = store.query("SELECT id FROM audit WHERE event IN ('finding','resolved','ack','unack','assign','note',"
                       "'escalated') ORDER BY id DESC LIMIT ?", (shown,))
    return max(int(rows[-1][0]) - 1, 0) if rows else queries.last_event_id(store)


def _local(target: str) -> str:
    """Only a path on this site (never ``//evil.example`` or ``https://...``) is followed after an action."""
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _absolute(config: Config, volume: str, rel: str) -> str | None:
    """The file's path on this machine, for checksums and frame grabs (None for an unmounted drive)."""
    import glob
    import os
    from ..core.config import drive_volume_name
    from ..core.config_paths import mount_root
    vol = config.volume(volume)
    if vol is not None and mount_root(config, volume) is None:
        return os.path.join(str(config.resolve(vol.path)), rel)
    for v in config.volumes:
        if mount_root(config, v.name) is not None and volume.startswith(f"{v.name}-"):
            for drive in glob.glob(str(config.resolve(v.path))):
                if drive_volume_name(v.name, drive) == volume:
                    return os.path.join(drive, rel)
    return None


def json_for_script(data: Any) -> str:
    return json.dumps(data).replace("<", "\\u003c")
