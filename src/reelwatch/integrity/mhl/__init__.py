"""ASC MHL v2: :mod:`.model` (the data of a history), :mod:`.read` (a history from disk),
:mod:`.verify` (a folder against its history, like ``ascmhl verify``) and :mod:`.create` (a new
generation, the only write reelwatch may make to a watched volume).

What it may import: :mod:`reelwatch.core` and the rest of :mod:`reelwatch.integrity`.
"""
