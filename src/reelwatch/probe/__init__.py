"""Probing: the technical facts of a file, read once by MediaInfo in worker processes.

- :mod:`.pool`: the worker pool (timeouts, restarts, health) and the builtin ``probe`` plugin
- :mod:`.worker`: what runs inside a worker process

What it may import: :mod:`reelwatch.core` and :mod:`reelwatch.integrity` (a checksum list is a
sidecar, not media).
"""
