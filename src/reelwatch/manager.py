"""A small typed facade over pluggy.

Load order is explicit: builtins, then the rule plugins shipped with reelwatch (the
``plugins/`` folder, installed as ``reelwatch/plugins``), then the ``reelwatch.plugins``
entry points, then the ``.py`` files of the plugin directories named in the config; blocked
names are unregistered and ``check_pending()`` rejects any implementation of an unknown hook.
Shipped plugins are loaded by path exactly like a facility's plugin folder, so they can use
nothing a facility plugin could not.
Rule hooks are called one implementation at a time, so that a plugin that raises is
reported as a ``reelwatch.plugin_error`` finding instead of aborting the others.
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pluggy
import structlog

from . import hookspecs
from .model import Asset, Finding, RuleInfo, Severity

ENTRY_POINT_GROUP = "reelwatch.plugins"
log = structlog.get_logger("reelwatch.plugins")


class PluginLoadError(Exception):
    """A plugin file or entry point that could not be loaded."""


def _plugin_error(asset: Asset, plugin: str, hook: str, exc: BaseException) -> Finding:
    where = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
    at = f" at {Path(where.filename).name}:{where.lineno}" if where else ""
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
    here = Path(__file__).resolve().parent
    for candidate in (here / "plugins", here.parent.parent / "plugins"):
        if (candidate / "__init__.py").is_file():
            return candidate
    return None


def load_plugin_file(file: Path, namespace: str = "reelwatch_local") -> Any:
    """Import one plugin ``.py`` file by path under a unique module name."""
    digest = hashlib.sha1(str(file.parent).encode()).hexdigest()[:8]
    modname = f"{namespace}_{digest}_{file.stem}"
    if modname in sys.modules:
        return sys.modules[modname]
    spec = importlib.util.spec_from_file_location(modname, file)
    if spec is None or spec.loader is None:
        raise PluginLoadError("not a loadable Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[modname] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(modname, None)
        raise
    return module


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
                self.register(plugin, name=name)
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
            except Exception as exc:  # a broken installed plugin must not stop the daemon
                self.load_errors.append(f"entry point plugins: {type(exc).__name__}: {exc}")
        for folder in dirs:
            self._load_dir(Path(folder), disable)
        for name in disable:
            if self._pm.get_plugin(name) is not None:
                self._pm.unregister(name=name)
            self._pm.set_blocked(name)
        self._pm.check_pending()

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
                self.register(module, name=file.stem)
            except Exception as exc:
                self.load_errors.append(f"plugin {file}: {type(exc).__name__}: {exc}")

    # -- introspection -------------------------------------------------------------------
    def plugin_names(self) -> list[str]:
        return [name for name, _ in self._pm.list_name_plugin()]

    def hook_names(self) -> list[str]:
        return sorted(n for n in dir(self._pm.hook) if not n.startswith("_"))

    def implementations(self, hook: str) -> list[tuple[str, Callable[..., Any]]]:
        caller = getattr(self._pm.hook, hook)
        out = []
        for impl in reversed(caller.get_hookimpls()):  # registration order
            out.append((impl.plugin_name, impl.function, impl.argnames))
        return [(name, fn) for name, fn, _ in out]

    def rule_infos(self) -> list[RuleInfo]:
        infos: list[RuleInfo] = []
        for batch in self._pm.hook.rules():
            infos.extend(batch or ())
        return sorted(infos, key=lambda r: r.id)

    def config_sections(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for batch in self._pm.hook.config_sections():
            out.update(batch or {})
        return out

    # -- isolated calls ------------------------------------------------------------------
    def _each(self, hook: str, kwargs: Mapping[str, Any]) -> Iterator[tuple[str, Any, BaseException | None]]:
        caller = getattr(self._pm.hook, hook)
        for impl in reversed(caller.get_hookimpls()):
            args = {k: kwargs[k] for k in impl.argnames}
            try:
                yield impl.plugin_name, impl.function(**args), None
            except Exception as exc:
                log.error("plugin_failed", plugin=impl.plugin_name, hook=hook,
                          error=f"{type(exc).__name__}: {exc}")
                yield impl.plugin_name, None, exc

    def collect(self, asset: Asset, facts: Any, config: Any) -> tuple[dict[str, Any], list[Finding]]:
        derived: dict[str, Any] = {}
        errors: list[Finding] = []
        for name, result, exc in self._each("collect", {"asset": asset, "facts": facts, "config": config}):
            if exc is not None:
                errors.append(_plugin_error(asset, name, "collect", exc))
            elif result:
                derived.update(result)
        return derived, errors

    def check(self, asset: Asset, facts: Any, history: Any, config: Any) -> list[Finding]:
        findings: list[Finding] = []
        kwargs = {"asset": asset, "facts": facts, "history": history, "config": config}
        for name, result, exc in self._each("check", kwargs):
            if exc is not None:
                findings.append(_plugin_error(asset, name, "check", exc))
                continue
            try:
                for f in result or ():
                    findings.append(f if f.plugin else replace(f, plugin=name))
            except Exception as exc2:  # a generator that raises half-way
                findings.append(_plugin_error(asset, name, "check", exc2))
        return findings

    def batch_done(self, assets: Sequence[Asset], history: Any, config: Any) -> list[Finding]:
        findings: list[Finding] = []
        if not assets:
            return findings
        kwargs = {"assets": tuple(assets), "history": history, "config": config}
        for name, result, exc in self._each("batch_done", kwargs):
            if exc is not None:
                findings.append(_plugin_error(assets[0], name, "batch_done", exc))
                continue
            try:
                for f in result or ():
                    findings.append(f if f.plugin else replace(f, plugin=name))
            except Exception as exc2:
                findings.append(_plugin_error(assets[0], name, "batch_done", exc2))
        return findings

    def route(self, finding: Finding, config: Any) -> list[str]:
        extra: list[str] = []
        for _name, result, exc in self._each("route", {"finding": finding, "config": config}):
            if exc is None and result:
                extra.extend(result)
        return extra

    def ignore(self, volume: str, relpath: str) -> bool:
        try:
            return bool(self._pm.hook.ignore(volume=volume, relpath=relpath))
        except Exception as exc:
            log.error("ignore_hook_failed", error=f"{type(exc).__name__}: {exc}")
            return False
