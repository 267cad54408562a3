"""The naming library: field kinds and presets from published conventions (data only).

Sources are summarised in the corpus file ``naming/NAMING_SPECS.md``: the Netflix Partner Help
Center (VFX shot/version naming, plate naming, picture-mastering and delivery names, legal
characters), the ARRI ALEXA manual, RED's clip naming pages, the Canon EOS C80 manual, Sony
XDCAM manuals, and real Sound Devices, MetaCorder and Zoom F8 files. Where a published rule
allows a range (Netflix plate versions of 3-4 digits) the preset picks the documented example
(3 digits); a config can override any field, e.g. ``fields = {version = "04d"}``.
:func:`reelwatch.naming.preset_convention` compiles a preset.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

FIELDS = ("show", "episode", "seq", "scene", "shot", "task", "vendor", "version", "camera", "reel",
          "clip", "date", "take", "plate", "frame", "ext")
"""Fields that become facts (``derived["fields"]``); other rules key on these names."""

_DAY = r"(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])"
_DIGITS, _LETTERS, _ALNUM = "[0-9]+", "[A-Za-z]+", "[A-Za-z0-9]+"


@dataclass(frozen=True, slots=True)
class Kind:
    """Defaults of one field kind: pattern, plain-words rule, label, loose class, sample."""

    regex: str
    help: str
    label: str
    loose: str
    sample: str


KINDS: Mapping[str, Kind] = MappingProxyType({
    "show": Kind("[A-Z0-9]+", "uppercase letters or digits", "show code", _ALNUM, "ABC"),
    "episode": Kind("[0-9]{3}", "3 digits", "episode number", _DIGITS, "101"),
    "seq": Kind("[A-Za-z0-9]+", "letters or digits", "sequence", _ALNUM, "TCC"),
    "scene": Kind("[A-Za-z0-9]+", "letters or digits", "scene", _ALNUM, "065"),
    "shot": Kind("[0-9]{3,4}", "3 or 4 digits", "shot number", _DIGITS, "0010"),
    "task": Kind("[a-z]+", "lowercase letters", "task", _LETTERS, "comp"),
    "vendor": Kind("[A-Z0-9]+", "uppercase letters or digits", "vendor code", _ALNUM, "NFX"),
    "version": Kind("[0-9]+", "digits", "version", _DIGITS, "1"),
    "camera": Kind("[A-Z]", "one uppercase letter", "camera letter", _LETTERS, "A"),
    "reel": Kind("[0-9]{3,4}", "3 or 4 digits", "reel number", _DIGITS, "001"),
    "clip": Kind("[0-9]{3,4}", "3 or 4 digits", "clip number", _DIGITS, "001"),
    "date": Kind(f"(?:19|20)[0-9]{{2}}{_DAY}|[0-9]{{2}}{_DAY}", "a real date written YYYYMMDD or YYMMDD",
                 "date", _DIGITS, "20240115"),
    "take": Kind("[0-9]{1,3}", "1 to 3 digits", "take number", _DIGITS, "1"),
    "plate": Kind("[A-Za-z]+[0-9]{2}", "letters followed by 2 digits, e.g. PL01", "plate", _ALNUM, "PL01"),
    "frame": Kind("[0-9]{4,}", "4 or more digits", "frame number", _DIGITS, "1001"),
    "ext": Kind("[A-Za-z0-9]+", "letters or digits", "extension", _ALNUM, "exr"),
})

CAMERA_IMPACT = "Editorial cannot relink or conform this clip by name, and VFX pulls by reel/clip will miss it"


@dataclass(frozen=True, slots=True)
class Preset:
    """A named convention: templates tried in order, plus who owns a broken name."""

    name: str
    title: str
    templates: tuple[str, ...]
    form: str
    example: str
    owner: str
    impacts: tuple[str, ...]
    impact: str
    originals: bool
    """True for camera/sound originals: never rename them, fix the recorder's settings."""
    extensions: tuple[str, ...] = ()
    """Only files with these extensions are checked (sidecars are skipped); empty = all."""
    fields: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    helps: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    valid: tuple[str, ...] = ()
    """Published or real-world names that follow the convention (used in docs and tests)."""


_SHOT = ("{show}[_{episode}]_{seq}[_{scene}]_{shot}", "{show}[_{episode}]_{scene}_{shot}")
_NFX_FIELDS = MappingProxyType({"seq": "[A-Z0-9]*[A-Z][A-Z0-9]*", "scene": "[0-9]{2,4}[A-Z]?"})
_NFX_HELP = {"seq": "uppercase letters or digits with at least one letter, e.g. TCC",
             "scene": "2 to 4 digits, optionally followed by a letter, e.g. 065"}
_RED = "{camera}{reel:03d}_C{clip:03d}_"
_MMDD = "{month_day:(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])}{random:[0-9A-Z]{2}}"
_ARRI = "{camera}{reel:03d}{clip_index:[CD]}{clip:(?!000)[0-9]{3}}"
"""Clip counter: always 3 digits; after C999 the camera counts on as D001 (ARRI and Canon)."""
_CLIP_HELP = "3 digits"

PRESETS: Mapping[str, Preset] = MappingProxyType({p.name: p for p in (
    Preset(
        "arri", "ARRI clip naming",
        (_ARRI + "_{date}_{camera_id:[A-Z][0-9A-Z]{3}}[.{frame:07d}].{ext}",),
        "camera letter, 3-digit reel, C and 3-digit clip, _date (YYYYMMDD or YYMMDD)_camera id",
        "A004C010_20100610_R1JL.mov", "dit", ("editorial", "vfx"), CAMERA_IMPACT, True,
        ("mov", "mxf", "ari", "arx"),
        helps=MappingProxyType({"camera_id": "a letter and 3 letters or digits, e.g. R1JL",
                                "clip_index": "C (D after clip 999)", "clip": _CLIP_HELP}),
        valid=("A004C010_20100610_R1JL.mov", "A002C006_141024_R2EC.mov", "A002C007_141024_R2EC.mov",
               "A003C011_141024_R2EC.mov", "A001C001_120101_R1AB.0000001.ari", "A004D001_20100610_R1JL.mov"),
    ),
    Preset(
        "red", "RED clip naming",
        (_RED + "{date}_{part:[0-9]{3}}.{ext:R3D|r3d}", _RED + _MMDD + "_{part:[0-9]{3}}.{ext:R3D|r3d}",
         _RED + "{date}.{ext:RDC|rdc}", _RED + _MMDD + ".{ext:RDC|rdc}"),
        "camera letter and 3-digit reel _C and 3-digit clip _month, day and 2 random characters "
        "_3-digit chunk .R3D", "A002_C001_0908R4_001.R3D", "dit", ("editorial", "vfx"), CAMERA_IMPACT, True,
        ("r3d",),
        helps=MappingProxyType({"month_day": "a real month and day written MMDD",
                                "random": "2 uppercase letters or digits", "part": "3 digits, e.g. 001",
                                "ext": "R3D for a clip chunk (with its _001 chunk number) or RDC for a "
                                       "clip folder"}),
        valid=("A002_C001_0908R4_001.R3D", "A002_C001_0908R4_002.R3D", "A001_C001_12046M.RDC",
               "A001_C002_1204CE.RDC", "A001_C003_1204R5.RDC", "A001_C001_05026M.RDC", "A001_C001_070828.RDC"),
    ),
    Preset(
        "canon", "Canon Cinema EOS clip naming",
        (_ARRI + "{user:[A-Z0-9_]}{date}_{time:[0-9]{6}}{random:[0-9A-Z]{2}}_CANON_{counter:[0-9]{3}}"
         "[_Proxy].{ext}", _ARRI + "_{date}{random:[0-9A-Z]{2}}_CANON.{ext}"),
        "camera index, reel, C and clip number, date and time, 2 random characters, _CANON",
        "A001C001_2505193L_CANON.MXF",
        "dit", ("editorial", "vfx"), CAMERA_IMPACT, True, ("mxf", "mp4", "crm"),
        fields=MappingProxyType({"camera": "[A-Z][A-Z_]?", "reel": "[0-9]{3,4}"}),
        helps=MappingProxyType({"camera": "one or two uppercase letters (second may be '_')",
                                "clip_index": "C (D after clip 999)", "clip": _CLIP_HELP,
                                "random": "2 uppercase letters or digits"}),
        valid=("A001C001_2505193L_CANON.MXF", "A_0001C001X250519_1230453L_CANON_001.MXF",
               "A_0001C001X250519_1230453L_CANON_001_Proxy.MP4"),
    ),
    Preset(
        "sony", "Sony clip naming",
        ("C{clip:(?!0000)[0-9]{4}}[{sidecar:[MS]01}].{ext}",
         "{camera}{reel:03d}C{clip:03d}_{date}{random:[0-9A-Z]{2}}.{ext}"),
        "XDCAM C0001.MXF (C0001S01.MXF proxy), or camera letter, reel, C, clip _YYMMDD and 2 characters",
        "C0001.MXF", "dit", ("editorial", "vfx"), CAMERA_IMPACT, True, ("mxf", "mp4"),
        helps=MappingProxyType({"clip": "4 digits from 0001 (XDCAM) or 3 digits (camera-letter names)",
                                "random": "2 uppercase letters or digits"}),
        valid=("C0001.MXF", "C0012.MXF", "C0012S01.MXF", "C9999.MXF", "A001C001_260812EF.MP4"),
    ),
    Preset(
        "sound", "sound recorder naming",
        ("{scene}_{take}[_{track:[0-9]{1,2}|X}].{ext}",
         "{reel:[A-Za-z]{0,2}[0-9]{3}}-{scene}-{take}[_{track:[0-9]{1,2}|X}].{ext}",
         # Zoom F8: _Tr1 a track, _Tr1_2 a linked pair, _TrL_R the stereo mix; _D the dual-channel copy
         "{scene:[A-Za-z0-9_]+}-T{take:03d}[_Tr{track:[0-9]{1,2}(?:_[0-9]{1,2})?|L_?R}][_D].{ext}"),
        "scene_take (Sound Devices), roll-scene-take_track (MetaCorder) or scene-T###_Tr#[_D] (Zoom)",
        "A101_4.WAV", "sound", ("editorial",),
        "Editorial cannot auto-sync this take to picture by scene and take, and it will not match the sound report",
        True, ("wav", "bwf"),
        helps=MappingProxyType({"track": "1 or 2 digits, or X (Zoom: Tr1, Tr1_2 or TrL_R)",
                                "reel": "a sound roll such as Sr001 or 001"}),
        valid=("A101_3.WAV", "A101_4.WAV", "A101_1_X.WAV", "Sr001-2C-01_01.WAV", "Sr001-001-06_X.WAV",
               "Scene_1_2AG-T001_Tr1.WAV", "Scene_1_2AG-T001.WAV", "Scene_1_2AG-T001_Tr1_D.WAV",
               "Scene_1_2AG-T001_TrL_R.WAV", "Scene_1_2AG-T001_Tr1_2.WAV"),
    ),
    Preset(
        "netflix_vfx_shot", "Netflix VFX shot naming",
        tuple(s + "[[.{frame}].{ext}]" for s in _SHOT),
        "SHOW_[EPISODE_]SEQ_[SCENE_]SHOT or SHOW_[EPISODE_]SCENE_SHOT", "AGM_104_TCC_0010", "vfx", ("editorial",),
        "Editorial and VFX cannot match this file to its shot, so it will be missed in turnovers and tracking",
        False, fields=_NFX_FIELDS, helps=MappingProxyType(_NFX_HELP),
        valid=("AGM_104_065_010", "AGM_104_TCC_0010", "AGM_104_TCC_065_0010", "AGM_065_010", "AGM_TCC_0010",
               "AGM_TCC_065_0010", "ATBP_0A1_010.mov"),
    ),
    Preset(
        "netflix_vfx_version", "Netflix VFX version naming",
        tuple(s + "[_{task}][_{vendor}]_v{version:03d}[[.{frame}].{ext}]" for s in _SHOT),
        "SHOW_EPISODE_SCENE_SHOT_task_VENDOR_v### (sequence and scene as the shot name needs)",
        "AGM_104_065_010_comp_NFX_v001", "vfx", ("editorial",),
        "Editorial cannot cut this version in by shot name, and version tracking per shot will miss it",
        False, fields=_NFX_FIELDS, helps=MappingProxyType(_NFX_HELP),
        valid=("AGM_104_065_010_comp_NFX_v001", "AGM_104_065_010_comp_NFX_v005.mov",
               "AGM_104_TCC_0010_comp_NFX_v001.1001.exr", "AGM_TCC_065_0010_v002.mov", "ATBP_0A1_010_v001.mov"),
    ),
    Preset(
        "netflix_plate", "Netflix VFX plate naming",
        tuple(s + "_{plate}_v{version:03d}[.{frame}].{ext}" for s in _SHOT),
        "shot name _plate (PL01, FG01 ...) _v### .frame.ext", "AGM_104_065_010_PL01_v001.1023.exr", "editorial",
        ("vfx",), "VFX cannot match this plate to its shot, and a re-pull (v001 -> v002) cannot be told apart",
        False, ("exr", "dpx", "tif", "tiff", "mov"), fields=_NFX_FIELDS,
        helps=MappingProxyType({**_NFX_HELP, "plate": "letters followed by 2 digits, e.g. PL01, FG01, smoke01"}),
        valid=("AGM_104_065_010_PL01_v001.1023.exr", "AGM_104_065_010_PL01_v002.1023.exr",
               "ATBP_0A1_010_FG01_v001.01000.exr", "AGM_104_065_010_smoke01_v001.1001.exr"),
    ),
    Preset(
        "delivery", "delivery naming",
        ("{show}_{episode}_{deliverable:[A-Za-z][A-Za-z0-9-]*}[_{language:[A-Z]{2}(?:-[A-Z]{2})?}]"
         "[_v{version:d}][[.{frame}].{ext}]",),
        "Title_S##E## (or R## for a reel)_Deliverable[_LANGUAGE][_v#]", "ParksAndRecreation_S01E01_Pilot_EN_v2.mov",
        "editorial", ("supervisor",),
        "The receiving facility can reject or mis-file this delivery, and nobody can tell which version was sent",
        False, fields=MappingProxyType({"show": "[A-Za-z][A-Za-z0-9]*",
                                        "episode": "[Ss][0-9]{2}[Ee][0-9]{2}|[Rr][0-9]{2}"}),
        helps=MappingProxyType({"show": "letters or digits starting with a letter",
                                "episode": "S##E## for an episode (e.g. S01E01) or R## for a reel",
                                "language": "a 2-letter language code, e.g. EN or PT-BR"}),
        valid=("ParksAndRecreation_S01E01_Pilot_EN.mov", "ParksAndRecreation_S01E01_Pilot_EN_v2.mov",
               "Show_s01e01_nam.00086400.exr", "Show_r01_vdm.mov"),
    ),
)})
