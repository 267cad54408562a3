"""Technical spec: what a camera original or a delivery must be, checked over probed facts.

- :mod:`.profiles`: spec profiles and their checks; :mod:`.config`: the ``[rules.spec]`` schema;
  :mod:`.rules`: the ``spec.*`` rule ids and their wording
- :mod:`.fields`: reading facts the way profiles and policies need them (exact rates, bit depth ...)
- :mod:`.mediaconch_policy` and :mod:`.mediaconch`: MediaConch XML policies, parsed and evaluated

The engine of ``plugins/spec.py``. What it may import: :mod:`reelwatch.core` only.
"""
