"""The ``spec.*`` rule ids and their defaults: severity, impacted roles, impact and fix wording.

One :class:`Family` per rule id (``spec.codec``, ``spec.frame_rate`` ...), keyed by the id
without ``spec.``. Impact and fix differ by volume kind: on an ingest volume the camera team
fixes the next roll and editorial and VFX are hit; on a delivery volume the vendor re-exports
and editorial is hit. ``{expected}`` and ``{rate}`` in the texts are filled in per finding by
:meth:`reelwatch.spec.profiles.Scope.finding`.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..core.model import Severity

__all__ = ["FAMILIES", "Family"]


@dataclass(frozen=True, slots=True)
class Family:
    """Defaults for one rule id: severity, impacted roles and how, per volume kind."""

    rule: str
    summary: str
    severity: Severity
    impacts: tuple[str, ...]
    impact: str
    delivery_impacts: tuple[str, ...]
    delivery_impact: str
    fix: str
    delivery_fix: str
    example: str


_REDELIVER = "Re-export the file to {expected} and deliver it again"
FAMILIES: dict[str, Family] = {f.rule.removeprefix("spec."): f for f in (
    Family("spec.container", "The file's container format is not one the profile allows", Severity.ERROR,
           ("editorial",), "Editorial cannot ingest it as camera media without rewrapping it first",
           ("editorial",), "Editorial cannot conform this delivery; it will be bounced back",
           "Check the camera/recorder's recording format before the next roll; rewrap to {expected} only "
           "with the supervisor's OK", _REDELIVER,
           "container is MXF (OP-1a); profile 'camera_prores' allows QuickTime"),
    Family("spec.codec", "The picture codec or codec profile is not one the profile allows", Severity.ERROR,
           ("editorial", "vfx"), "Editorial's project expects {expected}: this clip needs a transcode, and VFX "
           "pulls will not match the rest of the footage",
           ("editorial",), "Editorial cannot cut this in alongside the rest; it will be rejected at conform",
           "Check the camera's codec setting before the next roll and tell editorial which clips differ",
           _REDELIVER, "codec is DNxHR HQX; profile 'camera_prores' allows ProRes (422 HQ or 4444)"),
    Family("spec.resolution", "The picture size is not one the profile allows", Severity.ERROR,
           ("editorial", "vfx"), "VFX plates will not line up with the cut and editorial's framing guides "
           "will be off", ("editorial",), "Editorial will see a reframe or letterbox when it is cut in",
           "Check the camera's sensor mode/resolution before the next roll", _REDELIVER,
           "picture is 1280x720; profile 'camera_prores' allows 1920x1080 or 3840x2160"),
    Family("spec.frame_rate", "The frame rate differs from the profile's (or the production's base rate)",
           Severity.ERROR, ("editorial", "sound", "vfx"), "Editorial will see sync drift against {rate} fps "
           "sound; VFX plates will not line up with the cut", ("editorial",),
           "Editorial will see it play at the wrong speed, or drop or repeat frames, against the {rate} fps cut",
           "Check the camera's project frame rate with the camera team before the next roll; do not retime "
           "this clip without the supervisor's OK", "Re-render at {expected} fps and deliver it again",
           "frame rate is 25 fps; this production shoots 23.976 (24000/1001)"),
    Family("spec.scan", "Interlaced when progressive is required, or the wrong field order", Severity.ERROR,
           ("editorial", "vfx", "colour"), "Combing will show in the cut, and VFX tracking and keys break",
           ("editorial",), "Combing will show in the cut", "Set the camera to progressive recording",
           _REDELIVER, "scan type is Interlaced; profile 'camera_prores' allows Progressive"),
    Family("spec.bit_depth", "The picture bit depth is not one the profile allows", Severity.ERROR,
           ("colour", "vfx"), "Colour loses grading latitude and VFX plates will show banding",
           ("editorial", "colour"), "The grade will band on this shot", "Check the camera's recording codec "
           "and bit depth", _REDELIVER, "bit depth is 8-bit; profile 'camera_prores' allows 10-bit or 12-bit"),
    Family("spec.chroma", "The chroma subsampling is not one the profile allows", Severity.ERROR,
           ("colour", "vfx"), "Keys and grades suffer: VFX and colour need the full colour resolution",
           ("editorial", "colour"), "Keys and the grade will suffer on this shot", "Check the camera's "
           "recording codec", _REDELIVER, "chroma subsampling is 4:2:0; profile 'camera_prores' allows 4:2:2"),
    Family("spec.colour", "Colour primaries, transfer or matrix are untagged or not the profile's",
           Severity.WARNING, ("colour", "editorial"), "Dailies and the grade may show wrong colours or gamma",
           ("editorial", "colour"), "The shot may not match in colour when it is cut in",
           "Check the camera's colour space/gamma setting and tell colour which clips differ", _REDELIVER,
           "colour primaries are not tagged; profile 'camera_prores' allows BT.709"),
    Family("spec.audio", "Audio codec, sample rate, bit depth, channels or layout differ from the profile",
           Severity.ERROR, ("sound", "editorial"), "Sound will have to convert or resample this audio, and "
           "sync against production sound can drift", ("editorial", "sound"), "Sound will have to conform "
           "the audio of this delivery", "Check the camera/recorder's audio settings before the next roll",
           _REDELIVER, "audio sample rate is 44.1 kHz; profile 'camera_prores' allows 48 kHz"),
    Family("spec.timecode", "Timecode is missing or does not start where the profile requires",
           Severity.ERROR, ("editorial", "sound"), "Editorial cannot sync sound or conform by timecode, and "
           "EDLs and VFX pulls will point at the wrong frames", ("editorial",),
           "Editorial cannot conform this delivery by timecode", "Check the camera's timecode source and "
           "jam-sync it before the next roll", _REDELIVER,
           "the file has no timecode; profile 'camera_prores' requires timecode"),
    Family("spec.duration", "The file is empty in time (0 s) or shorter than the profile's minimum",
           Severity.ERROR, ("editorial",), "Editorial cannot use a clip with no usable length",
           ("editorial",), "Editorial cannot cut this delivery in", "Check the card/recording; copy it "
           "again if the source is longer", _REDELIVER,
           "duration is 0 s: the file holds no playable frames or samples"),
    Family("spec.policy", "The file fails the MediaConch policy imported into its profile", Severity.ERROR,
           ("editorial",), "Downstream QC that uses this policy will reject the file", ("editorial",),
           "Downstream QC that uses this policy will reject the delivery", "Fix the listed properties at "
           "the source, or ask the supervisor whether the policy applies to this material", _REDELIVER,
           "fails MediaConch policy 'BFI ProRes': video format profile is '422'; rule "
           "'Video/Format_Profile is 422 HQ' wants it to be '422 HQ'"),
    Family("spec.policy_unsupported", "A MediaConch policy part reelwatch cannot evaluate (reported, "
           "never passed silently)", Severity.INFO, (), "That part of the policy was not checked, so a problem "
           "it looks for could go unnoticed", (), "That part of the policy was not checked",
           "Check that part another way (e.g. run MediaConch itself) or remove it from the policy",
           "Check that part another way (e.g. run MediaConch itself) or remove it from the policy",
           "policy 'BFI DPX' rule 'Magic number' was not checked: it reads the file's byte structure "
           "(MediaConch scope 'mmt', a MediaTrace rule), which reelwatch does not parse"),
)}
