"""stable path -> Asset -> facts (probed once, cached) -> checks -> findings -> routing -> store.

The pipeline never talks to a notification target: it writes notices into the state
database in the same transaction as the check, and the outbox worker sends them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace

import structlog

from ..core.config import Config
from .fold import explain, fold
from .routing import RoleRouter, apply_defaults
from ..core.manager import PluginManager
from ..core.model import Asset, Facts, Finding, Severity
from ..state.store import Store, scope_of
from ..watch.settle import file_asset  # noqa: F401  (re-exported: tests and tools build assets with it here)

log = structlog.get_logger("reelwatch.pipeline")
class Pipeline:
    """Checks assets and records the outcome; shared by ``reelwatch check`` and the daemon."""

    def __init__(self, pm: PluginManager, config: Config, store: Store) -> None:
        self.pm = pm
        self.config = config
        self.store = store
        self.router = RoleRouter(pm, config)

    def reconfigure(self, pm: PluginManager, config: Config) -> None:
        self.pm, self.config = pm, config
        self.router = RoleRouter(pm, config)

    def facts(self, asset: Asset) -> Facts:
        cached = self.store.cached_facts(asset)
        if cached is not None and not refused(cached):
            return cached  # a refusal is asked again: permissions change without touching the file
        facts = self.pm.hook.probe(asset=asset)
        return facts if facts is not None else Facts(kind="unreadable", error="no probe could read it")

    def process(self, asset: Asset, batch: int, *, force: bool = False) -> list[Finding] | None:
        """Check one asset version; None when this exact version was already checked.
        Raises ProbeUnavailable (nothing recorded) when the probe tool itself is broken."""
        if not force and self.store.is_checked(asset):
            cached = self.store.cached_facts(asset)
            if cached is None or not refused(cached):
                return None  # checked already; a file it was not allowed to read is read again
        judged = self._judge(asset, self.facts(asset), self.store.history(batch))
        if judged is None:
            return None
        self.store.commit_check(asset, judged[0], judged[1], self.router, batch)
        self._log(asset, judged[1])
        return judged[1]

    def process_many(self, assets: Sequence[Asset], batch: int, *, force: bool = False,
                     done: Callable[[Asset, list[Finding] | None | Exception], None] | None = None,
                     commit_every: int = 64) -> None:
        """Check many asset versions: cached facts in one query, the rest probed several files per
        worker round trip, checks run as facts arrive, and one transaction per ``commit_every``
        checks (each asset's check still commits with its findings and notices, all or nothing).

        ``done(asset, outcome)`` follows every commit: findings, None (already checked or gone)
        or the exception that kept the asset from being probed (held, nothing recorded)."""
        todo = list(assets) if force else [a for a in assets if not self.store.is_checked(a)]
        if len(todo) < len(assets):  # a file it was not allowed to read is read again, as in process()
            fresh = set(todo)
            again = self.store.cached_facts_many([a for a in assets if a not in fresh])
            todo += [a for a, facts in again.items() if refused(facts)]
        if done is not None and len(todo) < len(assets):
            for a in set(assets) - set(todo):
                done(a, None)
        cached = {a: facts for a, facts in self.store.cached_facts_many(todo).items() if not refused(facts)}
        history = self.store.history(batch)
        ready: list[tuple[Asset, Facts, list[Finding]]] = []
        skipped: list[tuple[Asset, list[Finding] | None | Exception]] = []

        def flush() -> None:
            if ready:
                self.store.commit_checks(ready, self.router, batch)
            for asset, _, findings in ready:
                self._log(asset, findings)
                if done is not None:
                    done(asset, findings)
            for asset, outcome in skipped:
                if done is not None:
                    done(asset, outcome)
            ready.clear()
            skipped.clear()

        for asset, facts in self._facts_stream(todo, cached):
            if isinstance(facts, Exception):
                skipped.append((asset, facts))
                continue
            judged = self._judge(asset, facts, history)
            if judged is None:
                skipped.append((asset, None))
            else:
                ready.append((asset, *judged))
            if len(ready) >= commit_every:
                flush()
        flush()

    def _facts_stream(self, assets: Sequence[Asset], cached: dict[Asset, Facts]):  # type: ignore[no-untyped-def]
        """(asset, facts or the exception that kept it from being probed), cached ones first;
        byte-identical copies in the batch are parsed once (:mod:`reelwatch.checking.twins`)."""
        from .twins import representatives
        misses = [a for a in assets if a not in cached]
        for a in assets:
            if a in cached:
                yield a, cached[a]
        twin_of = representatives(misses, self.store.history().file_hash) if len(misses) > 1 else {}
        twins: dict[Asset, list[Asset]] = {}
        for twin, rep in twin_of.items():
            twins.setdefault(rep, []).append(twin)
        misses = [a for a in misses if a not in twin_of]
        for a, facts in self._probe_stream(misses):
            yield a, facts
            for twin in twins.get(a, ()):
                yield twin, facts

    def _probe_stream(self, misses: Sequence[Asset]):  # type: ignore[no-untyped-def]
        if not misses:
            return
        stream = self.pm.hook.probe_many(assets=misses) if len(misses) > 1 else None
        if stream is None:
            for a in misses:
                try:
                    facts = self.pm.hook.probe(asset=a)
                except Exception as exc:  # noqa: BLE001 - the probe tool is broken: hold the file
                    yield a, exc
                    continue
                yield a, facts if facts is not None else Facts(kind="unreadable", error="no probe could read it")
            return
        for i, facts in stream:
            yield misses[i], facts

    def _judge(self, asset: Asset, facts: Facts, history: object) -> tuple[Facts, list[Finding]] | None:
        """Run the collectors and checks over one asset's facts; None when the file vanished."""
        if facts.kind == "missing":
            # gone before it could be read (deleted, renamed, drive unplugged): nothing to judge,
            # and recording it as checked would hide it if the same file comes back.
            log.info("vanished_before_check", volume=asset.volume, path=asset.relpath)
            return None
        derived, errors = self.pm.collect(asset, facts, self.config)
        if derived:
            facts = facts.with_derived(derived)
        raw = errors + self.pm.check(asset, facts, history, self.config)
        return facts, fold([f for f in (apply_defaults(f, self.config) for f in raw) if f is not None])

    @staticmethod
    def _log(asset: Asset, findings: list[Finding]) -> None:
        log.info("checked", volume=asset.volume, path=asset.relpath, findings=len(findings),
                 worst=max((f.severity for f in findings), default=Severity.INFO).label)

    def record_watch(self, volume: str, rule: str, findings: Iterable[Finding],
                     scope: Sequence[str] | None) -> list[Finding]:
        """Record what the watcher found itself (no probe, no plugins): the rule's current
        findings within ``scope`` (see :meth:`Store.commit_watch`). Returns the new ones."""
        kept = [f for f in (apply_defaults(replace(f, plugin="reelwatch.watch"), self.config) for f in findings)
                if f is not None]
        new_ids = self.store.commit_watch(volume, rule, kept, scope, self.router)
        if not new_ids:
            return []
        marks = ",".join("?" * len(new_ids))
        new = {r[0] for r in self.store.query(f"SELECT fingerprint FROM findings WHERE id IN ({marks})", new_ids)}
        return [f for f in kept if f.fingerprint in new]

    def finish_batch(self, assets: Sequence[Asset], batch: int) -> list[Finding]:
        """Run ``batch_done`` rules over what was checked in this batch and record them."""
        if not assets:
            return []
        history = self.store.history(batch)
        raw = self.pm.batch_done(assets, history, self.config)
        findings = explain([f for f in (apply_defaults(f, self.config) for f in raw) if f is not None], history)
        plugins = [name for name, _ in self.pm.implementations("batch_done")]
        scopes = {scope_of(a.volume, a.relpath) for a in assets}
        self.store.commit_batch(findings, scopes, plugins, self.router)
        # A plugin that judged places beyond the batch's own scopes (a mirror rule re-judges
        # the card on every copy) names them in details["batch_scope"]; its earlier findings
        # there are resolved too, and only its own.
        claimed: dict[str, set[str]] = {}
        for f in findings:
            if f.details.get("batch_scope"):
                claimed.setdefault(f.plugin, set()).add(str(f.details["batch_scope"]))
        for plugin, extra in claimed.items():
            if extra - scopes:
                self.store.commit_batch([f for f in findings if f.plugin == plugin], extra - scopes, [plugin],
                                        self.router)
        return findings


def refused(facts: Facts) -> bool:
    """Facts of a file reelwatch was not allowed to read: never trusted from the cache."""
    return (facts.error or "").startswith("permission denied")


def worst(findings: Iterable[Finding]) -> Severity | None:
    return max((f.severity for f in findings), default=None)
