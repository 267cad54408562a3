"""Image sequences as one asset: which file names are frames, and how frames group.

A frame is a file whose name ends in a frame number right before an image extension:
``plate.1001.dpx``, ``AGM_104_065_010_PL01_v002.1023.exr``, ``shot_0001.tif``. Frames of one
folder group into runs by :func:`frame_key`, a pure function of the name, so the watcher
can tell which run a file event belongs to without listing the folder.

Decisions (see ``docs/rules.md`` for how they compare with fileseq and pyseq):

- Only image extensions make frames; ``A001C003.0001.mov`` or ``clip_002.R3D`` are files.
- The padding is the width of the frame number as written, sign included, as printf's
  ``%04d`` writes it (``-001`` and ``0000`` are both 4 wide). Runs never mix widths, so
  ``plate.0999.dpx`` and ``plate.1000.dpx`` are one run, while the unpadded ``plate.999.dpx``
  and ``plate.1000.dpx`` are two runs (the sequences plugin reports that as a padding change).
- A ``-`` is a minus sign only after ``.`` or ``_`` or at the start (``bar.-001.exr``);
  ``plate-1001.dpx`` is frame 1001 of ``plate-``.
- Digits right after a ``v``/``V`` that starts a word are a version, not a frame:
  ``matte_v002.tif`` is a single file.
- Hidden names (``.plate.1001.dpx``, AppleDouble ``._x``) are never frames.
- A lone frame is still a sequence of one frame.
- The pattern names the first and last frame (``plate.1001-1010#.dpx``) in fileseq's padding
  style (``#`` = 4 digits, ``@`` = 1), even when frames are missing in between: the asset
  keeps the same identity while missing frames are re-delivered; the gaps come from
  :func:`missing_ranges`, which never lists every missing frame one by one.
"""

from __future__ import annotations

import os
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from fileseq.filesequence import FileSequence

from .model import Asset, SequenceInfo

IMAGE_EXTENSIONS = frozenset({
    "ari", "arx", "bmp", "bw", "cin", "dng", "dpx", "exr", "hdr", "j2c", "j2k", "jp2", "jpeg", "jpg",
    "jxl", "png", "rgb", "rgba", "sgi", "sxr", "tga", "tif", "tiff",
})
"""Extensions (lower case, no dot) whose numbered files are frames of an image sequence."""

MAX_FRAME_DIGITS = 10
"""Longer digit runs (dates, serial numbers) are not taken as frame numbers."""

_TRAILING_DIGITS = re.compile(rf"\d{{1,{MAX_FRAME_DIGITS}}}\Z")

FrameKey = tuple[str, str, int]
"""(base with separator, extension with its dot as written, padding)."""


def frame_key(name: str) -> FrameKey | None:
    """The run a file name belongs to, or None when it is not a frame of an image sequence.

    ``frame_key("plate.1001.dpx") == ("plate.", ".dpx", 4)``. Pure, and cheap enough to call
    for every filesystem event.
    """
    parsed = _parse(name)
    return None if parsed is None else parsed[0]


def _parse(name: str) -> tuple[FrameKey, int] | None:
    """(key, frame number) of a frame name, or None."""
    if not name or name[0] == "." or "/" in name:
        return None
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem or ext.lower() not in IMAGE_EXTENSIONS:
        return None
    m = _TRAILING_DIGITS.search(stem)
    if m is None or (m.start() > 0 and stem[m.start() - 1].isdigit()):
        return None  # no frame number, or more digits than a frame number has
    digits = m.group()
    base = stem[: m.start()]
    if base.endswith("-") and (len(base) == 1 or base[-2] in "._"):
        base, text = base[:-1], "-" + digits
    else:
        text = digits
    if base and base[-1] in "vV" and (len(base) == 1 or not base[-2].isalpha()):
        return None  # comp_v002.tif: a version number, not a frame number
    return (base, "." + ext, len(text)), int(text)


def padding_chars(padding: int) -> str:
    """fileseq's padding notation for a width: 4 -> ``#``, 3 -> ``@@@``, 8 -> ``##``."""
    return FileSequence.getPaddingChars(max(padding, 1))


def format_pattern(base: str, ext: str, padding: int, frames: tuple[int, ...]) -> str:
    """``plate.1001-1010#.dpx``: first and last frame, padding notation, extension."""
    span = f"{frames[0]}" if len(frames) == 1 or frames[0] == frames[-1] else f"{frames[0]}-{frames[-1]}"
    return f"{base}{span}{padding_chars(padding)}{ext}"


@dataclass(frozen=True, slots=True)
class Run:
    """One run of frames while grouping: its key and (frame, name) pairs in frame order."""

    key: FrameKey
    frames: tuple[int, ...]
    names: tuple[str, ...]

    def info(self, sizes: tuple[int, ...] | None = None) -> SequenceInfo:
        base, ext, padding = self.key
        return SequenceInfo(
            pattern=format_pattern(base, ext, padding, self.frames), frames=self.frames,
            frame_sizes=sizes if sizes is not None else (0,) * len(self.frames),
            padding=padding, frame_names=self.names)


def _runs(names: Iterable[str]) -> tuple[list[str], list[Run]]:
    singles: list[str] = []
    buckets: dict[FrameKey, dict[int, str]] = defaultdict(dict)
    for name in sorted(set(names)):
        parsed = _parse(name)
        if parsed is None:
            singles.append(name)
            continue
        key, frame = parsed
        bucket = buckets[key]
        if frame in bucket:  # "-000" and "0000" are both frame 0: keep the first, the other is a file
            singles.append(name)
        else:
            bucket[frame] = name
    runs = []
    for key, bucket in buckets.items():
        frames = tuple(sorted(bucket))
        runs.append(Run(key, frames, tuple(bucket[f] for f in frames)))
    runs.sort(key=lambda r: (r.key[0], r.key[1].lower(), r.key[2], r.key[1]))
    return singles, runs


def group_names(names: Iterable[str]) -> tuple[list[str], list[SequenceInfo]]:
    """Split the file names of one folder into single files and image sequences.

    Returns (single file names, sorted; sequences, sorted by base, extension and padding),
    with ``frame_sizes`` all 0 (unknown here). Hidden names are returned as single files:
    whether they are ignored is the ``ignore`` hook's decision, not this function's.
    """
    singles, runs = _runs(names)
    return singles, [r.info() for r in runs]


def _list_files(folder: Path) -> list[str]:
    out = []
    with os.scandir(folder) as it:
        for entry in it:
            try:
                if entry.is_file():
                    out.append(entry.name)
            except OSError:
                continue
    return out


def _scan(folder: Path, names: Iterable[str] | None) -> tuple[list[str], list[tuple[SequenceInfo, tuple[int, ...]]]]:
    singles, runs = _runs(_list_files(folder) if names is None else names)
    out = []
    for run in runs:
        frames, kept, sizes, mtimes = [], [], [], []
        for frame, name in zip(run.frames, run.names, strict=True):
            try:
                st = os.stat(folder / name)
            except OSError:
                continue  # gone between listing and stat
            frames.append(frame)
            kept.append(name)
            sizes.append(st.st_size)
            mtimes.append(st.st_mtime_ns)
        if frames:
            live = Run(run.key, tuple(frames), tuple(kept))
            out.append((live.info(tuple(sizes)), tuple(mtimes)))
    return singles, out


def scan_folder(folder: Path, names: Iterable[str] | None = None) -> tuple[list[str], list[SequenceInfo]]:
    """Like :func:`group_names`, but stats every frame to fill ``frame_sizes``.

    ``names`` defaults to the regular files of ``folder``. Frames that vanished before they
    could be stat'ed are left out; single files are returned by name, unstat'ed.
    """
    singles, scanned = _scan(Path(folder), names)
    return singles, [info for info, _ in scanned]


def sequence_asset(volume: str, root: str, folder_rel: str, info: SequenceInfo,
                   mtimes_ns: Iterable[int]) -> Asset:
    """The asset of a sequence: ``folder_rel/pattern``, total size, newest frame mtime."""
    folder_rel = folder_rel.strip("/")
    relpath = str(PurePosixPath(folder_rel) / info.pattern) if folder_rel not in ("", ".") else info.pattern
    return Asset(volume=volume, root=str(root), relpath=relpath, size=sum(info.frame_sizes),
                 mtime_ns=max(mtimes_ns, default=0), sequence=info)


def folder_assets(volume: str, root: str, folder_rel: str,
                  names: Iterable[str] | None = None) -> tuple[list[str], list[Asset]]:
    """Scan one folder once: (single file names, one :class:`Asset` per sequence)."""
    folder_rel = folder_rel.strip("/")
    folder = Path(root) / folder_rel if folder_rel else Path(root)
    singles, scanned = _scan(folder, names)
    return singles, [sequence_asset(volume, root, folder_rel, info, mtimes) for info, mtimes in scanned]


def sequence_key(info: SequenceInfo) -> FrameKey | None:
    """The :func:`frame_key` shared by the frames of a sequence (from its first frame name)."""
    return frame_key(info.frame_names[0]) if info.frame_names else None


def related_runs(info: SequenceInfo, others: Iterable[SequenceInfo]) -> list[SequenceInfo]:
    """Runs of the same folder with the same base and extension as ``info`` but another
    padding: ``plate.999@@@.dpx`` next to ``plate.1000-1010#.dpx``, or ``seq.1-5@@.ext``
    next to ``seq.1-5#.ext``. The extension is compared case-insensitively."""
    key = sequence_key(info)
    if key is None:
        return []
    out = []
    for other in others:
        okey = sequence_key(other)
        if okey and okey[0] == key[0] and okey[1].lower() == key[1].lower() and okey[2] != key[2]:
            out.append(other)
    return out


def frame_ranges(frames: Iterable[int], step: int = 1) -> list[tuple[int, int]]:
    """Collapse frame numbers into inclusive (first, last) ranges on a grid of ``step``:
    1,2,3,5 -> (1,3),(5,5); with step 2, 1,3,5,9 -> (1,5),(9,9)."""
    step = max(step, 1)
    out: list[tuple[int, int]] = []
    for f in sorted(set(frames)):
        if out and f == out[-1][1] + step:
            out[-1] = (out[-1][0], f)
        else:
            out.append((f, f))
    return out


def missing_ranges(frames: Iterable[int], step: int = 1) -> list[tuple[int, int]]:
    """Inclusive ranges of frames missing between the first and last frame present, on a
    grid of ``step`` (for a stepped render ``1001-1010x3`` nothing is missing). Works from
    the differences, so a sequence with frames 1 and 20240115 costs nothing."""
    have = sorted(set(frames))
    step = max(step, 1)
    out: list[tuple[int, int]] = []
    for a, b in zip(have, have[1:], strict=False):
        if b - a > step:
            out.append((a + step, b - step))
    return out


def describe_ranges(ranges: list[tuple[int, int]], step: int = 1, limit: int = 8) -> str:
    """Plain words for ranges: ``1004-1006 and 1009``; past ``limit``: ``... and 12 more ranges``."""
    def one(r: tuple[int, int]) -> str:
        if r[0] == r[1]:
            return str(r[0])
        return f"{r[0]}-{r[1]}" + (f" in steps of {step}" if step > 1 else "")
    parts = [one(r) for r in ranges[:limit]]
    if len(ranges) > limit:
        return ", ".join(parts) + f" and {len(ranges) - limit} more ranges"
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def count_in(ranges: list[tuple[int, int]], step: int = 1) -> int:
    """How many frames the ranges hold (on a grid of ``step``)."""
    return sum((b - a) // max(step, 1) + 1 for a, b in ranges)
