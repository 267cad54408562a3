"""Technical spec profiles: the ``[rules.spec]`` config schema.

A profile names allowed sets (container, codec, resolution, frame rate, bit depth, chroma,
colour, audio, timecode, duration) and may import a MediaConch policy; profiles may extend
one another. ``[[rules.spec.apply]]`` assigns profiles to volumes and path globs; the first
matching entry wins. Values are checked when the config loads (exact frame rates, NTSC rates
written as decimals, resolutions, timecodes, unknown keys and profile references), so a
mistake is reported with a suggestion before anything is judged. The checks themselves are
:mod:`reelwatch.spec.profiles`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from ..core.globs import applies
from .mediaconch_policy import Policy, PolicyError, load_policy
from ..core.model import Asset, config_rate
from ..core.wording import did_you_mean

__all__ = ["Ints", "SpecApply", "SpecConfig", "SpecProfile", "Strs"]

_TIMECODE = re.compile(r"\d\d:[0-5]\d:[0-5]\d[:;.]\d\d")
_RESOLUTION = re.compile(r"\s*(\d+)\s*[xX×]\s*(\d+)\s*")


def _listify(value: Any) -> Any:
    if value is None or isinstance(value, list | tuple):
        return value
    return [value]


Strs = Annotated[tuple[str, ...], BeforeValidator(_listify)]
"""One value or a list of them in TOML (``codec = "ProRes"`` or ``codec = ["ProRes", "DNxHR"]``)."""
Ints = Annotated[tuple[int, ...], BeforeValidator(_listify)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SpecProfile(_Strict):
    """One named profile, ``[rules.spec.profiles.<name>]``. Empty sets mean "not checked"."""

    extends: str | None = None
    """Name of a profile whose settings this one starts from."""
    description: str = ""
    owner: str | None = None
    """Role that fixes findings of this profile (default: the volume's owner on ingest
    volumes, ``vfx`` on delivery volumes)."""
    container: Strs = ()
    codec: Strs = ()
    codec_profile: Strs = ()
    resolution: Strs = ()
    width: Ints = ()
    height: Ints = ()
    frame_rate: tuple[str, ...] | None = None
    """Exact rates (``"24000/1001"``, ``"25"``); unset inherits the production's base rate."""
    scan_type: Strs = ()
    field_order: Strs = ()
    bit_depth: Ints = ()
    chroma_subsampling: Strs = ()
    colour_primaries: Strs = ()
    transfer: Strs = ()
    matrix: Strs = ()
    audio_codec: Strs = ()
    audio_sample_rate: Ints = ()
    audio_bit_depth: Ints = ()
    audio_channels: Ints = ()
    """Total channels over all audio tracks; include 0 to allow files without audio."""
    audio_layout: Strs = ()
    timecode: str | None = None
    """``"required"``, or the timecode the clip must start at (``"01:00:00:00"``)."""
    min_duration: float | None = Field(default=None, ge=0)
    """Shortest allowed duration in seconds; unset means the duration must be above 0."""
    policy: str | None = None
    """A MediaConch policy XML file (relative to the config file) evaluated as part of the profile."""

    @field_validator("frame_rate", mode="before")
    @classmethod
    def _rates(cls, v: Any) -> Any:
        if v is None:
            return v
        out = []
        for item in _listify(v):
            text = str(item).strip()
            if text.lower() == "any":
                out.append("any")
                continue
            config_rate(item)  # the one parser of rates from configs: exact, or the choices
            out.append(text)
        return out

    @field_validator("resolution")
    @classmethod
    def _resolutions(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for item in v:
            if not _RESOLUTION.fullmatch(item):
                raise ValueError(f"{item!r} is not a resolution; write WIDTHxHEIGHT, e.g. '1920x1080'")
        return v

    @field_validator("timecode")
    @classmethod
    def _timecode(cls, v: str | None) -> str | None:
        if v is not None and v != "required" and not _TIMECODE.fullmatch(v):
            raise ValueError(f"{v!r} is not a timecode; write 'required' or the start, e.g. '01:00:00:00'")
        return v


class SpecApply(_Strict):
    """``[[rules.spec.apply]]``: which profile applies where."""

    profile: str
    volumes: Strs = ()
    globs: Strs = ()
    owner: str | None = None
    """Role that fixes findings here, overriding the profile's and the volume's."""


class SpecConfig(_Strict):
    """``[rules.spec]``: named profiles and where they apply."""

    profiles: dict[str, SpecProfile] = Field(default_factory=dict)
    apply: tuple[SpecApply, ...] = ()
    _policies: dict[str, tuple[tuple[int, int], Policy | PolicyError]] = PrivateAttr(default_factory=dict)

    @field_validator("profiles", mode="before")
    @classmethod
    def _known_keys(cls, v: Any) -> Any:
        """Name unknown profile keys with a suggestion (the generic error cannot see into the table)."""
        allowed = list(SpecProfile.model_fields)
        for name, body in (v.items() if isinstance(v, dict) else ()):
            for key in (body if isinstance(body, dict) else ()):
                if key not in allowed:
                    raise ValueError(f"profile {name!r} has an unknown key {key!r}{did_you_mean(key, allowed)}; "
                                     f"allowed: {', '.join(allowed)}")
        return v

    @model_validator(mode="after")
    def _references(self) -> SpecConfig:
        names = list(self.profiles)
        for i, entry in enumerate(self.apply):
            if entry.profile not in self.profiles:
                raise ValueError(f"apply[{i}].profile: no profile named {entry.profile!r}"
                                 f"{did_you_mean(entry.profile, names)}; defined: {', '.join(names) or 'none'}")
        for name in names:
            seen = [name]
            parent = self.profiles[name].extends
            while parent is not None:
                if parent not in self.profiles:
                    raise ValueError(f"profiles.{seen[-1]}.extends: no profile named {parent!r}"
                                     f"{did_you_mean(parent, names)}")
                if parent in seen:
                    raise ValueError(f"profiles.{name}.extends: profiles extend each other in a loop: "
                                     + " -> ".join(seen + [parent]))
                seen.append(parent)
                parent = self.profiles[parent].extends
        return self

    def resolved(self, name: str) -> SpecProfile:
        """The profile with everything it ``extends`` filled in (own settings win)."""
        profile = self.profiles[name]
        if profile.extends is None:
            return profile
        base = self.resolved(profile.extends)
        own = {k: getattr(profile, k) for k in profile.model_fields_set if k != "extends"}
        return base.model_copy(update={**own, "extends": None})

    def match(self, asset: Asset) -> SpecApply | None:
        """The first ``apply`` entry whose volumes and globs cover this asset."""
        return next((a for a in self.apply if applies(asset.relpath, asset.volume, a.volumes, a.globs)), None)

    def policy(self, path: Path) -> Policy | PolicyError:
        """The parsed policy at ``path``, re-read when the file changes."""
        try:
            st = path.stat()
            stamp = (st.st_mtime_ns, st.st_size)
        except OSError:
            stamp = (-1, -1)
        cached = self._policies.get(str(path))
        if cached is not None and cached[0] == stamp:
            return cached[1]
        try:
            result: Policy | PolicyError = load_policy(path)
        except PolicyError as exc:
            result = exc
        self._policies[str(path)] = (stamp, result)
        return result


