"""``python -m reelwatch.cli``: the same as the ``reelwatch`` command."""

from .main import main

raise SystemExit(main())
