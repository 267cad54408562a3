"""The service: the long-running daemon, and the nightly re-hash.

- :mod:`.daemon`: :class:`~.daemon.Daemon` wires the collaborators below and runs the control
  loop, start-up, stop and the signals; :mod:`.parts`: the components they share
- :mod:`.drives` (volumes, drives under mount roots), :mod:`.work` (the queue and what is in
  flight), :mod:`.checkers` (the checker threads), :mod:`.batches` (judging a batch once nothing
  waits), :mod:`.held` (files waiting for MediaInfo), :mod:`.histories` (ASC MHL re-verification
  and seals that arrived unseen), :mod:`.seal` (opt-in new generations)
- :mod:`.status` (status rows, systemd status and watchdog pings), :mod:`.admin` (messages about
  the watching itself), :mod:`.statefaults` (a state database that cannot record),
  :mod:`.reload` (SIGHUP), :mod:`.health` (threads that died)
- :mod:`.systemd` (the notify protocol), :mod:`.metrics`, :mod:`.log`
- :mod:`.rehash`: sampled re-hashing, run from a systemd timer
- :mod:`.timelines`: cut lists in the daemon: re-conforms, unmounted volumes, status and metrics

What it may import: everything but :mod:`reelwatch.cli` and :mod:`reelwatch.demo`. Only the
command line imports it.
"""
