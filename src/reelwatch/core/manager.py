"""A small typed facade over pluggy.

Load order is explicit: builtins, then the rule plugins shipped with reelwatch (the
``plugins/`` folder, installed as ``reelwatch/plugins``), then the ``reelwatch.plugins``
entry points, then the ``.py`` files of the folders in the config's ``[plugins] dirs``; blocked
names are unregistered. Shipped plugins are loaded by path exactly like a facility's plugin
folder and import reelwatch only from :mod:`reelwatch.api`, so they can use nothing a facility
plugin could not.

Every plugin is validated before it can run: an implementation of a hook that does not exist
(``def chek``), an argument the hook does not pass, a wrapper that never yields, a file that
does not import. Each is a load error naming the file, the line and the hook, with a "did you
mean"; the plugin is not registered, and the config is refused (exit 2) rather than half run.
Rule hooks are called one implementation at a time, so that a plugin that raises is
reported as a ``reelwatch.plugin_error`` finding instead of aborting the others; pluggy
wrappers (``wrapper=True`` or the older ``hookwrapper=True``) wrap those isolated calls.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sqlite3
import sys
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pluggy
import structlog

from . import hookspecs
from .model import Asset, Finding, RuleInfo, Severity
from .plugin_checks import error_line, problems_of, spec_names, unknown_hooks, where

ENTRY_POINT_GROUP = "reelwatch.plugins"
_CORE = Path(__file__).resolve().parent
log = structlog.get_logger("reelwatch.plugins")


class PluginLoadError(Exception):
    """A plugin file or entry point that could not be loaded."""


def state_outage(exc: BaseException) -> bool:
    """An error of the state database saying its server is away (the store marks it ``unreachable``).

    It is not the plugin's fault when the history it reads cannot be reached: such an error stops the
    whole hook call instead of becoming a ``plugin_error`` finding, so that the file (or the batch) is
    held and checked again from the journal or when the server is back. Measured before: a batch that
    closed during a PostgreSQL outage left a ``plugin_error`` on its first file, replayed as a finding.
    """
    return isinstance(exc, sqlite3.Error) and bool(getattr(exc, "unreachable", False))


def _plugin_error(asset: Asset, plugin: str, hook: str, exc: BaseException) -> Finding:
    # name the innermost frame outside reelwatch's core: the plugin's line (or a library it called),
    # never the manager's own line that noticed a bad return value
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if Path(f.filename).parent != _CORE]
    at = f" at {Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else ""
    return Finding(
        rule="reelwatch.plugin_error",
        severity=Severity.ERROR,
        asset=asset,
        message=f"plugin {plugin!r} failed in its {hook} hook: {type(exc).__name__}: {exc}{at}",
        owner="admin",
        expected="every rule plugin runs to completion",
        impact="the rules of this plugin were not applied to this file, so problems may go unnoticed",
        fix=f"fix or disable plugin {plugin!r} (add it to [plugins] disable); the other checks still ran",
        plugin=plugin,
    )


def shipped_plugins_dir() -> Path | None:
    """Where the shipped rule plugins are: inside the installed package, or the source tree."""
    package = Path(__file__).resolve().parent.parent  # reelwatch/, whose core/ holds this module
    for candidate in (package / "plugins", package.parent.parent / "plugins"):
        if (candidate / "__init__.py").is_file():
            return candidate
    return None


def load_plugin_file(file: Path, namespace: str = "reelwatch_local") -> Any:
    """Import one plugin ``.py`` file by path under a unique module name."""
    digest = hashlib.sha1(str(file.parent).encode()).hexdigest()[:8]
    modname = f"{namespace}_{digest}_{file.stem}"
    st = os.stat(file)
    stamp = (st.st_mtime_ns, st.st_size)
    cached = sys.modules.get(modname)
    if cached is not None and getattr(cached, "__reelwatch_stamp__", None) == stamp:
        return cached  # unchanged since it was imported; an edited file is imported again (SIGHUP)
    spec = importlib.util.spec_from_file_location(modname, file)
    if spec is None or spec.loader is None:
        raise PluginLoadError("not a loadable Python file")
    module = importlib.util.module_from_spec(spec)
    module.__reelwatch_stamp__ = stamp  # type: ignore[attr-defined]
    sys.modules[modname] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        if cached is not None:
            sys.modules[modname] = cached  # the running daemon keeps the version it has
        else:
            sys.modules.pop(modname, None)
        raise
    return module


def _findings(plugin: str, value: Any) -> list[Finding]:
    """A ``check``/``batch_done`` result as a list of findings credited to their plugin. A
    wrapper may hand back a list of findings where pluggy would have a list of lists."""
    items = [value] if isinstance(value, Finding) else list(value or ())
    out = []
    for f in items:
        if not isinstance(f, Finding):
            raise TypeError(f"returned {type(f).__name__} where a Finding was expected")
        out.append(f if f.plugin or not plugin else replace(f, plugin=plugin))
    return out


class PluginManager:
    """reelwatch's plugin manager: registration in a fixed order and isolated hook calls."""

    def __init__(self) -> None:
        self._pm = pluggy.PluginManager(hookspecs.PROJECT)
        self._pm.add_hookspecs(hookspecs)
        self.load_errors: list[str] = []

    @property
    def hook(self) -> Any:
        return self._pm.hook

    @property
    def pluggy(self) -> pluggy.PluginManager:
        return self._pm

    def register(self, plugin: object, name: str | None = None) -> str:
        return self._pm.register(plugin, name=name) or ""

    def load(self, *, builtins: Iterable[tuple[str, object]] = (), dirs: Sequence[Path] = (),
             disable: Iterable[str] = (), entry_points: bool = True, shipped: bool = True) -> None:
        """Register plugins in the documented order, then validate them all."""
        disable = set(disable)
        for name, plugin in builtins:
            if name not in disable:
                self._register_checked(plugin, name, where=f"builtin plugin {name!r}")
        if shipped:
            folder = shipped_plugins_dir()
            if folder is None:
                self.load_errors.append("the rule plugins shipped with reelwatch are missing from this install")
            else:
                self._load_dir(folder, disable, namespace="reelwatch_shipped")
        if entry_points:
            for name in self._entry_point_names():
                if name in disable:
                    self._pm.set_blocked(name)
            try:
                self._pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
            except (Exception, SystemExit) as exc:  # a broken installed plugin must not stop the daemon
                self.load_errors.append(f"entry point plugins: {type(exc).__name__}: {exc}")
        for folder in dirs:
            self._load_dir(Path(folder), disable)
        for name in disable:
            if self._pm.get_plugin(name) is not None:
                self._pm.unregister(name=name)
            self._pm.set_blocked(name)
        self._reject_unknown_hooks()

    # -- validation ----------------------------------------------------------------------
    def _spec_names(self) -> list[str]:
        return spec_names(self._pm)

    def problems_of(self, plugin: object) -> list[str]:
        """Everything that would make ``plugin`` fail or silently do nothing, one line each,
        led by ``file:line`` (see :mod:`reelwatch.core.plugin_checks`). Empty when it can be registered."""
        return problems_of(self._pm, plugin)

    def _register_checked(self, plugin: object, name: str, where: str) -> bool:
        problems = self.problems_of(plugin)
        if not problems:
            try:
                self.register(plugin, name=name)
                return True
            except Exception as exc:  # anything pluggy refuses that the checks above missed
                problems = [f"{where}: {type(exc).__name__}: {exc}".replace("\n", "; ")]
        self.load_errors.extend(f"{p} (plugin {name!r}, not loaded)" for p in problems)
        return False

    def _reject_unknown_hooks(self) -> None:
        """pluggy's ``check_pending()``, as load errors: plugins that reached registration
        (entry points) with an implementation of a hook that does not exist are unregistered."""
        for plugin, error in unknown_hooks(self._pm):
            self.load_errors.append(error)
            if self._pm.get_plugin(plugin) is not None:
                self._pm.unregister(name=plugin)

    @staticmethod
    def _entry_point_names() -> list[str]:
        from importlib.metadata import entry_points
        return [ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)]

    def _load_dir(self, folder: Path, disable: set[str], namespace: str = "reelwatch_local") -> None:
        if not folder.is_dir():
            self.load_errors.append(f"plugin directory {folder} does not exist")
            return
        for file in sorted(folder.glob("*.py")):
            if file.name.startswith("_") or file.stem in disable:
                continue
            if self._pm.get_plugin(file.stem) is not None:
                self.load_errors.append(f"plugin {file}: a plugin named {file.stem!r} is already loaded; skipped")
                continue
            try:
                module = load_plugin_file(file, namespace)
            except (Exception, SystemExit) as exc:  # a plugin that exits on import must not stop us
                self.load_errors.append(f"{error_line(file, exc)} (plugin {file.stem!r}, not loaded)")
                continue
            self._register_checked(module, file.stem, where=str(file))

    # -- introspection -------------------------------------------------------------------
    def plugin_names(self) -> list[str]:
        return [name for name, _ in self._pm.list_name_plugin()]

    def hook_names(self) -> list[str]:
        return self._spec_names()

    def implementations(self, hook: str) -> list[tuple[str, Callable[..., Any]]]:
        caller = getattr(self._pm.hook, hook)
        return [(impl.plugin_name, impl.function) for impl in reversed(caller.get_hookimpls())]

    def rule_infos(self) -> list[RuleInfo]:
        infos: list[RuleInfo] = []
        results, errors = self._run("rules", {}, lambda _n, r: list(r or ()))
        for batch in results:
            infos.extend(batch)
        self._note_failures("rules", errors)
        return sorted(infos, key=lambda r: r.id)

    def config_sections(self) -> dict[str, Any]:
        """Every plugin's ``[rules.<name>]`` models; one that fails is a load error."""
        out: dict[str, Any] = {}
        results, errors = self._run("config_sections", {}, lambda _n, r: dict(r or {}))
        for batch in results:
            out.update(batch)
        self._note_failures("config_sections", errors)
        return out

    def configure(self, config: Any) -> list[str]:
        """Hand the validated config to every plugin; the problems of those that refuse it."""
        _results, errors = self._run("configure", {"config": config}, lambda _n, r: r)
        return [f"plugin {name!r} rejected the config: {type(exc).__name__}: {exc}" for name, exc in errors]

    def _note_failures(self, hook: str, errors: list[tuple[str, BaseException]]) -> None:
        for name, exc in errors:
            line = f"plugin {name!r} failed in its {hook} hook: {type(exc).__name__}: {exc}"
            if line not in self.load_errors:
                self.load_errors.append(line)

    # -- isolated calls ------------------------------------------------------------------
    def _run(self, hook: str, kwargs: Mapping[str, Any], normalize: Callable[[str, Any], Any]
             ) -> tuple[list[Any], list[tuple[str, BaseException]]]:
        """Call each implementation of ``hook`` on its own, then the wrappers around them.

        ``normalize(plugin, value)`` turns one implementation's return value into its settled form (a list
        of findings, a mapping ...); it runs inside the isolation, so a generator that raises
        half-way is that plugin's failure. Returns (results of those that returned something,
        (plugin, exception) of those that failed). Wrappers get the inner results as pluggy
        would give them (``result = yield``) and may return new ones; a wrapper that fails
        leaves the inner results as they were. Failures never reach a wrapper: no plugin can
        hide another plugin's error.
        """
        caller = getattr(self._pm.hook, hook)
        impls = caller.get_hookimpls()
        wrappers = [i for i in reversed(impls) if i.wrapper or i.hookwrapper]  # outermost first
        errors: list[tuple[str, BaseException]] = []
        entered = []
        for impl in wrappers:
            try:
                gen = impl.function(**{k: kwargs[k] for k in impl.argnames})
                next(gen)
                entered.append((impl, gen))
            except StopIteration:
                errors.append((impl.plugin_name, RuntimeError("the wrapper returned without yielding")))
            except Exception as exc:
                if state_outage(exc):
                    for _impl, opened in entered:
                        opened.close()
                    raise
                log.error("plugin_failed", plugin=impl.plugin_name, hook=hook, error=f"{type(exc).__name__}: {exc}")
                errors.append((impl.plugin_name, exc))
        results: list[Any] = []
        for impl in reversed(impls):
            if impl.wrapper or impl.hookwrapper:
                continue
            try:
                value = impl.function(**{k: kwargs[k] for k in impl.argnames})
                if value is not None:
                    results.append(normalize(impl.plugin_name, value))
            except Exception as exc:
                if state_outage(exc):
                    for _impl, gen in entered:
                        gen.close()
                    raise
                log.error("plugin_failed", plugin=impl.plugin_name, hook=hook, error=f"{type(exc).__name__}: {exc}")
                errors.append((impl.plugin_name, exc))
        for impl, gen in reversed(entered):  # innermost first, as pluggy unwinds them
            try:
                new = self._unwind(impl, gen, list(results))
                results = [normalize(impl.plugin_name, r) for r in new if r is not None]
            except Exception as exc:
                if state_outage(exc):
                    raise
                log.error("plugin_failed", plugin=impl.plugin_name, hook=hook, error=f"{type(exc).__name__}: {exc}")
                errors.append((impl.plugin_name, exc))
        return results, errors

    @staticmethod
    def _unwind(impl: Any, gen: Any, results: list[Any]) -> list[Any]:
        inner = list(results)
        outcome = pluggy.Result(inner, None)
        try:
            gen.send(outcome if impl.hookwrapper else inner)
        except StopIteration as stop:
            value = outcome.get_result() if impl.hookwrapper else stop.value
            # pluggy passes on whatever a wrapper returns; any iterable of results (a list, a
            # generator that filters them, a flat run of findings) is results here too
            if value is None and impl.hookwrapper:
                return []
            if isinstance(value, str | bytes | Mapping) or not isinstance(value, Iterable):
                raise TypeError(f"the wrapper returned {type(value).__name__}, not the results it was given "
                                f"(return them: results = yield; return results) ({where(impl.function)})") from None
            return list(value)  # a generator runs here, inside the wrapper's isolation
        gen.close()
        raise RuntimeError("the wrapper yielded a second time")

    def collect(self, asset: Asset, facts: Any, config: Any) -> tuple[dict[str, Any], list[Finding]]:
        derived: dict[str, Any] = {}
        results, failed = self._run("collect", {"asset": asset, "facts": facts, "config": config},
                                    lambda _n, r: dict(r))
        for result in results:
            derived.update(result)
        return derived, [_plugin_error(asset, name, "collect", exc) for name, exc in failed]

    def check(self, asset: Asset, facts: Any, history: Any, config: Any) -> list[Finding]:
        kwargs = {"asset": asset, "facts": facts, "history": history, "config": config}
        results, failed = self._run("check", kwargs, _findings)
        findings = [f for batch in results for f in batch]
        return findings + [_plugin_error(asset, name, "check", exc) for name, exc in failed]

    def batch_done(self, assets: Sequence[Asset], history: Any, config: Any) -> list[Finding]:
        if not assets:
            return []
        kwargs = {"assets": tuple(assets), "history": history, "config": config}
        results, failed = self._run("batch_done", kwargs, _findings)
        findings = [f for batch in results for f in batch]
        return findings + [_plugin_error(assets[0], name, "batch_done", exc) for name, exc in failed]

    def route(self, finding: Finding, config: Any) -> list[str]:
        results, _failed = self._run("route", {"finding": finding, "config": config},
                                     lambda _n, r: [str(x) for x in r])
        return [role for batch in results for role in batch]

    def ignore(self, volume: str, relpath: str) -> bool:
        try:
            return bool(self._pm.hook.ignore(volume=volume, relpath=relpath))
        except Exception as exc:
            log.error("ignore_hook_failed", error=f"{type(exc).__name__}: {exc}")
            return False
