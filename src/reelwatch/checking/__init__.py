"""Checking files: the runtime, the pipeline, and one-shot checks.

- :mod:`.runtime`: plugins loaded in order (builtins, shipped, entry points, config folders) and the
  config validated against them
- :mod:`.pipeline`: asset -> facts (probed once, cached) -> checks -> findings -> store, in one transaction;
  :mod:`.routing`: who hears about a finding (:class:`~.routing.RoleRouter`); :mod:`.fold`: one problem, one finding;
  :mod:`.twins`: byte-identical copies parsed once
- :mod:`.oneshot`: ``reelwatch check``, no daemon and no notifications
- :mod:`.timelines`: the builtin ``timeline`` plugin: cut lists read, matched and conformed in a check,
  clips put in the catalog, findings placed in the cut (docs/timelines.md); :mod:`.conformer`: its
  work on the state database

What it may import: everything below it (:mod:`reelwatch.core`, the engines, :mod:`reelwatch.probe`,
:mod:`reelwatch.state`, :mod:`reelwatch.watch`, :mod:`reelwatch.notify`, :mod:`reelwatch.builtin`);
never :mod:`reelwatch.service` or :mod:`reelwatch.cli`.
"""
