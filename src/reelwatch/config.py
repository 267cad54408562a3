"""Production config: TOML (read by :func:`reelwatch.app.read_toml`) in, a validated and frozen
:class:`Config` out (:func:`build_config`).

Errors name the file, the key path, what was found and what is allowed, and unknown keys
come with a "did you mean" suggestion. Plugins own their ``[rules.<name>]`` sections and
validate them with the model they return from the ``config_sections`` hook.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .model import Severity, parse_rate


class ConfigError(Exception):
    """A config that cannot be used. ``problems`` holds one line per problem."""

    def __init__(self, source: str, problems: list[str]):
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: " + "; ".join(problems))

    def __str__(self) -> str:
        lines = [f"{self.source}: invalid config ({len(self.problems)} problem(s))"]
        lines += [f"  - {p}" for p in self.problems]
        return "\n".join(lines)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Production(_Strict):
    name: str = "Untitled production"
    base_frame_rate: str | None = None
    """The production's base frame rate, e.g. ``24000/1001``; every spec profile inherits it."""

    @field_validator("base_frame_rate")
    @classmethod
    def _rate(cls, v: str | None) -> str | None:
        if v is not None and parse_rate(v) is None:
            raise ValueError(f"{v!r} is not a frame rate; write it exactly, e.g. '24000/1001' or '25'")
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


class State(_Strict):
    path: str = "reelwatch-state.db"


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
            from .metrics import check_address
            check_address(v)  # loopback only: the endpoint has no authentication
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
    overrides: Mapping[str, RuleOverride] = Field(default_factory=dict)
    """Per-rule-id overrides of severity, owner and impacts: ``[overrides."spec.frame_rate"]``."""
    rules: Mapping[str, Any] = Field(default_factory=dict)
    """Plugin-owned sections, validated by the plugins' models."""
    source: str = "<defaults>"
    base_dir: str = "."

    @model_validator(mode="after")
    def _cross(self) -> Config:
        names = [v.name for v in self.volumes]
        dupes = {n for n in names if names.count(n) > 1}
        if dupes:
            raise ValueError(f"volume names must be unique; repeated: {', '.join(sorted(dupes))}")
        known = set(self.roles)
        if known:
            for i, v in enumerate(self.volumes):
                if v.owner not in known:
                    raise ValueError(f"volumes[{i}].owner: role {v.owner!r} is not defined under [roles]"
                                     + _suggest(v.owner, known))
            for name, role in self.roles.items():
                if role.escalate_to and role.escalate_to not in known:
                    raise ValueError(f"roles.{name}.escalate_to: role {role.escalate_to!r} is not defined"
                                     + _suggest(role.escalate_to, known))
        return self

    def volume(self, name: str) -> Volume | None:
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


def _suggest(word: str, choices: Any) -> str:
    match = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return f" (did you mean {match[0]!r}?)" if match else ""


def _loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def _model_fields_at(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """Field names allowed at the parent of ``loc`` (for did-you-mean on unknown keys)."""
    current: Any = model
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return []
        field = current.model_fields.get(str(part))
        if field is None:
            return []
        ann = field.annotation
        args = [a for a in getattr(ann, "__args__", ()) if isinstance(a, type)]
        nested = [a for a in ([ann] + args) if isinstance(a, type) and issubclass(a, BaseModel)]
        current = nested[-1] if nested else None
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def format_validation_error(err: ValidationError, model: type[BaseModel], prefix: tuple[Any, ...] = (),
                            data: Any = None) -> list[str]:
    """One readable line per pydantic error: key path, what was found, what is allowed."""
    lines = []
    for e in err.errors():
        loc = prefix + tuple(e["loc"])
        where = _loc(loc)
        if e["type"] == "extra_forbidden":
            allowed = _model_fields_at(model, tuple(e["loc"]))
            allowed = [a for a in allowed if a not in ("source", "base_dir")]
            hint = _suggest(str(e["loc"][-1]), allowed)
            lines.append(f"{where}: unknown key{hint}; allowed here: {', '.join(allowed) or 'none'}")
            continue
        found = e.get("input")
        shown = "" if isinstance(found, dict) else f" (found {found!r})"
        msg = e["msg"].removeprefix("Value error, ")
        lines.append(f"{where}: {msg}{shown}")
    return lines


SectionValidator = Callable[[Any], Any]


def build_config(raw: Mapping[str, Any], *, source: str = "<config>", base_dir: str = ".",
                 sections: Mapping[str, Any] | None = None) -> Config:
    """Validate a parsed config mapping; plugin sections are validated with ``sections``."""
    data = dict(raw)
    data["source"] = source
    data["base_dir"] = base_dir
    problems: list[str] = []
    for reserved in ("source", "base_dir"):
        if reserved in raw:
            problems.append(f"{reserved}: unknown key; it is set by reelwatch")
    try:
        config = Config.model_validate(data)
    except ValidationError as err:
        raise ConfigError(source, problems + format_validation_error(err, Config, data=data)) from None
    validated: dict[str, Any] = {}
    sections = sections or {}
    for name, section in config.rules.items():
        validator = sections.get(name)
        if validator is None:
            problems.append(f"rules.{name}: no loaded plugin owns this section{_suggest(name, sections)}; "
                            f"known sections: {', '.join(sorted(sections)) or 'none'}")
            continue
        try:
            if isinstance(validator, type) and issubclass(validator, BaseModel):
                validated[name] = validator.model_validate(section)
            else:
                validated[name] = validator(section)
        except ValidationError as err:
            problems += format_validation_error(err, validator, prefix=("rules", name))
        except (ValueError, TypeError) as exc:
            problems.append(f"rules.{name}: {exc}")
    if problems:
        raise ConfigError(source, problems)
    return config.model_copy(update={"rules": validated})


def deprecations(config: Config) -> list[str]:
    """Settings that are accepted but no longer do anything, in plain words."""
    out = []
    if config.probe.noatime is not None:
        out.append("[probe] noatime is no longer supported and is ignored: MediaInfo's stream mode reported good "
                   "MXF files as truncated. MediaInfo now opens media itself (the first read of a new file may set "
                   "its access time); checksums and sidecars are still read with O_NOATIME. Remove the setting, "
                   "and mount the volume with noatime if access times matter (docs/deploy.md)")
    return out


def default_config(**raw: Any) -> Config:
    """Config used by ``reelwatch check`` with no ``--config``: builtin sanity checks only."""
    return build_config(raw, source="<defaults>")
