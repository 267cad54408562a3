"""The core: the frozen values, the hooks, the plugin manager and the config. Everything else builds on it.

- :mod:`.model`: :class:`~.model.Asset`, :class:`~.model.Facts`, :class:`~.model.Finding`, messages (no I/O);
  :mod:`.rates`: exact frame rates (re-exported by :mod:`.model`)
- :mod:`.hookspecs`: every hook, one typed function each (the plugin author's manual);
  :mod:`.manager` and :mod:`.plugin_checks`: loading plugins and calling them in isolation
- :mod:`.config`, :mod:`.config_lines`, :mod:`.config_paths`: the production config, validated, with
  ``file:line`` problems
- small shared helpers: :mod:`.globs`, :mod:`.ownership`, :mod:`.sequences`, :mod:`.wording` (sizes,
  lists, did-you-mean), :mod:`.redact`, :mod:`.xmlread`, :mod:`.tree` (the folder walker), :mod:`.litter`
  (OS litter and temp names), :mod:`.addresses` (``host:port``, loopback only)

What it may import: the standard library, pydantic, pluggy, fileseq. Nothing else of reelwatch:
every other package imports the core, never the other way round.
"""
