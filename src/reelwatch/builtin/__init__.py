"""Builtin plugins: they run with no config at all (ignore rules, sanity checks, the apprise notifier).

What they may import: :mod:`reelwatch.core`, :mod:`reelwatch.probe`, :mod:`reelwatch.integrity` and
:mod:`reelwatch.notify` (the notifier renders messages).
"""
