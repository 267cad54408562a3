"""Assemble a runtime: load plugins in order, validate the config against them, configure."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ..builtin.ignore import IgnoreRules
from ..builtin.notify_apprise import AppriseNotifier
from ..builtin.sanity import Sanity
from ..core.config import Config, ConfigError, Plugins, ConfigProblem, build_config
from ..core.config_paths import config_warnings, override_warnings
from ..core.manager import PluginManager
from ..probe.pool import MediaInfoProbe, ProbePool
from ..core.redact import config_redactor


def builtin_plugins(pool: ProbePool | None) -> list[tuple[str, object]]:
    from .timelines import CutLists
    plugins: list[tuple[str, object]] = [("ignore", IgnoreRules()), ("sanity", Sanity()),
                                         ("apprise", AppriseNotifier()), ("timeline", CutLists())]
    if pool is not None:
        plugins.append(("mediainfo", MediaInfoProbe(pool)))
    return plugins


def read_config(path: str | Path) -> tuple[str, dict[str, Any]]:
    """The config file's text and its parsed TOML; ConfigError (with the line) when unusable."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(source, ["file not found"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(source, [f"cannot read it: {getattr(exc, 'strerror', None) or exc}"]) from None
    try:
        return text, tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        where = re.search(r"\(at line (\d+), column \d+\)", str(exc))
        raise ConfigError(source, [ConfigProblem(f"not valid TOML: {exc}", line=int(where[1]) if where else None)]
                          ) from None


def read_toml(path: str | Path) -> dict[str, Any]:
    return read_config(path)[1]


@dataclass
class Runtime:
    """A loaded plugin manager and the config validated against it."""

    pm: PluginManager
    config: Config
    warnings: list[str] = field(default_factory=list)
    """``file:line: ...`` lines about what is valid but will not work as meant."""


def _load_problem(error: str) -> ConfigProblem:
    """A plugin load error: located in the plugin file when it names one, else at [plugins]."""
    if Path(error.split(":", 1)[0]).is_absolute():
        return ConfigProblem(error, located=True)
    return ConfigProblem(f"plugins: {error}", ("plugins", "dirs") if "directory" in error else ("plugins",))


def load_runtime(config_path: str | Path | None, pool: ProbePool | None) -> Runtime:
    """Load plugins (builtins, shipped, entry points, config dirs) and validate the config.

    Raises :class:`ConfigError` with every problem found, plugins' included, in one go;
    nothing is half-applied. A problem never quotes a secret: URLs and secret-looking values of
    the config are redacted from it, wherever they were written (problems reach the journal,
    the audit table and the admin).
    """
    text, raw = read_config(config_path) if config_path else (None, {})
    source = str(config_path) if config_path else "<defaults>"
    base_dir = str(Path(config_path).resolve().parent) if config_path else str(Path.cwd())
    try:
        plugin_cfg = Plugins.model_validate(raw.get("plugins") or {})
    except ValidationError:
        plugin_cfg = Plugins()  # its mistakes are reported with the rest by build_config
    pm = PluginManager()
    dirs = [Path(base_dir) / d if not Path(d).is_absolute() else Path(d) for d in plugin_cfg.dirs]
    pm.load(builtins=builtin_plugins(pool), dirs=dirs, disable=plugin_cfg.disable)
    sections = pm.config_sections()
    rule_ids = {r.id for r in pm.rule_infos()}  # a plugin whose rules() fails is a load error now
    problems: list[ConfigProblem] = []
    if pm.load_errors and config_path:
        problems += [_load_problem(e) for e in pm.load_errors]
    config: Config | None = None
    try:
        config = build_config(raw, source=source, base_dir=base_dir, sections=sections, text=text)
    except ConfigError as err:
        problems += err.items
    if config is not None:
        problems += [ConfigProblem(p, ("rules",)) for p in pm.configure(config)]
    warnings = [w.render(source, "warning: ") for w in [*config_warnings(raw, base_dir, text),
                                                         *override_warnings(raw, rule_ids, text)]]
    if problems or config is None:
        redact = config_redactor(raw)
        err = ConfigError(source, [replace(p, text=redact(p.text)) for p in problems], text=text)
        err.warnings = [redact(w) for w in warnings]
        raise err
    return Runtime(pm=pm, config=config, warnings=warnings)
