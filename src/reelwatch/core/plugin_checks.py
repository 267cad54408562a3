"""Validating a plugin before it may run: the mistakes that would otherwise fail at the first
hook call, or worse, silently do nothing. Each is one line led by ``file:line``, naming the
hook, with a "did you mean" where one helps."""

from __future__ import annotations

import difflib
import inspect
import linecache
import traceback
from pathlib import Path
from typing import Any

import pluggy


def where(function: Any) -> str:
    """``/path/plugin.py:12`` for a hook implementation."""
    target = inspect.unwrap(function)
    code = getattr(target, "__code__", None)
    if code is None:
        return getattr(target, "__module__", None) or "?"
    line = code.co_firstlineno
    for n in range(line, line + 20):  # the first line is the decorator's: name the ``def`` line
        if linecache.getline(code.co_filename, n).lstrip().startswith(("def ", "async def ")):
            line = n
            break
    return f"{code.co_filename}:{line}"


def error_line(file: Path, exc: BaseException) -> str:
    """``/path/plugin.py:3: SyntaxError: ...``: where in the plugin file an import failed."""
    line = getattr(exc, "lineno", None) if isinstance(exc, SyntaxError) else None
    if line is None:
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if Path(f.filename) == file]
        line = frames[-1].lineno if frames else None
    text = exc.msg if isinstance(exc, SyntaxError) else str(exc)
    return f"{file}{f':{line}' if line else ''}: {type(exc).__name__}: {text}"


def spec_names(pm: pluggy.PluginManager) -> list[str]:
    """The hooks reelwatch defines (those with a spec)."""
    return sorted(n for n, c in vars(pm.hook).items() if not n.startswith("_") and c.has_spec())


def problems_of(pm: pluggy.PluginManager, plugin: object) -> list[str]:
    """Everything that would make ``plugin`` fail or silently do nothing, one line each,
    led by ``file:line``. Empty when it can be registered."""
    out: list[str] = []
    hooks = spec_names(pm)
    marked = 0
    for attr in dir(plugin):
        try:
            opts = pm.parse_hookimpl_opts(plugin, attr)
        except Exception:
            continue
        function = getattr(plugin, attr, None)
        if opts is None:
            if attr in hooks and inspect.isfunction(function) and inspect.getmodule(function) is plugin:
                out.append(f"{where(function)}: function {attr!r} has the name of a hook but no @hookimpl "
                           "above it, so it is never called; add @hookimpl (from reelwatch import hookimpl)")
            continue
        marked += 1
        hook = opts.get("specname") or attr
        if hook not in hooks:
            hint = difflib.get_close_matches(hook, hooks, n=1, cutoff=0.6)
            out.append(f"{where(function)}: hook {hook!r} is not a reelwatch hook"
                       + (f" (did you mean {hint[0]!r}?)" if hint else "")
                       + f"; reelwatch calls: {', '.join(hooks)}")
            continue
        spec = getattr(pm.hook, hook).spec
        try:
            params = list(inspect.signature(function).parameters.values()) if callable(function) else []
        except (TypeError, ValueError):
            params = []
        # pluggy passes only the arguments without defaults; those must be the hook's
        args = [a.name for a in params if a.default is inspect.Parameter.empty and a.name not in ("self", "cls")
                and a.kind in (a.POSITIONAL_ONLY, a.POSITIONAL_OR_KEYWORD, a.KEYWORD_ONLY)]
        for arg in args:
            if arg not in spec.argnames:
                hint = difflib.get_close_matches(arg, spec.argnames, n=1, cutoff=0.6)
                out.append(f"{where(function)}: hook {hook!r} takes {arg!r}, which reelwatch does not pass"
                           + (f" (did you mean {hint[0]!r}?)" if hint else "")
                           + f"; {hook} can take: {', '.join(spec.argnames) or 'nothing'}")
        if (opts.get("wrapper") or opts.get("hookwrapper")) and not inspect.isgeneratorfunction(function):
            out.append(f"{where(function)}: hook {hook!r} is marked as a wrapper but does not yield; a wrapper "
                       "is a generator: result = yield; return result")
    if not marked and not out and inspect.ismodule(plugin):
        out.append(f"{getattr(plugin, '__file__', plugin)}: defines no @hookimpl function, so it does "
                   "nothing; mark each hook implementation with @hookimpl")
    return out


def unknown_hooks(pm: pluggy.PluginManager) -> list[tuple[str, str]]:
    """(plugin name, error) for every registered implementation of a hook that does not exist."""
    hooks = spec_names(pm)
    out = []
    for hook, caller in list(vars(pm.hook).items()):
        if hook.startswith("_") or caller.has_spec():
            continue
        for impl in caller.get_hookimpls():
            if impl.optionalhook:
                continue
            hint = difflib.get_close_matches(hook, hooks, n=1, cutoff=0.6)
            out.append((impl.plugin_name, f"{where(impl.function)}: hook {hook!r} is not a reelwatch hook"
                        + (f" (did you mean {hint[0]!r}?)" if hint else "")
                        + f" (plugin {impl.plugin_name!r}, not loaded)"))
    return out
