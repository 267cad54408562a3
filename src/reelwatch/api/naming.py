"""Naming templates for rule plugins: the template language, the published presets and the
plain-words diagnosis of a wrong name that the shipped naming rules use.

A template such as ``{show}_{shot:4}_{task}_v{version:3}.{ext}`` compiles to a
:class:`Convention`; :meth:`Convention.diagnose` says which field of a name is wrong and what the
corrected name would be.
"""

from __future__ import annotations

from ..naming import (FIELDS as _FIELDS, PRESETS as _PRESETS, Convention, Diagnosis, TemplateError, compile_convention,
                      field_pattern, preset_convention, quote, sanitize)
from ..naming.presets import CAMERA_IMPACT as _CAMERA_IMPACT

FIELDS = _FIELDS
"""The named fields a template may use (``show``, ``episode``, ``seq``, ``shot``, ``task``,
``version``, ``camera`` ...), in the order messages list them."""

PRESETS = _PRESETS
"""Published naming conventions by preset name (``arri``, ``red``, ``netflix_vfx`` ...), read-only."""

CAMERA_IMPACT = _CAMERA_IMPACT
"""Plain words for what a wrong camera-original name does downstream (editorial cannot relink, VFX
pulls by reel and clip), used as a finding's ``impact``."""

__all__ = ["CAMERA_IMPACT", "FIELDS", "PRESETS", "Convention", "Diagnosis", "TemplateError", "compile_convention",
           "field_pattern", "preset_convention", "quote", "sanitize"]
