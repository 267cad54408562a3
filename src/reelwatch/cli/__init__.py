"""The ``reelwatch`` command line (argparse): parsing, and printing what the engines answer.

- :mod:`.main`: the parser, ``main()`` and the exit codes; ``python -m reelwatch.cli`` runs it
- :mod:`.admin` (plugins, findings, ack, history, status, notify test), :mod:`.history`,
  :mod:`.output` and :mod:`.progress` (``check``), :mod:`.state` (``state check|recover``),
  :mod:`.rehash` (``rehash``), :mod:`.timeline` (``timeline``)

What it may import: everything. Nothing imports it.
"""
