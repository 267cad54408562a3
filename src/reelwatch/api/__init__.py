"""The public API for plugin authors: everything a rule plugin may import from reelwatch.

A facility's plugin, and every rule plugin shipped in ``plugins/``, imports reelwatch only from
here and from the family modules below (a test holds the shipped plugins to it). Everything else
in reelwatch is private and may change between releases; what is named here is documented and
kept. The guide is ``docs/plugins.md``; every hook is in :mod:`reelwatch.core.hookspecs`.

- values: :class:`Asset`, :class:`Facts`, :class:`Finding`, :class:`Severity`, :class:`RuleInfo`,
  :class:`SequenceInfo`, the read-only :class:`History` and :class:`AssetRecord`, the validated
  :class:`Config` and its :class:`Volume`; :class:`Message` and :class:`Notice` for a ``notify`` plugin
- the ``@hookimpl`` marker
- facts with units: :func:`media` gives a :class:`Media` (frame rate as a Fraction, duration in
  seconds, sizes in bytes, sample rates in Hz, bit depth, start timecode); exact frame rates with
  :func:`parse_rate`, :func:`config_rate` and :func:`format_rate`
- volumes and scoping: :func:`is_delivery`, :func:`volume_of`, :func:`volume_owner`,
  :func:`default_owner`, :func:`drive_volume_name`, :func:`scope_of`, :func:`applies`, :func:`match`
- plain words: :func:`human_size`, :func:`listed`, :func:`did_you_mean`
- checksums: :data:`ALGORITHMS`, :func:`normalize_algo`

Helpers of the shipped rule families, for plugins that build on them:
:mod:`reelwatch.api.sequences` (frame ranges), :mod:`reelwatch.api.naming` (naming templates and
presets), :mod:`reelwatch.api.spec` (spec profiles and MediaConch policies),
:mod:`reelwatch.api.integrity` (checksum manifests, ASC MHL, hashing) and
:mod:`reelwatch.api.mirrors` (copies of a card and its seal).

What it may import: :mod:`reelwatch.core`, the engines (:mod:`reelwatch.integrity`, :mod:`reelwatch.naming`,
:mod:`reelwatch.spec`) and :mod:`reelwatch.state` (the scope of batch findings); never the pipeline, the
daemon or the command line. Nothing in reelwatch imports it: it is the outside face.
"""

from __future__ import annotations

from ..core.config import Config, Volume, drive_volume_name
from ..core.globs import applies, match
from ..core.hookspecs import AssetRecord, History
from ..core.hookspecs import hookimpl as _hookimpl
from ..core.model import ROLES as _ROLES
from ..core.model import Asset, Facts, Finding, Message, Notice, RuleInfo, SequenceInfo, Severity
from ..core.rates import config_rate, format_rate, parse_rate
from ..core.ownership import default_owner, is_delivery, volume_of, volume_owner
from ..core.wording import did_you_mean, human_size, listed
from ..integrity.hashing import ALGORITHMS as _ALGORITHMS
from ..integrity.hashing import normalize_algo
from ..state.store import scope_of
from .media import Media, Picture, Sound, media

hookimpl = _hookimpl
"""Marks a function as a hook implementation: ``@hookimpl`` above ``def check(asset, facts): ...``.
Takes pluggy's options: ``@hookimpl(wrapper=True)`` for a wrapper, ``tryfirst``/``trylast``,
``specname``. The function's name (or ``specname``) must be a hook of
:mod:`reelwatch.core.hookspecs`, and it may take only the arguments that hook passes."""

ROLES = _ROLES
"""The roles reelwatch knows out of the box (``dit``, ``editorial``, ``vfx``, ``sound``, ``colour``,
``supervisor``, ``admin``); a production's config may define more under ``[roles.<name>]``."""

ALGORITHMS = _ALGORITHMS
"""Checksum algorithms reelwatch can compute, by their ASC MHL names (``xxh128``, ``md5`` ...)."""

__all__ = ["ALGORITHMS", "ROLES", "Asset", "AssetRecord", "Config", "Facts", "Finding", "History", "Media",
           "Message", "Notice", "Picture", "RuleInfo", "SequenceInfo", "Severity", "Sound", "Volume", "applies",
           "config_rate", "default_owner", "did_you_mean", "drive_volume_name", "format_rate", "hookimpl", "human_size",
           "is_delivery", "listed", "match", "media", "normalize_algo", "parse_rate", "scope_of", "volume_of",
           "volume_owner"]
