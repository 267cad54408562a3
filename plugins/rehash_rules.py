"""Documents ``integrity.hash_changed``, raised by ``reelwatch rehash`` (:mod:`reelwatch.service.rehash`),
so that ``reelwatch plugins`` lists it with the rules the daemon runs. It checks nothing itself:
sampled re-hashing runs as its own process, from a systemd timer."""

from __future__ import annotations

from reelwatch.api import RuleInfo, hookimpl
from reelwatch.api.integrity import REHASH_RULE as RULE


@hookimpl
def rules() -> tuple[RuleInfo, ...]:
    return (RULE,)
