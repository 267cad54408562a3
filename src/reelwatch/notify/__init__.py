"""Telling people: the durable outbox, digests, verdict messages, rendering per channel, frame grabs.

- :mod:`.outbox`: notices -> digests -> messages -> delivery, with retries and dead letters
- :mod:`.verdicts`: "safe to format" and its loud retraction; quiet hours live in :mod:`.outbox`
- :mod:`.render`: a message in words a busy person can act on, :mod:`.sublines` the lines under a finding; :mod:`.channels`: safe text per channel
- :mod:`.thumbs`: frame grabs attached to picture problems; :mod:`.frames`: decoding one frame with PyAV

What it may import: :mod:`reelwatch.core` and :mod:`reelwatch.state`.
"""
