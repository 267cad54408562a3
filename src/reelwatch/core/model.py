"""Core values of reelwatch: immutable, no I/O.

Data flows one way: volume event -> stable file -> :class:`Asset` -> :class:`Facts`
(probed once, cached) -> checks -> :class:`Finding` -> routing to roles -> outbox.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from fractions import Fraction
from types import MappingProxyType
from typing import Any

# exact frame rates live in .rates; they are re-exported here, where their callers import them
from .rates import config_rate as config_rate
from .rates import format_rate as format_rate
from .rates import parse_rate as parse_rate

ROLES = ("dit", "editorial", "vfx", "sound", "colour", "supervisor", "admin")
"""The roles reelwatch knows out of the box. A config may define more."""


class Severity(IntEnum):
    """How bad a finding is. ``ERROR`` and worse make ``reelwatch check`` exit 1."""

    INFO = 10
    WARNING = 20
    ERROR = 30
    BLOCKER = 40

    @classmethod
    def parse(cls, value: str | int | Severity) -> Severity:
        """A severity from config text (``"warning"``, any case), its number or itself; ValueError
        naming the allowed ones otherwise."""
        if isinstance(value, Severity):
            return value
        if isinstance(value, int):
            return cls(value)
        try:
            return cls[value.strip().upper()]
        except KeyError:
            allowed = ", ".join(s.name.lower() for s in cls)
            raise ValueError(f"unknown severity {value!r}; allowed: {allowed}") from None

    @property
    def label(self) -> str:
        """The lower-case name, as configs and JSON write it: ``warning``."""
        return self.name.lower()


_SCALARS = (str, int, float, bool, type(None))


def freeze(value: Any) -> Any:
    """Return a deeply read-only copy of JSON-like data (dicts become mapping proxies)."""
    kind = type(value)
    if kind in _SCALARS:
        return value
    if kind is MappingProxyType:
        return value
    if isinstance(value, Mapping):
        return MappingProxyType({str(k): v if type(v) in _SCALARS else freeze(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return tuple(v if type(v) in _SCALARS else freeze(v) for v in value)
    return value


def _json_default(value: Any) -> Any:
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, Fraction):
        return f"{value.numerator}/{value.denominator}"
    return str(value)


def thaw(value: Any) -> Any:
    """Inverse of :func:`freeze`: plain dicts and lists, ready for JSON."""
    if isinstance(value, Mapping):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [thaw(v) for v in value]
    if isinstance(value, Fraction):
        return f"{value.numerator}/{value.denominator}"
    return value


@dataclass(frozen=True, slots=True)
class SequenceInfo:
    """The frames of an image sequence (``plate.1001-1010#.dpx``) seen as one asset."""

    pattern: str
    """fileseq-style pattern of the whole run, e.g. ``plate.1001-1010#.dpx``."""
    frames: tuple[int, ...]
    """Frame numbers present on disk, ascending."""
    frame_sizes: tuple[int, ...]
    """Size in bytes of each frame in ``frames``, same order."""
    padding: int
    """Number of digits in the frame number (0 when unpadded)."""
    frame_names: tuple[str, ...] = ()
    """File names of the frames, same order (relative to the asset's folder)."""


@dataclass(frozen=True, slots=True)
class Asset:
    """One settled file, or one image sequence, on a volume.

    ``key`` identifies this *version* of the asset: a changed size or mtime is a new version.
    """

    volume: str
    """Name of the volume it is on, as the config names it (``ingest``, ``delivery``)."""
    root: str
    """Absolute path of the volume's root folder."""
    relpath: str
    """Path relative to the volume root, with ``/`` (for a sequence: its folder and pattern)."""
    size: int
    """Size in bytes (for a sequence: of all its frames)."""
    mtime_ns: int
    """Modification time in nanoseconds since the epoch (for a sequence: its newest frame)."""
    sequence: SequenceInfo | None = None
    """The frames, when the asset is an image sequence; None for a single file."""

    @property
    def path(self) -> str:
        """Absolute path (for a sequence: the pattern inside its folder)."""
        root = self.root.rstrip("/")
        return f"{root}/{self.relpath}" if self.relpath not in ("", ".") else (root or "/")

    @property
    def name(self) -> str:
        """The file name (for a sequence: its pattern, ``plate.1001-1010#.dpx``)."""
        return self.relpath.rpartition("/")[2]

    @property
    def folder(self) -> str:
        """Folder of the asset, relative to the volume root ('' at the top)."""
        return self.relpath.rpartition("/")[0]

    @property
    def key(self) -> tuple[str, str, int, int]:
        """(volume, relpath, size, mtime_ns): this version of the asset."""
        return (self.volume, self.relpath, self.size, self.mtime_ns)

    def member_paths(self) -> tuple[str, ...]:
        """Absolute paths of the files behind this asset (one, or every frame)."""
        if self.sequence is None:
            return (self.path,)
        base = f"{self.root.rstrip('/')}/{self.folder}".rstrip("/")
        return tuple(f"{base}/{n}" for n in self.sequence.frame_names)


@dataclass(frozen=True, slots=True)
class Facts:
    """What is known about one asset version, probed once and cached.

    Track fields keep MediaInfo's own names and units (``format``, ``frame_rate``, ``istruncated``,
    ``general_compliance`` ...) so that MediaConch policies can address them: durations and delays
    are in milliseconds, frame rates are text (``"23.976"``), sizes in bytes, sample rates in Hz.
    Plugins read them with units through :func:`reelwatch.api.media` (frame rate as a Fraction,
    duration in seconds). ``derived`` holds facts that collector plugins add, such as the fields
    parsed from a name.
    """

    kind: str
    """``media``, ``image_sequence``, ``empty``, ``unreadable``, ``missing`` or ``sidecar`` (a checksum
    list, ASC MHL or XML file: a record about media, not handed to MediaInfo)."""
    general: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    """MediaInfo's General track: ``format``, ``duration`` (ms), ``file_size`` (bytes), ``istruncated`` ..."""
    video: tuple[Mapping[str, Any], ...] = ()
    """Video tracks: ``format``, ``width``, ``height``, ``frame_rate`` (text), ``framerate_num``/``_den`` ..."""
    audio: tuple[Mapping[str, Any], ...] = ()
    """Audio tracks: ``format``, ``sampling_rate`` (Hz), ``bit_depth``, ``channel_s`` ..."""
    image: tuple[Mapping[str, Any], ...] = ()
    """Image tracks (stills, and sampled frames of an image sequence)."""
    other: tuple[Mapping[str, Any], ...] = ()
    """Other tracks, such as a timecode track (``time_code_of_first_frame``)."""
    text: tuple[Mapping[str, Any], ...] = ()
    """Text tracks (subtitles, captions)."""
    error: str | None = None
    """Why probing failed or was incomplete (timeout, crash, unreadable), in plain words."""
    derived: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    """What ``collect`` hooks added (the naming plugin: ``{"fields": {"show": ..., "shot": ...}}``)."""
    probe: str = ""
    """Which probe produced these facts, e.g. ``mediainfo 24.12``."""

    @property
    def is_media(self) -> bool:
        """True for a probed media file or image sequence (not empty, unreadable, missing or a sidecar)."""
        return self.kind in ("media", "image_sequence")

    @property
    def picture(self) -> Mapping[str, Any] | None:
        """The first video or image track, if any."""
        if self.video:
            return self.video[0]
        if self.image:
            return self.image[0]
        return None

    def tracks(self, kind: str) -> tuple[Mapping[str, Any], ...]:
        """Tracks by MediaInfo track type name (``General``, ``Video``, ``Audio`` ...)."""
        kind = kind.lower()
        if kind == "general":
            return (self.general,) if self.general else ()
        return getattr(self, kind, ()) if kind in ("video", "audio", "image", "other", "text") else ()

    def with_derived(self, extra: Mapping[str, Any]) -> Facts:
        """A copy with ``extra`` merged into :attr:`derived`."""
        merged = {**thaw(self.derived), **thaw(extra)}
        return Facts(
            kind=self.kind, general=self.general, video=self.video, audio=self.audio,
            image=self.image, other=self.other, text=self.text, error=self.error,
            derived=freeze(merged), probe=self.probe,
        )

    def to_json(self) -> str:
        """The facts as JSON, as the state database caches them."""
        return json.dumps({
            "kind": self.kind, "general": self.general, "video": self.video, "audio": self.audio,
            "image": self.image, "other": self.other, "text": self.text, "error": self.error,
            "derived": self.derived, "probe": self.probe,
        }, default=_json_default)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Facts:
        """Facts from plain data (``{"kind": "media", "audio": [{"sampling_rate": 48000}]}``), frozen;
        MediaInfo's field names and units, as pymediainfo reports them."""
        return cls(
            kind=data.get("kind", "media"),
            general=freeze(data.get("general") or {}),
            video=freeze(data.get("video") or ()),
            audio=freeze(data.get("audio") or ()),
            image=freeze(data.get("image") or ()),
            other=freeze(data.get("other") or ()),
            text=freeze(data.get("text") or ()),
            error=data.get("error"),
            derived=freeze(data.get("derived") or {}),
            probe=data.get("probe", ""),
        )

    @classmethod
    def from_json(cls, text: str) -> Facts:
        """Inverse of :meth:`to_json`."""
        return cls.from_mapping(json.loads(text))


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem (or notice) about one asset, raised by one rule.

    ``rule`` is a stable dotted id (``naming.field``, ``spec.frame_rate``) used for
    suppression, docs and routing. ``owner`` is the role that must fix it; ``impacts``
    are the roles downstream that it affects, and ``impact`` says how, in plain words.
    """

    rule: str
    """Stable dotted id of the rule, ``<family>.<name>``; documented by the plugin's ``rules`` hook."""
    severity: Severity
    """How bad it is; a config can override it per rule."""
    asset: Asset
    """The asset the problem is about."""
    message: str
    """What is wrong, in plain words, one sentence; the same problem gives the same message."""
    owner: str | None = None
    """The role that must fix it; None: the owner of the asset's volume."""
    impacts: tuple[str, ...] = ()
    """Roles downstream that it affects; each is told, with :attr:`impact`."""
    expected: str = ""
    """What the workflow requires, in plain words."""
    impact: str = ""
    """How the impacted roles are affected, in plain words."""
    fix: str = ""
    """The concrete next step."""
    plugin: str = ""
    """Name of the plugin that raised it (filled in by the pipeline)."""
    details: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    """Rule-specific data, JSON-like. Keys the core reads: ``root_cause`` (True: the other content
    findings of the asset are folded under this one, listed in ``also``), ``consequence_of`` (a
    batch finding that only repeats problems on these files: ``[[volume, relpath], ...]`` per file;
    ``explained`` is set when they are all on record, and nobody is told), ``positive`` (good news
    such as "safe to format": ``{"headline", "retraction", "places"}``; sent in a message of its own
    and retracted loudly when resolved). See :mod:`reelwatch.checking.fold` and :mod:`reelwatch.notify.verdicts`."""

    @property
    def path(self) -> str:
        """Absolute path of the asset."""
        return self.asset.path

    @property
    def fingerprint(self) -> str:
        """Identity of this finding for de-duplication: same rule, same asset, same message."""
        return f"{self.rule}\x1f{self.asset.volume}\x1f{self.asset.relpath}\x1f{self.message}"

    def to_dict(self) -> dict[str, Any]:
        """The finding as plain JSON-ready data, as ``reelwatch check --format json`` prints it."""
        return {
            "rule": self.rule,
            "severity": self.severity.label,
            "path": self.path,
            "volume": self.asset.volume,
            "relpath": self.asset.relpath,
            "message": self.message,
            "expected": self.expected,
            "owner": self.owner,
            "impacts": list(self.impacts),
            "impact": self.impact,
            "fix": self.fix,
            "plugin": self.plugin,
            "details": thaw(self.details),
        }


@dataclass(frozen=True, slots=True)
class RuleInfo:
    """Documentation of one rule id, returned by the ``rules`` hook."""

    id: str
    """The rule id its findings carry."""
    summary: str
    """What the rule catches, one sentence."""
    severity: Severity
    """Default severity of its findings (a config can override it per rule)."""
    owner: str | None
    """Default owner role; None: the volume's owner."""
    impacts: tuple[str, ...] = ()
    """Roles it usually affects."""
    example: str = ""
    """An example message."""


def as_tuple(items: Iterable[str] | str | None) -> tuple[str, ...]:
    if items is None:
        return ()
    if isinstance(items, str):
        return (items,)
    return tuple(items)


@dataclass(frozen=True, slots=True)
class Notice:
    """One finding as one role hears about it."""

    kind: str
    """``new`` (you own it), ``affects`` (someone else owns it, it affects you), ``resolved``,
    ``escalated`` (unacknowledged past the owner's delay) or ``changed``."""
    finding: Mapping[str, Any]
    """:meth:`Finding.to_dict` of the finding, plus ``id`` (the finding id for ``reelwatch ack``)."""


@dataclass(frozen=True, slots=True)
class Message:
    """One message to one role: a digest of notices, or a plain notice (test, admin, safe-to-format)."""

    role: str
    """The role it is for."""
    production: str
    """The production's name, for the title."""
    notices: tuple[Notice, ...] = ()
    """The findings it carries, as the role hears about them (a digest)."""
    kind: str = "findings"
    """``findings`` (a digest of notices), ``test``, ``admin``, ``positive`` (good news such as "safe to
    format") or ``retraction`` (good news that no longer holds)."""
    subject: str = ""
    """Title for non-digest messages (digests derive theirs from the notices)."""
    text: str = ""
    """Body for non-digest messages, plain words."""
    attachments: tuple[str, ...] = ()
    """Local file paths (e.g. a frame grab) for channels that take attachments."""
    id: int = 0
    """Outbox id, 0 before it is stored."""
    key: str = ""
    """Idempotency key, the same on every attempt to deliver this message (``rw-`` and 12 hex
    digits): shown to the receiver so that a repeat can be recognised and dropped."""
    repeat: bool = False
    """An earlier attempt to deliver it to this target may have arrived: reelwatch stopped
    while that attempt was in flight, so the receiver may get it twice (same key)."""

    @property
    def severity(self) -> Severity:
        """The worst severity among the notices."""
        worst = [Severity.parse(n.finding.get("severity", "info")) for n in self.notices]
        return max(worst, default=Severity.INFO)

    @property
    def volumes(self) -> tuple[str, ...]:
        """The volumes the notices are about, sorted."""
        return tuple(sorted({str(n.finding.get("volume", "")) for n in self.notices} - {""}))
