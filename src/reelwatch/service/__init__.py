"""The service: the long-running daemon, and the nightly re-hash.

- :mod:`.daemon`: :class:`~.daemon.Daemon` discovers drives, runs the checker threads and the control
  loop, re-judges cards, writes status and reloads on SIGHUP
- :mod:`.histories` (ASC MHL re-verification and seals that arrived unseen), :mod:`.seal` (opt-in new
  generations), :mod:`.statefaults` (a state database that cannot record)
- :mod:`.health`, :mod:`.systemd` (notify protocol and watchdog), :mod:`.metrics`, :mod:`.log`
- :mod:`.rehash`: sampled re-hashing, run from a systemd timer
- :mod:`.timelines`: cut lists in the daemon: re-conforms, unmounted volumes, status and metrics

What it may import: everything but :mod:`reelwatch.cli` and :mod:`reelwatch.demo`.
"""
