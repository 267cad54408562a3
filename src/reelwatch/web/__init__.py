"""The web pages: the production at a glance, each card's verdict, findings, an asset's life, live.

- :mod:`.queries`: read-only SQL over the state database the daemon writes (indexed, paginated: no full
  scans per request); :mod:`.cards`: one verdict per card from the mirror findings
- :mod:`.actions`: acknowledge, un-acknowledge, assign, note; each in the audit trail with who did it
- :mod:`.auth`: users (scrypt hashes), sessions, CSRF tokens, the Origin check, login rate limits
- :mod:`.app`: the Starlette application (server-rendered Jinja2 pages, autoescaped);
  :mod:`.live`: server-sent events for new findings and verdict changes
- :mod:`.serve`: ``reelwatch web`` and the daemon's optional ``[web] listen`` server (uvicorn)
- :mod:`.report`: ``reelwatch check --format html`` and the per-card offload report, self-contained
- ``templates/`` and ``static/``: every asset served from here, nothing from a CDN

What it may import: :mod:`reelwatch.checking` and everything below it (core, the engines, probe, state,
watch, notify, builtin). The service (``[web] listen``) and the command line import it.
"""
