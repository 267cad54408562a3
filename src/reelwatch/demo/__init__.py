"""``reelwatch demo`` and the real parts it and the test suite use.

- :mod:`.run`: a throwaway production, end to end, with no network and no config
- :mod:`.mediagen`: small, real, deterministic media made with PyAV
- :mod:`.inbox`: a local HTTP inbox on 127.0.0.1 for apprise's ``json://`` and Slack posts

What it may import: :mod:`reelwatch.core` and :mod:`reelwatch.notify` (:mod:`.mediagen` re-exports the frame
grabs of :mod:`reelwatch.notify.frames`). It runs the daemon only as a child process, through the command line.
"""
