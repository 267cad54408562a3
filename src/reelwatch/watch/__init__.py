"""Watching volumes: events, copy-complete settling, reconcile scans, links, observers.

- :mod:`.inotify`: inotify for one volume tree (ctypes); :mod:`.observers`: which observer a volume gets
- :mod:`.settle`: a file (or image sequence) is handed on only once it stopped changing; :func:`~.settle.file_asset`
- :mod:`.scan`: reconcile a volume with the state database, streaming
- :mod:`.links`: links and other non-files, and whether the daemon may follow them
- :mod:`.volumes`: one volume at run time: observer, settler, health, rescans

What it may import: :mod:`reelwatch.core` and :mod:`reelwatch.state`.
"""
