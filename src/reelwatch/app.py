"""Assemble a runtime: load plugins in order, validate the config against them, configure."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from .builtin.ignore import IgnoreRules
from .builtin.notify_apprise import AppriseNotifier
from .builtin.sanity import Sanity
from .config import Config, ConfigError, Plugins, build_config, format_validation_error
from .manager import PluginManager
from .probe import MediaInfoProbe, ProbePool
from .redact import config_redactor


def builtin_plugins(pool: ProbePool | None) -> list[tuple[str, object]]:
    plugins: list[tuple[str, object]] = [("ignore", IgnoreRules()), ("sanity", Sanity()),
                                         ("apprise", AppriseNotifier())]
    if pool is not None:
        plugins.append(("mediainfo", MediaInfoProbe(pool)))
    return plugins


def read_toml(path: str | Path) -> dict[str, Any]:
    source = str(path)
    try:
        return tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(source, ["file not found"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(source, [f"cannot read it: {getattr(exc, 'strerror', None) or exc}"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(source, [f"not valid TOML: {exc}"]) from None


@dataclass
class Runtime:
    """A loaded plugin manager and the config validated against it."""

    pm: PluginManager
    config: Config


def load_runtime(config_path: str | Path | None, pool: ProbePool | None) -> Runtime:
    """Load plugins (builtins, shipped, entry points, config dirs) and validate the config.

    Raises :class:`ConfigError` with every problem found; nothing is half-applied. A problem
    never quotes a secret: URLs and secret-looking values of the config are redacted from it,
    wherever they were written (the problems go to the journal, the audit table and the admin).
    """
    raw: dict[str, Any] = read_toml(config_path) if config_path else {}
    try:
        return _load(config_path, pool, raw)
    except ConfigError as err:
        redact = config_redactor(raw)
        raise ConfigError(err.source, [redact(p) for p in err.problems]) from None


def _load(config_path: str | Path | None, pool: ProbePool | None, raw: dict[str, Any]) -> Runtime:
    source = str(config_path) if config_path else "<defaults>"
    base_dir = str(Path(config_path).resolve().parent) if config_path else str(Path.cwd())
    try:
        plugin_cfg = Plugins.model_validate(raw.get("plugins") or {})
    except ValidationError as err:
        raise ConfigError(source, format_validation_error(err, Plugins, prefix=("plugins",))) from None
    pm = PluginManager()
    dirs = [Path(base_dir) / d if not Path(d).is_absolute() else Path(d) for d in plugin_cfg.dirs]
    pm.load(builtins=builtin_plugins(pool), dirs=dirs, disable=plugin_cfg.disable)
    if pm.load_errors and config_path:
        raise ConfigError(source, [f"plugins: {e}" for e in pm.load_errors])
    config = build_config(raw, source=source, base_dir=base_dir, sections=pm.config_sections())
    for name, impl in pm.implementations("configure"):
        try:
            impl(config=config)
        except Exception as exc:
            raise ConfigError(source, [f"plugin {name!r} rejected the config: {type(exc).__name__}: {exc}"]) from None
    return Runtime(pm=pm, config=config)
