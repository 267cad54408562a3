"""How editors name sources, as pure string functions: file names from Windows and URL
paths, stems, Avid's clip-name decorations, ARRI tape names, frame numbers, BWF bext fields.

Every lookup key goes through :func:`key`, on both sides (the clips indexed and the events
looked up), so that a catalog in memory and one in SQLite agree on what matches.
"""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

REEL_LIMIT = 8
"""CMX 3600 reel names are cut to 8 characters: ``A004C010_...`` becomes ``A004C010``."""

IMAGE_EXTENSIONS = frozenset({
    "ari", "arx", "bmp", "bw", "cin", "dng", "dpx", "exr", "hdr", "j2c", "j2k", "jp2", "jpeg", "jpg",
    "jxl", "png", "rgb", "rgba", "sgi", "sxr", "tga", "tif", "tiff",
})
"""Same list as :data:`reelwatch.core.sequences.IMAGE_EXTENSIONS` (a test keeps them equal)."""

MEDIA_EXTENSIONS = IMAGE_EXTENSIONS | {
    "mov", "mxf", "mp4", "m4v", "avi", "r3d", "rdc", "braw", "crm", "mts", "wav", "bwf", "aif", "aiff", "mp3",
    "m4a", "ari", "dng", "nev", "mkv", "webm", "vrw",
}
"""Extensions stripped from a clip name before looking it up by stem."""

_ARRI = re.compile(r"^([A-Z])(\d{3})[CD]\d{3}_(?:\d{8}|\d{6})_([A-Z][0-9A-Z]{3})(?:[._]|$)")
_AVID_SUFFIX = re.compile(r"(?:\.(?:new|sub|exported|copy)\.\d+)+$", re.IGNORECASE)
_PARENS = re.compile(r"\s*\([^()]*\)\s*$")
_BEXT = re.compile(r"(?:^|[\s/;\r\n])[a-zA-Z]?(SCENE|TAKE|TAPE|ROLL|SPEED)=([^/;\r\n]*)")
_TRAILING_DIGITS = re.compile(r"\d{1,10}\Z")


def key(text: str) -> str:
    """The form every lookup key is compared in: trimmed and case-folded (Windows and macOS
    volumes, and most NLEs, treat names case-insensitively)."""
    return text.strip().casefold()


def path_name(path: str) -> str:
    """The file name at the end of a path as written in a cut list: a Windows path
    (``S:\\path\\to\\x.exr``), a POSIX path, or a ``file://`` URL (percent-decoded)."""
    text = path.strip()
    if text.lower().startswith("file:"):
        text = unquote(urlsplit(text).path)
    return re.split(r"[\\/]", text.rstrip("\\/"))[-1]


def readable_path(path: str) -> str:
    """A ``file://`` URL as the path an editor would recognise; other paths unchanged."""
    text = path.strip()
    if text.lower().startswith("file:"):
        parts = urlsplit(text)
        decoded = unquote(parts.path)
        if re.match(r"^/[A-Za-z]:", decoded):
            return decoded[1:]
        host = parts.netloc if parts.netloc not in ("", "localhost") else ""
        return f"//{host}{decoded}" if host else decoded
    return text


def stem(name: str) -> str:
    """The name without a media extension: ``A004C010_20100610_R1JL.mov`` -> ``A004C010_20100610_R1JL``;
    ``ZZ100_501.LAY3.01`` keeps its dots (``01`` is no media extension)."""
    base, dot, ext = name.rpartition(".")
    return base if dot and base and ext.lower() in MEDIA_EXTENSIONS else name


def clip_names(name: str) -> list[str]:
    """The names a clip name may stand for, most literal first: as written, without Avid's
    annotations (``ZZ100_501 (LAY3)``, ``Z686_5A (LAY2) (47.56 FPS)``, `` FF``) and copy
    suffixes (``.new.01``, ``.sub.02``), and without a media extension."""
    out: list[str] = []

    def add(value: str) -> None:
        value = value.strip()
        if value and value not in out:
            out.append(value)

    add(name)
    current = name.strip()
    if current.endswith(" FF"):
        current = current[:-3]
    while _PARENS.search(current):
        current = _PARENS.sub("", current)
    add(current)
    current = _AVID_SUFFIX.sub("", current)
    add(current)
    add(stem(current))
    return out


def arri_tape(name: str) -> str | None:
    """The tape (reel) name an ARRI camera writes for a clip: camera letter, reel and camera id,
    ``A004C010_20100610_R1JL.mov`` -> ``A004R1JL``. None for other names."""
    m = _ARRI.match(name)
    return f"{m[1]}{m[2]}{m[3]}" if m else None


def split_frame(name: str) -> tuple[str, str, int, int] | None:
    """(base, extension, frame, padding) of an image-sequence frame name, as
    :func:`reelwatch.core.sequences.frame_key` reads it: ``plate.1001.dpx`` -> (``plate.``, ``.dpx``,
    1001, 4). None for names that are not frames (``A001.mov``, ``matte_v002.tif``)."""
    if not name or name[0] == "." or "/" in name or "\\" in name:
        return None
    body, dot, ext = name.rpartition(".")
    if not dot or not body or ext.lower() not in IMAGE_EXTENSIONS:
        return None
    m = _TRAILING_DIGITS.search(body)
    if m is None or (m.start() > 0 and body[m.start() - 1].isdigit()):
        return None
    digits = m.group()
    base = body[: m.start()]
    if base.endswith("-") and (len(base) == 1 or base[-2] in "._"):
        base, text = base[:-1], "-" + digits
    else:
        text = digits
    if base and base[-1] in "vV" and (len(base) == 1 or not base[-2].isalpha()):
        return None
    return base, "." + ext, int(text), len(text)


def split_pattern(pattern: str) -> tuple[str, str, int, int] | None:
    """(base, extension, first, last) of a sequence pattern as reelwatch writes it
    (``plate.1001-1010#.dpx``, ``shot_990-999@@@.exr``, ``plate.1001#.dpx``)."""
    m = re.match(r"^(.*?)(-?\d+)(?:-(-?\d+))?([#@]+)(\.[^.]+)$", pattern)
    if not m:
        return None
    first = int(m[2])
    return m[1], m[5], first, int(m[3]) if m[3] is not None else first


def bext_fields(description: str) -> dict[str, str]:
    """Scene, take, tape, roll and speed from a BWF bext description as recorders write it:
    ``sSCENE=A101 / sTAKE=4 / sTAPE=18Y12M31`` (Sound Devices), ``dSCENE=`` (Pro Tools),
    ``gSCENE=`` (MetaCorder), ``SCENE=`` (Zoom). Keys are lower case; empty values are left out."""
    out: dict[str, str] = {}
    for m in _BEXT.finditer(description or ""):
        value = m[2].strip()
        if value and m[1].lower() not in out:
            out[m[1].lower()] = value
    return out


def take_key(take: str) -> str:
    """Takes compare as numbers when they are numbers: ``001``, ``01`` and ``1`` are one take."""
    text = take.strip()
    return str(int(text)) if text.isdigit() else key(text)


def scene_take_key(scene: str, take: str) -> str:
    return f"{key(scene)}\x1f{take_key(take)}"


_SOUND_NAME = re.compile(r"^(?:(?P<roll>[A-Za-z]{0,2}\d{3})-)?(?P<scene>[A-Za-z0-9]+(?:[_-][A-Za-z0-9]+)*?)"
                         r"[_-]T?(?P<take>\d{1,3})(?:_(?:\d{1,2}|X|Tr\d{1,2}))?$")


def sound_name(name: str) -> tuple[str, str] | None:
    """(scene, take) read from a sound clip name as recorders write them: ``A101_4``,
    ``Sr001-2C-01``, ``Scene_1_2AG-T001``; None when the name does not look like one."""
    m = _SOUND_NAME.match(stem(name))
    return (m["scene"], m["take"]) if m else None
