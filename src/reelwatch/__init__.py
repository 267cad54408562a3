"""reelwatch: a production-workflow guard for film and TV.

The public API for plugin authors is :mod:`reelwatch.api` (guide: ``docs/plugins.md``). The
``hookimpl`` marker and the core values are also re-exported here, for plugins written before it;
see :mod:`reelwatch.core.hookspecs` for every hook.
"""

from .core.hookspecs import History, hookimpl
from .core.model import Asset, Facts, Finding, Message, Notice, RuleInfo, SequenceInfo, Severity, format_rate, parse_rate

__all__ = ["Asset", "Facts", "Finding", "History", "Message", "Notice", "RuleInfo", "SequenceInfo", "Severity",
           "format_rate", "hookimpl", "parse_rate"]
__version__ = "0.1.0"
