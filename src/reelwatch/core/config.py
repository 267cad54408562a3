"""Production config: TOML (read by :func:`reelwatch.checking.runtime.read_toml`) in, a validated and frozen
:class:`Config` out (:func:`build_config`).

Errors name the file, the key path, what was found and what is allowed, and unknown keys
come with a "did you mean" suggestion. Plugins own their ``[rules.<name>]`` sections and
validate them with the model they return from the ``config_sections`` hook.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .config_lines import key_lines, line_of, raw_list, raw_map
from .config_web import Web, WebUser, is_loopback  # noqa: F401 (re-exported: the web pages and the CLI)
from .model import Severity, config_rate
from .wording import did_you_mean


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    """One thing wrong (or worth a warning) in a config, and where it is written."""

    text: str
    """Plain words, led by the key path: ``volumes[0].kind: ...``."""
    loc: tuple[Any, ...] = ()
    """Key path, to find the line it is written on."""
    line: int | None = None
    located: bool = False
    """The text starts with its own ``file:line`` (a plugin file), not the config's."""

    def render(self, source: str, prefix: str = "") -> str:
        if self.located:
            return f"{prefix}{self.text}"
        return f"{source}:{self.line}: {prefix}{self.text}" if self.line else f"{source}: {prefix}{self.text}"


def locate(problems: Sequence[str | ConfigProblem], text: str | None) -> list[ConfigProblem]:
    """Problems with their line numbers filled in from the config ``text``, duplicates dropped."""
    lines = key_lines(text) if text else {}
    out: list[ConfigProblem] = []
    seen: set[str] = set()
    for p in problems:
        item = p if isinstance(p, ConfigProblem) else ConfigProblem(str(p))
        if item.text in seen:
            continue
        seen.add(item.text)
        if item.line is None and item.loc and lines:
            item = replace(item, line=line_of(lines, item.loc))
        out.append(item)
    return out


class ConfigError(Exception):
    """A config that cannot be used. ``problems`` holds one line per problem (led by its key
    path), ``items`` the same with where each is written; ``str()`` lists them all, one
    ``file:line: ...`` per line, like a linter."""

    def __init__(self, source: str, problems: Sequence[str | ConfigProblem], text: str | None = None):
        self.source = source
        # in file order, like a linter; problems in other files (plugins) after the config's own
        self.items = sorted(locate(problems, text), key=lambda p: (p.located, p.line is None, p.line or 0))
        self.problems = [p.text for p in self.items]
        self.warnings: list[str] = []
        """``file:line: warning: ...`` lines found alongside (printed after the problems)."""
        super().__init__(f"{source}: " + "; ".join(self.problems))

    def lines(self) -> list[str]:
        return [p.render(self.source) for p in self.items]

    def __str__(self) -> str:
        count = len(self.items)
        return "\n".join([f"{self.source}: invalid config ({count} problem{'s' if count != 1 else ''})",
                          *self.lines(), *self.warnings])


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


from .config_state import State  # noqa: E402  (the [state] table: one SQLite file, or a fleet's PostgreSQL)


class Production(_Strict):
    name: str = "Untitled production"
    base_frame_rate: str | None = None
    """The production's base frame rate, e.g. ``24000/1001``; every spec profile inherits it."""

    @field_validator("base_frame_rate", mode="before")
    @classmethod
    def _rate(cls, v: Any) -> str | None:
        if v is not None:
            config_rate(v)  # raises ValueError with the exact choices
            return str(v).strip()
        return v


class Role(_Strict):
    notify: tuple[str, ...] = ()
    """apprise URLs, or paths to apprise YAML/text configs whose tags are role names."""
    escalate_to: str | None = None
    escalate_after: float = Field(default=3600, ge=0)
    quiet_hours: str | None = None
    """``"22:00-07:00"``: only blocker findings are sent in this window (local time)."""
    description: str = ""

    @field_validator("quiet_hours")
    @classmethod
    def _quiet(cls, v: str | None) -> str | None:
        if v is None:
            return v
        import re
        if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d", v):
            raise ValueError(f"{v!r} is not a time window; write it as 'HH:MM-HH:MM', e.g. '22:00-07:00'")
        return v


class Volume(_Strict):
    """One watched volume of ``[[volumes]]``: its ``name``, ``path``, ``kind`` (``ingest`` or
    ``delivery``), ``owner`` role, and how it is watched."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    path: str
    kind: Literal["ingest", "delivery"] = "ingest"
    owner: str = "dit"
    settle: float = Field(default=10, ge=0)
    observer: Literal["auto", "inotify", "polling"] = "auto"
    poll_interval: float = Field(default=5, gt=0)
    reconcile_interval: float = Field(default=3600, ge=0)
    """Seconds between safety-net rescans of the whole volume (0 disables)."""
    mhl_generate: bool = False
    """Write a new ASC MHL generation after checks: the only write reelwatch may make here."""
    follow_links_into: tuple[str, ...] = ()
    """Folders outside the volume that links inside it may lead into; such links are followed and
    watched as part of the volume. By default no link to a folder is followed, and one leading
    outside the volume is reported to the owner (``volume.symlink_outside``)."""
    alert_growing_after: float = Field(default=3600, ge=0)
    """Seconds after which a file still being written is reported (``volume.still_growing``; 0: never)."""


class Notify(_Strict):
    digest_window: float = Field(default=30, ge=0)
    max_attempts: int = Field(default=20, ge=1)
    """Tries before a message is dead-lettered; with the backoff cap that is about 2 hours."""
    retry_base: float = Field(default=2.0, gt=0)
    """First retry delay in seconds; doubles per failed try (capped at 10 minutes)."""
    admin_role: str | None = None
    """Role told about dead-lettered messages; defaults to ``admin`` or ``supervisor``."""


class Plugins(_Strict):
    dirs: tuple[str, ...] = ()
    disable: tuple[str, ...] = ()
    """Plugin names to block (builtins and entry points included)."""


class Probe(_Strict):
    timeout: float = Field(default=30, gt=0)
    workers: int = Field(default=0, ge=0)
    """Probe processes; 0 means one per core."""
    noatime: bool | None = None
    """No longer supported, and ignored (a warning says so): MediaInfo's stream mode, which this
    fed through an O_NOATIME descriptor, reported good MXF files as truncated and lost fields.
    MediaInfo opens files itself; hashing, sidecars and frame grabs always read with O_NOATIME.
    Mount a volume with ``noatime`` where access times matter (docs/deploy.md)."""


class Service(_Strict):
    metrics: str | None = None
    """``host:port`` of the Prometheus endpoint, e.g. ``127.0.0.1:9464``; unset disables it."""

    @field_validator("metrics")
    @classmethod
    def _metrics(cls, v: str | None) -> str | None:
        if v is not None:
            from .addresses import check_address
            check_address(v)  # loopback only: the endpoint has no authentication
        return v


class TimelineSource(_Strict):
    """``[[timelines]]``: cut lists named in the config (those that land on volumes are found anyway)."""

    paths: tuple[str, ...] = Field(min_length=1)
    """Globs relative to the volume (``Editorial/Turnovers/**/*.edl``); a file they match is read as a
    cut list whatever its extension, so one that is not is reported rather than skipped."""
    volume: str | None = None
    """The volume they are on; unset: any volume."""
    purpose: Literal["cut", "vfx_pull"] | None = None
    """Unset: guessed from the name (``..._VFX_pull_v03.edl`` is a pull list)."""
    shot_pattern: str | None = None
    """Regular expression finding VFX shot names in a pull list's markers and clip names."""

    @field_validator("shot_pattern")
    @classmethod
    def _pattern(cls, v: str | None) -> str | None:
        if v is not None:
            import re
            try:
                re.compile(v)
            except re.error as exc:
                raise ValueError(f"{v!r} is not a regular expression: {exc}") from None
        return v


class RuleOverride(_Strict):
    severity: str | None = None
    owner: str | None = None
    impacts: tuple[str, ...] | None = None
    enabled: bool = True

    @field_validator("severity")
    @classmethod
    def _sev(cls, v: str | None) -> str | None:
        if v is not None:
            Severity.parse(v)
        return v


class Config(_Strict):
    """The whole production config, validated and frozen."""

    production: Production = Production()
    roles: Mapping[str, Role] = Field(default_factory=dict)
    volumes: tuple[Volume, ...] = ()
    state: State = State()
    notify: Notify = Notify()
    plugins: Plugins = Plugins()
    probe: Probe = Probe()
    service: Service = Service()
    web: Web = Web()
    overrides: Mapping[str, RuleOverride] = Field(default_factory=dict)
    """Per-rule-id overrides of severity, owner and impacts: ``[overrides."spec.frame_rate"]``."""
    rules: Mapping[str, Any] = Field(default_factory=dict)
    """Plugin-owned sections, validated by the plugins' models."""
    timelines: tuple[TimelineSource, ...] = ()
    """Cut lists named in the config (docs/timelines.md)."""
    source: str = "<defaults>"
    base_dir: str = "."

    def volume(self, name: str) -> Volume | None:
        """The volume called ``name``, or None."""
        return next((v for v in self.volumes if v.name == name), None)

    def resolve(self, path: str) -> Path:
        """A path from the config, relative to the config file's folder."""
        p = Path(path).expanduser()
        return p if p.is_absolute() else Path(self.base_dir) / p


def drive_volume_name(template: str, path: str) -> str:
    """The volume name of a drive mounted under a mount-root volume (DIT cart mode):
    ``shuttle`` + ``/media/SHUTTLE 01`` -> ``shuttle-SHUTTLE_01``. The daemon, the mirror rule
    and ``reelwatch rehash`` all name drives this way."""
    import os
    slug = "".join(c if c.isalnum() or c in "._-" else "_" for c in os.path.basename(path))
    return f"{template}-{slug}"




def _loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def _descend(ann: Any, part: Any) -> Any:
    """The type found one step down ``ann`` at ``part`` (a field name, mapping key or index)."""
    origin = typing.get_origin(ann)
    args = typing.get_args(ann)
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        field = ann.model_fields.get(str(part))
        return field.annotation if field is not None else None
    if origin is typing.Annotated:
        return _descend(args[0], part)
    if origin in (typing.Union, types.UnionType):
        for arg in args:
            found = _descend(arg, part)
            if found is not None:
                return found
        return None
    if isinstance(origin, type) and issubclass(origin, Mapping):
        return args[1] if len(args) == 2 else None  # the part is a user's key (a role name ...)
    if isinstance(origin, type) and issubclass(origin, tuple | list):
        return args[0] if args else None
    return None


def _models_in(ann: Any) -> list[type[BaseModel]]:
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return [ann]
    if typing.get_origin(ann) is typing.Annotated:
        return _models_in(typing.get_args(ann)[0])
    return [m for arg in typing.get_args(ann) if typing.get_origin(arg) is None for m in _models_in(arg)]


def _model_fields_at(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """Field names allowed at the parent of ``loc`` (for did-you-mean on unknown keys), at any
    depth: through nested models, mappings of models (``roles.<name>``) and lists of them."""
    current: Any = model
    for part in loc[:-1]:
        if current is None:
            return []
        models = _models_in(current)
        if models and isinstance(part, int):
            continue  # a list index before its element model
        current = _descend(current, part)
    models = _models_in(current) if current is not None else []
    return list(models[-1].model_fields) if models else []


def validation_problems(err: ValidationError, model: type[BaseModel], prefix: tuple[Any, ...] = ()) -> list[ConfigProblem]:
    """One readable problem per pydantic error: key path, what was found, what is allowed."""
    out = []
    for e in err.errors():
        loc = prefix + tuple(e["loc"])
        where = _loc(loc)
        if e["type"] == "extra_forbidden":
            allowed = _model_fields_at(model, tuple(e["loc"]))
            allowed = [a for a in allowed if a not in ("source", "base_dir")]
            hint = did_you_mean(str(e["loc"][-1]), allowed)
            out.append(ConfigProblem(f"{where}: unknown key{hint}; allowed here: {', '.join(allowed) or 'none'}", loc))
            continue
        found = e.get("input")
        # a notification target or the state's URL is never echoed: whatever is there may be a secret
        secret = "notify" in loc or loc[:2] == ("state", "url")
        shown = "" if isinstance(found, dict) or secret else f" (found {found!r})"
        msg = e["msg"].removeprefix("Value error, ")
        out.append(ConfigProblem(f"{where}: {msg}{shown}", loc))
    return out


def format_validation_error(err: ValidationError, model: type[BaseModel], prefix: tuple[Any, ...] = (),
                            data: Any = None) -> list[str]:
    """One readable line per pydantic error: key path, what was found, what is allowed."""
    return [p.text for p in validation_problems(err, model, prefix)]


SectionValidator = Callable[[Any], Any]


def _cross_problems(raw: Mapping[str, Any]) -> list[ConfigProblem]:
    """Checks across sections (unique volume names, roles that exist), on the raw data, so
    that they are reported in the same run as every other mistake."""
    out: list[ConfigProblem] = []
    volumes = [v if isinstance(v, Mapping) else {} for v in raw_list(raw, "volumes")]
    names: list[str] = [v["name"] for v in volumes if isinstance(v.get("name"), str)]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        first = next(i for i, v in enumerate(volumes) if v.get("name") in dupes)
        out.append(ConfigProblem(f"volumes: volume names must be unique; repeated: {', '.join(dupes)}",
                           ("volumes", first, "name")))
    sources = raw_list(raw, "timelines")
    for i, t in enumerate(sources):
        volume = t.get("volume") if isinstance(t, Mapping) else None
        if isinstance(volume, str) and volume not in names:
            out.append(ConfigProblem(f"timelines[{i}].volume: volume {volume!r} is not defined under [[volumes]]"
                                     + did_you_mean(volume, names), ("timelines", i, "volume")))
    roles = raw_map(raw, "roles")
    known = set(roles)
    if not known:
        return out
    for i, v in enumerate(volumes):
        owner = v.get("owner", "dit")
        if isinstance(owner, str) and owner not in known:
            out.append(ConfigProblem(f"volumes[{i}].owner: role {owner!r} is not defined under [roles]"
                               + did_you_mean(owner, known), ("volumes", i, "owner")))
    for name, role in roles.items():
        target = role.get("escalate_to") if isinstance(role, Mapping) else None
        if isinstance(target, str) and target not in known:
            out.append(ConfigProblem(f"roles.{name}.escalate_to: role {target!r} is not defined" + did_you_mean(target, known),
                               ("roles", name, "escalate_to")))
    notify = raw_map(raw, "notify")
    admin = notify.get("admin_role")
    if isinstance(admin, str) and admin not in known:
        out.append(ConfigProblem(f"notify.admin_role: role {admin!r} is not defined under [roles]" + did_you_mean(admin, known),
                           ("notify", "admin_role")))
    return out


def build_config(raw: Mapping[str, Any], *, source: str = "<config>", base_dir: str = ".",
                 sections: Mapping[str, Any] | None = None, text: str | None = None) -> Config:
    """Validate a parsed config mapping; plugin sections are validated with ``sections``.

    Every mistake is collected before anything is raised: the core sections, the checks
    across them and each plugin's section, so one run of ``reelwatch config validate`` lists
    them all. ``text`` (the file's TOML) lets each problem name its line.
    """
    data = dict(raw)
    data["source"] = source
    data["base_dir"] = base_dir
    problems: list[ConfigProblem] = []
    for reserved in ("source", "base_dir"):
        if reserved in raw:
            problems.append(ConfigProblem(f"{reserved}: unknown key; it is set by reelwatch", (reserved,)))
    config: Config | None = None
    try:
        config = Config.model_validate(data)
    except ValidationError as err:
        problems += validation_problems(err, Config)
    problems += _cross_problems(raw)
    validated: dict[str, Any] = {}
    sections = sections or {}
    rules = raw_map(raw, "rules")
    for name, section in rules.items():
        validator = sections.get(name)
        if validator is None:
            problems.append(ConfigProblem(f"rules.{name}: no loaded plugin owns this section{did_you_mean(name, sections)}; "
                                    f"known sections: {', '.join(sorted(sections)) or 'none'}", ("rules", name)))
            continue
        try:
            if isinstance(validator, type) and issubclass(validator, BaseModel):
                validated[name] = validator.model_validate(section)
            else:
                validated[name] = validator(section)
        except ValidationError as err:
            problems += validation_problems(err, validator, prefix=("rules", name))
        except Exception as exc:  # a plugin's own validator: its failure is a config problem, never a crash
            problems.append(ConfigProblem(f"rules.{name}: {exc}" if isinstance(exc, ValueError | TypeError)
                                    else f"rules.{name}: the plugin's validator failed: {type(exc).__name__}: {exc}",
                                    ("rules", name)))
    if problems or config is None:
        raise ConfigError(source, problems, text=text)
    return config.model_copy(update={"rules": validated})


def default_config(**raw: Any) -> Config:
    """Config used by ``reelwatch check`` with no ``--config``: builtin sanity checks only."""
    return build_config(raw, source="<defaults>")

