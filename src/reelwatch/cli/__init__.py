"""The ``reelwatch`` command line (click): parsing, and printing what the engines answer.

- :mod:`.main`: ``main()``, the exit codes and :data:`.main.COMMANDS`, the list of commands;
  ``python -m reelwatch.cli`` runs it. :mod:`.root` is the ``reelwatch`` group (``--version``,
  ``--log-level``, config and state errors as exit 2); :mod:`.base` what commands share: the one
  ``--config`` option (:func:`.base.config_option`: the option, then ``$REELWATCH_CONFIG``, then
  /etc/reelwatch/production.toml), the one ``--format table|json`` (:func:`.base.format_option`)
  and value types whose mistakes are usage errors.
- one module per command, or per family: :mod:`.check` (with :mod:`.output`, :mod:`.progress`),
  :mod:`.run`, :mod:`.demo`, :mod:`.config`, :mod:`.status`, :mod:`.history`, :mod:`.admin`
  (plugins, findings, ack, notify test), :mod:`.rehash`, :mod:`.state` (``state check|recover``),
  :mod:`.timeline` (the conform report of one cut list).

Adding a command is one module and one line:

1. ``cli/web.py`` defines a click command (``@click.command()``, ``@config_option()``,
   ``@format_option()`` if it prints data); it returns its exit code (0, 1 findings, 2 usage);
   heavy imports go inside the function, so that other commands do not pay for them.
2. ``main.COMMANDS`` gets ``"web": "web:web",``: the command is imported only when it runs (or
   for ``--help`` and shell completion of its options).

A sub-command of a group goes in the group's ``lazy`` mapping the same way, e.g. ``state migrate``:
``lazy={"migrate": "state_migrate:migrate"}`` on the ``state`` group in :mod:`.state`.
Tests: ``tests/test_cli.py`` checks every command for the shared ``--config`` and ``--format``.

What it may import: everything. Nothing imports it.
"""
