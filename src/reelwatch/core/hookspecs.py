"""The plugin author's manual: every hook reelwatch calls, one typed function each.

A plugin is a module or object with functions marked ``@hookimpl`` (``from reelwatch.api import
hookimpl``) whose names match the hooks below. An implementation may take only the arguments it
needs, so ``def check(asset): ...`` is a valid check. Rules shipped with reelwatch use exactly
these hooks and import reelwatch only from :mod:`reelwatch.api`, the public API, as a facility's
plugin does. The guide, with a worked example, is ``docs/plugins.md``.

Load order: builtins, then the rule plugins shipped with reelwatch (``plugins/``, installed as
``reelwatch/plugins``), then the ``reelwatch.plugins`` entry points, then ``.py`` files in the
directories listed under ``[plugins] dirs`` in the config. pluggy calls the implementations of a
hook last registered first, so a facility's plugin runs before the shipped rules.

Isolation: ``check``, ``collect``, ``route`` and ``batch_done`` implementations are called
one by one. One that raises becomes a ``reelwatch.plugin_error`` finding naming the plugin;
the other implementations still run and the daemon carries on. A wrapper
(``@hookimpl(wrapper=True)``: ``results = yield``, then return them) wraps those isolated
calls and gets the list of their results (one entry per implementation that returned
something); it may return any iterable of them, as in pluggy. It never sees another plugin's
failure: it cannot hide one, and a wrapper that raises is itself a ``reelwatch.plugin_error``
while the inner results stand.

Validation: an implementation of a hook that is not below (``def chek``), or that asks for an
argument the hook does not pass, stops the plugin from loading, and the config is refused
with the file, line and hook named.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import pluggy

if TYPE_CHECKING:
    from .config import Config
    from .model import Asset, Facts, Finding, RuleInfo
    from .model import Message

PROJECT = "reelwatch"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


class AssetRecord(Protocol):
    """What the state database remembers about one asset (read-only)."""

    volume: str
    relpath: str
    size: int
    mtime_ns: int
    fields: Mapping[str, Any]
    """The flat ``derived["fields"]`` collected for it (show, shot, task, version ...)."""
    first_seen: float
    checked_at: float | None
    batch: int
    """Number of the batch it was checked in; batches are what settled together."""


class History(Protocol):
    """Read-only view of what reelwatch has seen before, backed by the state database."""

    def previous(self, volume: str, relpath: str) -> AssetRecord | None:
        """The last checked version of this path, or None if it is new."""

    def with_fields(self, **fields: str) -> list[AssetRecord]:
        """Every known asset whose derived fields (e.g. show, shot, task) equal these."""

    @property
    def batch(self) -> int:
        """Number of the batch being checked now."""

    def file_hash(self, path: str, algo: str = "xxh128") -> str:
        """Hex digest of a file, cached against its size and mtime."""

    def open_findings(self, volume: str, relpath: str) -> list[tuple[str, str]]:
        """(rule id, severity) of the findings still open or acknowledged on this path."""


@hookspec(historic=True)
def configure(config: Config) -> None:
    """Receive the validated production config, at start-up and after every reload.

    Read your own section from ``config.rules.get("<name>")``; it has already been validated
    against the model your ``config_sections`` hook returned. Historic: a plugin registered
    late still receives the current config.
    """


@hookspec
def config_sections() -> Mapping[str, Any] | None:
    """Declare the ``[rules.<name>]`` config sections this plugin owns.

    Return ``{"naming": NamingConfig}`` where each value is a pydantic model class (or any
    callable taking the section dict and raising ``ValueError`` on bad input). reelwatch
    validates the section with it before ``configure`` and reports errors with their full
    key path, e.g. ``rules.naming.templates[0].pattern``. Unclaimed sections are errors.
    """


@hookspec
def rules() -> Iterable[RuleInfo] | None:
    """Document the rule ids this plugin can raise: id, summary, default severity, owner,
    impacted roles and an example message. ``reelwatch plugins`` lists them and the test
    suite checks that each one appears in ``docs/rules.md``.
    """


@hookspec(firstresult=True)
def ignore(volume: str, relpath: str) -> bool | None:
    """Say whether a path on a volume is none of reelwatch's business.

    Return True to ignore it (OS litter, temp names of copies in flight, ``ascmhl/``),
    False to insist it is checked, None to leave the decision to other plugins. The first
    non-None answer wins. Folders are asked about too, with a trailing ``/`` in ``relpath``
    (``"ascmhl/"``): True prunes the whole folder from watching and scanning. Called from the
    watcher thread: keep it cheap and pure.
    """


@hookspec(firstresult=True)
def probe(asset: Asset) -> Facts | None:
    """Read the technical facts of an asset once; they are cached per asset version.

    The builtin probe runs MediaInfo in a worker process with a timeout. Return None to let
    the next probe try. Never raise for a bad file: return Facts with ``kind="unreadable"``
    and an ``error`` in plain words instead.
    """


@hookspec(firstresult=True)
def probe_many(assets: Sequence[Asset]) -> Iterator[tuple[int, Facts | Exception]] | None:
    """Read the facts of several assets at once (``reelwatch check`` and bursts in the daemon).

    Yield ``(index into assets, Facts)`` pairs in any order, one per asset, as each is ready;
    an exception in place of the Facts says that asset could not be probed for a reason that
    is not the file's (the tool is broken) and is held, not judged. Return None to have
    ``probe`` called for each asset instead. The builtin probe sends several files to each
    MediaInfo worker per round trip.
    """


@hookspec
def collect(asset: Asset, facts: Facts, config: Config) -> Mapping[str, Any] | None:
    """Derive extra facts from an asset and its probed facts (pyblish's collectors).

    The returned mapping is merged into ``facts.derived`` before any check runs, and is
    stored with the asset so that later checks can find it through ``History.with_fields``.
    The naming plugin returns the fields parsed from a name here (show, shot, version ...).
    """


@hookspec
def check(asset: Asset, facts: Facts, history: History, config: Config) -> Iterable[Finding] | None:
    """Check one asset version and return the problems found (or nothing).

    Checks only read: the asset, its facts and the history. A check whose rule does not
    apply returns None or an empty list. Set ``owner`` and ``impacts`` on each finding;
    the config can override them per rule. One problem is one finding: the pipeline folds what
    several rules found about one problem under its root cause (:mod:`reelwatch.checking.fold`; mark a
    root cause with ``details["root_cause"] = True``).
    """


@hookspec
def batch_done(assets: Sequence[Asset], history: History, config: Config) -> Iterable[Finding] | None:
    """Called once the queue has drained after a batch of assets was checked.

    For rules that need to see a whole batch before judging, e.g. a version gap that is only
    a late arrival in the same copy. ``assets`` are those checked in this batch, and those that
    disappeared (deleted or moved away: size and mtime 0, no longer on disk), so that what they
    fed (a card's verdict, a folder's seal) is judged again. ``reelwatch rehash`` calls it too,
    with the files whose bytes it found changed or restored.
    """


@hookspec
def route(finding: Finding, config: Config) -> Iterable[str] | None:
    """Name extra roles that must hear about a finding, beyond its owner and impacts.

    Return role names; unknown roles are reported once and skipped.
    """


@hookspec(firstresult=True)
def notify(message: Message, targets: Sequence[str], config: Config) -> bool | None:
    """Deliver one rendered message to a role's targets (apprise URLs by default).

    Called from the outbox worker, never from the checking pipeline. Return True when
    delivered, False when delivery failed (the outbox retries with backoff), or None to let
    the next notifier handle it. Must not raise for a target that is down.
    """
