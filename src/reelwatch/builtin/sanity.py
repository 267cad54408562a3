"""Sanity checks that need no config: empty, unreadable, truncated, non-portable names, gaps.

A half-copied or cut-off file is the most expensive problem on set: it looks fine in a
listing and fails in the edit days later. MediaInfo reports truncation three ways, and
this plugin reads all three: ``IsTruncated``, the compliance text ("File size N is less than
expected size M"), and track stream sizes that add up to more than the file holds (a header
that claims hours of essence that is not there). MXF needs three more: a header partition
still marked Open/Incomplete (the writer never finalised the file), a file with no essence
track at all, and VC-3 (DNxHD/DNxHR) whose header promises more frames than the file can
hold: VC-3 frames have a fixed size, so the frame count alone says how big the file must be.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from types import MappingProxyType
from typing import Any

from ..core.hookspecs import hookimpl
from ..core.model import Asset, Facts, Finding, RuleInfo, Severity
from ..probe.pool import DENIED
from ..core.sequences import describe_ranges, missing_ranges

PORTABLE = re.compile(r"[A-Za-z0-9._-]+")
MAX_PATH = 256
MEDIA_EXTENSIONS = frozenset(["mov", "mxf", "mp4", "m4v", "avi", "mkv", "mts", "m2ts", "braw", "r3d", "ari", "arx", "crm", "mpg", "mpeg", "dv", "wav", "bwf", "aif", "aiff", "mp3", "m4a", "flac", "dpx", "exr", "tif", "tiff", "cin", "dng", "png", "jpg", "jpeg", "tga", "j2c", "jp2", "webm"])
ROOT_CAUSE = MappingProxyType({"root_cause": True})
"""A broken file is one problem: the pipeline lists what other rules found in it under this finding
(see :mod:`reelwatch.checking.fold`) instead of judging facts read from a broken file."""
TRUNCATION_TEXT = re.compile(r"less than expected size|is more than maximal permitted size|"
                             r"truncated|incomplete", re.IGNORECASE)


def _ext(asset: Asset) -> str:
    name = asset.sequence.frame_names[0] if asset.sequence and asset.sequence.frame_names else asset.name
    return name.rsplit(".", 1)[-1].lower() if "." in name else ""


def _int(value: Any) -> int | None:
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return None


def truncation_evidence(facts: Facts, file_size: int) -> str | None:
    """Plain-words reason to believe the file is cut short, or None."""
    g = facts.general
    if str(g.get("istruncated", "")).lower() == "yes":
        return "MediaInfo reports the file as truncated: it ends before its own index says it should"
    compliance = " ".join(str(g.get(k) or "") for k in ("general_compliance", "other_general_compliance"))
    if TRUNCATION_TEXT.search(compliance):
        return f"the container structure is incomplete ({compliance.strip()[:160]})"
    claimed = sum(_int(t.get("stream_size")) or 0 for t in (*facts.video, *facts.audio))
    if file_size and claimed > file_size * 1.05 + 65536:
        return (f"the header describes {claimed:,} bytes of picture and sound, but the file holds only "
                f"{file_size:,} bytes: the essence is missing")
    ext_media = facts.general.get("format") in ("MPEG-4", "QuickTime") and not (facts.video or facts.audio)
    if ext_media and _int(g.get("duration")) is None:
        return "the file has a QuickTime header but no picture or sound tracks: the copy stopped early"
    if g.get("format") == "MXF":
        return _mxf_evidence(facts, file_size)
    return None


VC3_MIN_BYTES_PER_BLOCK = 11.5
"""VC-3 frames have a fixed size per profile. The smallest, DNxHR LB and DNxHD 36, take 23
bytes per 16x16 block (measured with FFmpeg's encoder: 188,416 bytes a 1080p frame, 749,568 a
UHD frame, black or noise alike); half of that leaves room for rounding and odd profiles."""


def _mxf_evidence(facts: Facts, file_size: int) -> str | None:
    g = facts.general
    settings = str(g.get("format_settings") or "")
    if "open" in settings.lower() or "incomplete" in settings.lower():
        return (f"its MXF header partition is still marked {settings.strip()}: the writer never finalised the "
                "file (a recording or copy that stopped early), so its index and durations cannot be trusted")
    if not (facts.video or facts.audio or facts.image or facts.text):
        return (f"the MXF file ({g.get('format_profile') or 'MXF'}) carries no picture or sound track at all: "
                "its essence is missing")
    for track in facts.video:
        if track.get("format") != "VC-3" or not file_size:
            continue
        frames = _int(track.get("frame_count")) or _int(g.get("frame_count"))
        width, height = _int(track.get("width")), _int(track.get("height"))
        if not (frames and width and height):
            continue
        blocks = ((width + 15) // 16) * ((height + 15) // 16)
        least = int(frames * blocks * VC3_MIN_BYTES_PER_BLOCK)
        if file_size < least:
            return (f"the header promises {frames:,} frames of {width}x{height} VC-3 (DNxHD/DNxHR), which take "
                    f"at least {least:,} bytes, but the file holds only {file_size:,} bytes: the essence is missing")
    return None


RULES = (
    RuleInfo("sanity.empty", "The file is empty (0 bytes).", Severity.ERROR, None, ("editorial",),
             "A002C006_141024_R2EC.mov is empty (0 bytes)"),
    RuleInfo("sanity.unreadable", "A media file that MediaInfo cannot read.", Severity.ERROR, None,
             ("editorial",), "A002C006.mov is not readable media: MediaInfo does not recognise it"),
    RuleInfo("sanity.probe_failed", "MediaInfo hung or crashed on the file.", Severity.ERROR, None,
             ("editorial", "admin"), "MediaInfo did not finish reading A001.mxf within 30 s"),
    RuleInfo("sanity.truncated", "The file is cut short or its essence is missing.", Severity.BLOCKER, None,
             ("editorial", "vfx", "sound"), "A002C006.mov is truncated: the header describes 20 GB ..."),
    RuleInfo("sanity.name_chars", "The name has characters outside A-Za-z0-9._-.", Severity.WARNING, None,
             ("editorial", "vfx"), "'Scene 4 take#2.wav' has characters that are not portable: ' ', '#'"),
    RuleInfo("sanity.path_length", "The path is longer than 256 characters.", Severity.WARNING, None,
             ("editorial",), "the path is 301 characters long; the limit is 256"),
    RuleInfo("sanity.folder_unreadable", "A folder reelwatch cannot list.", Severity.ERROR, None, (),
             "this folder cannot be read: Permission denied"),
    RuleInfo("sanity.permission_denied", "A file reelwatch is not allowed to read (its permissions).",
             Severity.ERROR, None, ("editorial",),
             "A002C006.mov cannot be read (permission denied), so it was not checked"),
    RuleInfo("sanity.not_checked", "A file reelwatch could not check at all (its path is longer than the "
             "system can open).", Severity.ERROR, None, ("editorial",),
             "this file could not be checked: its full path is 4,237 bytes long, longer than this system "
             "can open (4,096)"),
    RuleInfo("sanity.sequence_gap", "Frames are missing from an image sequence.", Severity.ERROR, None,
             ("vfx", "colour", "editorial"), "frames 1004-1006 are missing from plate.1001-1010#.dpx"),
)


def _char(c: str) -> str:
    """A character for a message: quoted, or the byte it stands for when the name is not UTF-8."""
    if 0xDC80 <= ord(c) <= 0xDCFF:  # os.fsdecode's stand-in for a byte that is not UTF-8
        return f"byte 0x{ord(c) - 0xDC00:02X} (not UTF-8)"
    return repr(c)


def _owner(config: Any, asset: Asset) -> str | None:
    volume = config.volume(asset.volume) if config is not None else None
    return volume.owner if volume is not None else None


class Sanity:
    """The builtin ``check`` of every asset against problems no production wants."""

    @hookimpl
    def rules(self) -> Iterable[RuleInfo]:
        return RULES

    @hookimpl
    def check(self, asset: Asset, facts: Facts, config: Any) -> Iterator[Finding]:
        owner = _owner(config, asset)
        yield from self._names(asset, owner)
        yield from self._content(asset, facts, owner)
        if asset.sequence is not None and len(asset.sequence.frames) < (
                asset.sequence.frames[-1] - asset.sequence.frames[0] + 1 if asset.sequence.frames else 0):
            skip = config is not None and "sequences" in getattr(config, "rules", {})
            if not skip:
                yield self._gap(asset, owner)

    def _names(self, asset: Asset, owner: str | None) -> Iterator[Finding]:
        # The file name only: folder names are the production's (Netflix's own layout has
        # "Camera Media"), and flagging them would repeat one warning for every file inside.
        name = asset.sequence.frame_names[0] if asset.sequence and asset.sequence.frame_names else asset.name
        bad = sorted({c for c in name if not PORTABLE.fullmatch(c)})
        if bad:
            shown = ", ".join(_char(c) for c in bad[:8])
            fixed = re.sub(r"[^A-Za-z0-9._-]", "_", name)
            yield Finding(
                rule="sanity.name_chars", severity=Severity.WARNING, asset=asset, owner=owner,
                impacts=("editorial", "vfx"),
                message=f"the file name has characters that are not portable: {shown}",
                expected="names use only letters, digits, dot, underscore and hyphen (A-Z a-z 0-9 . _ -)",
                impact="editing systems, render farms and archive tools may refuse or mangle this name, "
                       "and relinking by name can fail",
                fix=f"rename it, for example to {fixed}", details={"characters": bad})
        length = len(asset.path)
        if length > MAX_PATH:
            yield Finding(
                rule="sanity.path_length", severity=Severity.WARNING, asset=asset, owner=owner,
                impacts=("editorial",),
                message=f"the full path is {length} characters long",
                expected=f"at most {MAX_PATH} characters for the whole path, folders included",
                impact="Windows workstations and some delivery portals cannot open paths this long",
                fix="shorten the folder names or the file name", details={"length": length})

    def _content(self, asset: Asset, facts: Facts, owner: str | None) -> Iterator[Finding]:
        media = _ext(asset) in MEDIA_EXTENSIONS
        if facts.kind == "empty":
            yield Finding(
                rule="sanity.empty", severity=Severity.ERROR, asset=asset, owner=owner, impacts=("editorial",),
                message="the file is empty (0 bytes)", expected="a complete copy of the source file",
                impact="anyone opening it gets nothing; if it is a camera original, the clip is not backed up",
                fix="copy it again from the source and verify the checksum", details=ROOT_CAUSE)
            return
        if facts.kind == "unreadable" and (facts.error or "").startswith(DENIED):
            yield Finding(
                rule="sanity.permission_denied", severity=Severity.ERROR, asset=asset, owner=owner,
                impacts=("editorial",), message="this file cannot be read (permission denied), so it was not checked",
                expected="every file handed on can be read by the people and tools that need it",
                impact="nothing about it was checked, and anyone else without permission cannot open it either",
                fix="give read permission on it (for example chmod a+r, or chmod g+r for the group that works "
                    "on this volume); reelwatch checks it again when it sees the change")
            return
        if facts.kind == "unreadable" and facts.error and ("did not finish" in facts.error or "crashed" in facts.error):
            yield Finding(
                rule="sanity.probe_failed", severity=Severity.ERROR, asset=asset, owner=owner,
                impacts=("editorial", "admin"), message=facts.error,
                expected="the file can be read to the end by MediaInfo",
                impact="its technical spec could not be checked, so problems may go unnoticed",
                fix="open it in the camera maker's software; if it plays, report the file to the reelwatch admin",
                details=ROOT_CAUSE)
            return
        if facts.kind == "unreadable" and media:
            yield Finding(
                rule="sanity.unreadable", severity=Severity.ERROR, asset=asset, owner=owner, impacts=("editorial",),
                message=f"this is not readable media: {facts.error or 'MediaInfo does not recognise it'}",
                expected=f"a valid .{_ext(asset)} file", impact="it will not import into the edit or grade",
                fix="copy it again from the source; if the source is bad too, tell the DIT or vendor who made it",
                details=ROOT_CAUSE)
            return
        if not facts.is_media or not media:
            return
        reason = truncation_evidence(facts, asset.size if asset.sequence is None else 0)
        if reason:
            yield Finding(
                rule="sanity.truncated", severity=Severity.BLOCKER, asset=asset, owner=owner,
                impacts=("editorial", "vfx", "sound"),
                message=f"the file is incomplete: {reason}",
                expected="a complete copy, the same size as the source",
                impact="the clip will stop early or fail to open in the edit; anything cut from it is lost",
                fix="copy it again from the source and verify the checksum; do not format the source card yet",
                details=ROOT_CAUSE)

    def _gap(self, asset: Asset, owner: str | None) -> Finding:
        seq = asset.sequence
        assert seq is not None
        holes = missing_ranges(seq.frames)
        count = sum(b - a + 1 for a, b in holes)
        return Finding(
            rule="sanity.sequence_gap", severity=Severity.ERROR, asset=asset, owner=owner,
            impacts=("vfx", "colour", "editorial"),
            message=f"{count} frame(s) missing from {seq.pattern}: {describe_ranges(holes)}",
            expected=f"every frame from {seq.frames[0]} to {seq.frames[-1]}",
            impact="the conform and the grade will show black or repeated frames where these are missing",
            fix="re-render or re-copy the missing frames", details={"missing": [list(r) for r in holes[:200]]})
