"""Technical spec for rule plugins: the spec profiles of ``[rules.spec]`` and MediaConch XML policies,
as the shipped spec rules check them. For reading single facts with units, use
:func:`reelwatch.api.media` instead.
"""

from __future__ import annotations

from ..spec.fields import FAMILIES as _FAMILIES
from ..spec.mediaconch import Outcome as _Outcome
from ..spec.mediaconch import Policy, PolicyError, PolicyResult, describe, evaluate, file_fields
from ..spec.profiles import Scope, SpecConfig, check_profile, scope_for

FAMILIES = _FAMILIES
"""The ``spec.*`` rule families by name (``container``, ``frame_rate``, ``bit_depth``, ``audio`` ...):
each a ``Family`` with its rule id, summary, default severity, owner, impacts and plain-words impact."""

Outcome = _Outcome
"""The outcome of a MediaConch policy or rule: ``PASS``, ``INFO``, ``WARN``, ``FAIL`` or ``UNKNOWN``
(a field the file does not have)."""

__all__ = ["FAMILIES", "Outcome", "Policy", "PolicyError", "PolicyResult", "Scope", "SpecConfig", "check_profile",
           "describe", "evaluate", "file_fields", "scope_for"]
