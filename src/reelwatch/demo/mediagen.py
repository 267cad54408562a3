"""Generate small, real, deterministic media for tests and ``reelwatch demo``.

Encoded with PyAV's bundled FFmpeg; ``av`` is imported lazily, so this module
imports without it (see :func:`have_pyav`).  Frame grabs live in
:mod:`reelwatch.notify.frames` (the daemon attaches them to messages) and are
re-exported here.  Output is byte-identical across runs (``fflags=+bitexact``).

Measured with pymediainfo 7.0.1 / PyAV 18.1 -- Video ``format`` /
``format_profile`` / ``commercial_name`` (bit_depth):

* prores_proxy/lt/422/hq -> ProRes / ``422 Proxy``, ``422 LT``, ``422``,
  ``422 HQ`` / ProRes; prores_4444 -> ProRes / ``4444`` (4:4:4).  bit_depth is
  10 in MXF but empty in .mov.
* dnxhd -> VC-3 / ``HD@LB`` / ``DNxHD 36`` (1080p 23.976/24/25; ``DNxHD 45``
  at 29.97, 75 at 50, 90 at 59.94) (8); 720p -> ``HD@SQ`` / ``DNxHD 60`` (75 at
  29.97, "115" at 50 for the 120 Mb/s stream, 145 at 59.94).
* dnxhr_lb/sq/hq/hqx -> VC-3 / ``RI@LB``, ``RI@SQ``, ``RI@HQ``, ``RI@HQX`` /
  ``DNxHR LB`` ... (8, 8, 8, 10); General commercial_name ``MPEG-4 DNxHR LB``.
* h264 -> AVC / ``High@L1.2`` at 320x180 / AVC (8).

Containers: .mov -> MPEG-4/``QuickTime``; .mp4 -> MPEG-4/``Base Media``
(h264 + AAC only); .mxf -> MXF/``OP-1a``.  ``frame_rate`` is "23.976", "24.000",
"25.000", "29.970".  Timecode: an ``Other`` track of type ``Time code`` with
``time_code_of_first_frame`` -- ``QuickTime TC`` in mov/mp4; in MXF two
``MXF TC`` (material/source package) plus one ``SMPTE TC``.

Truncation (``truncate(keep=0.5)``), General track: a ``faststart`` mov/mp4
keeps all its tracks with ``istruncated == "Yes"`` and ``general_compliance``
"Element size N is more than maximal permitted size M ..."; a plain mov/mp4
(moov at the end) has only the General track (``istruncated == "Yes"``); an
MXF keeps all tracks (header partition) with ``istruncated == "Yes"`` and
"File size N is less than expected size M".
"""

from __future__ import annotations

import contextlib
import math
import re
import struct
from fractions import Fraction
from pathlib import Path
from typing import Any
from collections.abc import Iterable

from ..notify.frames import frame_grab, have_pyav

__all__ = ["CODECS", "make_clip", "make_wav", "make_image_sequence", "truncate", "frame_grab",
           "have_pyav"]

PathLike = str | Path
RateLike = Fraction | int | float | str

_MISSING = "PyAV is needed to generate media: pip install 'reelwatch[media]'"

#: codec name -> (ffmpeg encoder, pixel format, encoder options)
CODECS: dict[str, tuple[str, str, dict[str, str]]] = {
    "prores_proxy": ("prores_ks", "yuv422p10le", {"profile": "0"}),
    "prores_lt": ("prores_ks", "yuv422p10le", {"profile": "1"}),
    "prores_422": ("prores_ks", "yuv422p10le", {"profile": "2"}),
    "prores_hq": ("prores_ks", "yuv422p10le", {"profile": "3"}),
    "prores_4444": ("prores_ks", "yuv444p10le", {"profile": "4"}),
    "dnxhd": ("dnxhd", "yuv422p", {}),
    "dnxhr_lb": ("dnxhd", "yuv422p", {"profile": "dnxhr_lb"}),
    "dnxhr_sq": ("dnxhd", "yuv422p", {"profile": "dnxhr_sq"}),
    "dnxhr_hq": ("dnxhd", "yuv422p", {"profile": "dnxhr_hq"}),
    "dnxhr_hqx": ("dnxhd", "yuv422p10le", {"profile": "dnxhr_hqx"}),
    "h264": ("libx264", "yuv420p", {}),
}

_NTSC = {Fraction(n * 1000, 1001) for n in (24, 30, 48, 60, 120)}

# Lowest-bitrate 8-bit DNxHD (Mbit/s) per (width, height, rate), per Avid's tables.
_DNXHD_MBPS: dict[tuple[int, int], dict[Fraction, int]] = {
    (1920, 1080): {Fraction(24000, 1001): 36, Fraction(24): 36, Fraction(25): 36,
                   Fraction(30000, 1001): 45, Fraction(50): 75, Fraction(60000, 1001): 90},
    (1280, 720): {Fraction(24000, 1001): 60, Fraction(24): 60, Fraction(25): 60,
                  Fraction(30000, 1001): 75, Fraction(50): 120, Fraction(60000, 1001): 145},
}

_MXF_RATES = {Fraction(n) for n in (24, 25, 30, 48, 50, 60, 72, 96, 100, 120)} | {
    Fraction(n * 1000, 1001) for n in (24, 30, 48, 60, 120)}

_TIMECODE = re.compile(r"^\d\d:[0-5]\d:[0-5]\d[:;.]\d\d$")

_BARS = [(235, 235, 235), (235, 235, 16), (16, 235, 235), (16, 235, 16),
         (235, 16, 235), (235, 16, 16), (16, 16, 235), (16, 16, 16)]


def _av() -> Any:
    try:
        import av
    except ImportError as exc:
        raise RuntimeError(_MISSING) from exc
    return av


def _rate(rate: RateLike) -> Fraction:
    """Normalise a frame rate; values near 23.976/29.97/59.94/... snap to n*1000/1001."""
    fps = Fraction(rate)
    if fps.denominator not in (1, 1001):
        fps = next((n for n in _NTSC if abs(fps - n) < Fraction(1, 100)),
                   fps.limit_denominator(1001))
    if fps <= 0:
        raise ValueError(f"frame rate must be positive, not {rate!r}")
    return fps


def _rgb_frame(av: Any, width: int, height: int, index: int) -> Any:
    """Deterministic rgb24 frame: colour bars scrolling with ``index`` over a ramp."""
    shift = index * max(1, width // 32)
    bars = b"".join(bytes(_BARS[((x + shift) * 8 // width) % 8]) for x in range(width))
    ramp = b"".join(bytes((16 + 219 * x // max(1, width - 1),) * 3) for x in range(width))
    frame = av.VideoFrame(width, height, "rgb24")
    plane = frame.planes[0]
    pad = b"\0" * (plane.line_size - width * 3)
    split = height * 2 // 3
    plane.update((bars + pad) * split + (ramp + pad) * (height - split))
    return frame


def _tone(rate: int, channels: int, samples: int, bits: int, planar_float: bool) -> list[bytes]:
    """Sine at -20 dBFS, channel n at (n % 8 + 1) kHz, as plane buffers (one if interleaved)."""
    period = rate // math.gcd(rate, 1000)  # every tone repeats exactly after this many samples
    reps = samples // period + 1
    cycles = [[0.1 * math.sin(2 * math.pi * 1000 * (ch % 8 + 1) * i / rate) for i in range(period)]
              for ch in range(channels)]
    if planar_float:
        return [(struct.pack(f"<{period}f", *c) * reps)[:samples * 4] for c in cycles]
    scale, fmt, size = (32767, "h", 2) if bits == 16 else (8388607 << 8, "i", 4)
    inter = [int(c[i] * scale) for i in range(period) for c in cycles]
    return [(struct.pack(f"<{len(inter)}{fmt}", *inter) * reps)[:samples * size * channels]]


def _audio_frame(av: Any, fmt: str, rate: int, channels: int, bufs: list[bytes],
                 start: int, stop: int) -> Any:
    """AudioFrame holding samples [start, stop) of the ``_tone`` buffers."""
    frame = av.AudioFrame(format=fmt, layout=f"{channels}c", samples=stop - start)
    frame.sample_rate = rate
    frame.pts = start
    step = {"s16": 2 * channels, "s32": 4 * channels, "fltp": 4}[fmt]  # bytes/sample/plane
    for plane, buf in zip(frame.planes, bufs, strict=False):
        chunk = buf[start * step:stop * step]
        plane.update(chunk + b"\0" * (plane.buffer_size - len(chunk)))
    return frame


def _pcm_codec(bits: int) -> str:
    if bits not in (16, 24):
        raise ValueError(f"audio_bits must be 16 or 24, not {bits}")
    return f"pcm_s{bits}le"


def _check_clip(codec: str, fmt: str, width: int, height: int, fps: Fraction, frames: int,
                audio_channels: int, audio_rate: int, audio_bits: int,
                timecode: str | None) -> int | None:
    """Validate make_clip arguments (ValueError); return the DNxHD bit rate if any."""
    if codec not in CODECS:
        raise ValueError(f"unknown codec {codec!r}; choose from {sorted(CODECS)}")
    if fmt not in ("mov", "mxf", "mp4"):
        raise ValueError(f"unsupported container {fmt!r}: use .mov, .mxf or .mp4")
    if fmt == "mp4" and codec != "h264":
        raise ValueError(f"{codec} cannot go in mp4; use .mov or .mxf")
    if frames < 1 or audio_channels < 0 or width < 1 or height < 1:
        raise ValueError("frames, width and height must be >= 1 and audio_channels >= 0")
    pix_fmt = CODECS[codec][1]
    if (width % 2 or ("420" in pix_fmt and height % 2)) and pix_fmt != "yuv444p10le":
        raise ValueError(f"{codec} ({pix_fmt}) cannot encode {width}x{height}: odd size")
    if codec.startswith("dnxhr") and (width < 256 or height < 120):
        raise ValueError(f"DNxHR needs at least 256x120, got {width}x{height}")
    if timecode and not _TIMECODE.match(timecode):
        raise ValueError(f"timecode must look like HH:MM:SS:FF (;FF drop-frame), not {timecode!r}")
    if fmt == "mxf" and fps not in _MXF_RATES:
        raise ValueError(f"MXF cannot carry {fps} fps; use one of {sorted(map(str, _MXF_RATES))}")
    if audio_channels and fmt != "mp4":
        _pcm_codec(audio_bits)
        if fmt == "mxf" and audio_rate != 48000:
            raise ValueError(f"MXF audio must be 48000 Hz, not {audio_rate}")
    if codec != "dnxhd":
        return None
    table = _DNXHD_MBPS.get((width, height), {})
    if fps not in table:
        valid = {f"{w}x{h}": sorted(str(r) for r in t) for (w, h), t in _DNXHD_MBPS.items()}
        raise ValueError(f"DNxHD cannot encode {width}x{height} @ {fps} fps; valid: {valid} "
                         "(use a dnxhr_* codec for other sizes/rates)")
    return table[fps] * 1_000_000


def make_clip(path: PathLike, *, codec: str = "prores_hq", width: int = 1920, height: int = 1080,
              rate: RateLike = Fraction(24000, 1001), frames: int = 6, audio_channels: int = 2,
              audio_rate: int = 48000, audio_bits: int = 24, timecode: str | None = "01:00:00:00",
              faststart: bool = False, container: str | None = None) -> Path:
    """Encode a short clip with scrolling colour bars and a tone; return its path.

    ``container`` (``mov``/``mxf``/``mp4``) defaults to the file suffix.  Audio is
    PCM (``audio_bits`` 16/24) in mov/mxf and AAC in mp4, interleaved per video
    frame; ``audio_channels=0`` writes no audio.  ``timecode`` becomes a tmcd
    track (mov/mp4) or MXF timecode tracks.  ``faststart`` moves the moov atom to
    the front (mov/mp4 only).  ``dnxhd`` is 8-bit DNxHD at the lowest Avid
    bitrate for 1920x1080 or 1280x720 at 23.976/24/25/29.97/50/59.94.
    Raises ValueError for invalid combinations (nothing is left on disk).
    """
    path = Path(path)
    fmt = (container or path.suffix.lstrip(".")).lower()
    fps = _rate(rate)
    bit_rate = _check_clip(codec, fmt, width, height, fps, frames, audio_channels, audio_rate,
                           audio_bits, timecode)
    encoder, pix_fmt, options = CODECS[codec]
    av = _av()
    path.parent.mkdir(parents=True, exist_ok=True)
    opts = {"fflags": "+bitexact"}  # no random UMIDs/timestamps: byte-identical reruns
    if faststart and fmt in ("mov", "mp4"):
        opts["movflags"] = "+faststart"
    out = av.open(str(path), "w", format=fmt, options=opts)
    try:
        if timecode:
            out.metadata["timecode"] = timecode
        vs = out.add_stream(encoder, rate=fps)
        vs.width, vs.height, vs.pix_fmt = width, height, pix_fmt
        if bit_rate:
            vs.bit_rate = bit_rate
        vs.codec_context.options = dict(options)
        aud = None
        if audio_channels:
            acodec = "aac" if fmt == "mp4" else _pcm_codec(audio_bits)
            aud = out.add_stream(acodec, rate=audio_rate)
            aud.layout = f"{audio_channels}c"
            sample_fmt = aud.codec_context.format.name
            tone = _tone(audio_rate, audio_channels, int(audio_rate * frames / fps), audio_bits,
                         planar_float=sample_fmt == "fltp")
        for i in range(frames):  # one frame's worth of audio per video frame: interleaved
            frame = _rgb_frame(av, width, height, i).reformat(format=pix_fmt)
            frame.pts = i
            out.mux(vs.encode(frame))
            if aud is not None:
                start, stop = (int(audio_rate * n / fps) for n in (i, i + 1))
                out.mux(aud.encode(_audio_frame(av, sample_fmt, audio_rate, audio_channels,
                                                tone, start, stop)))
        out.mux(vs.encode(None))
        if aud is not None:
            out.mux(aud.encode(None))
    except BaseException:
        with contextlib.suppress(Exception):
            out.close()
        path.unlink(missing_ok=True)
        raise
    out.close()
    return path


def make_wav(path: PathLike, *, rate: int = 48000, bits: int = 24, channels: int = 2,
             seconds: float = 1.0) -> Path:
    """Write a PCM WAV (16/24-bit) with a 1 kHz tone per channel via PyAV."""
    codec = _pcm_codec(bits)
    av = _av()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    out = av.open(str(path), "w", format="wav")
    try:
        stream = out.add_stream(codec, rate=rate)
        stream.layout = f"{channels}c"
        sample_fmt = stream.codec_context.format.name
        samples = int(round(rate * seconds))
        if samples:
            tone = _tone(rate, channels, samples, bits, planar_float=False)
            out.mux(stream.encode(_audio_frame(av, sample_fmt, rate, channels, tone, 0, samples)))
        out.mux(stream.encode(None))
    finally:
        out.close()
    return path


_IMAGE_FORMATS: dict[tuple[str, int], tuple[str, str, dict[str, str]]] = {
    ("dpx", 8): ("dpx", "rgb24", {}),
    ("dpx", 10): ("dpx", "gbrp10be", {}),
    ("dpx", 12): ("dpx", "gbrp12be", {}),
    ("dpx", 16): ("dpx", "rgb48be", {}),
    ("tiff", 8): ("tiff", "rgb24", {}),
    ("tiff", 16): ("tiff", "rgb48le", {}),
    ("exr", 16): ("exr", "gbrpf32le", {"format": "half"}),
    ("exr", 32): ("exr", "gbrpf32le", {"format": "float"}),
}


def make_image_sequence(folder: PathLike, name: str = "plate", ext: str = "dpx", first: int = 1001,
                        last: int = 1010, *, width: int = 256, height: int = 144, padding: int = 4,
                        skip: Iterable[int] = (), sep: str = ".", bits: int = 10) -> list[Path]:
    """Write ``name<sep><frame>.<ext>`` for first..last (minus ``skip``); return the paths.

    ``ext`` is dpx (bits 8/10/12/16), tiff/tif (8/16) or exr (16 = half, 32 = float;
    ``bits=10`` is taken as half for exr).
    """
    kind = {"tif": "tiff"}.get(ext.lower(), ext.lower())
    if kind == "exr" and bits not in (16, 32):
        bits = 16
    key = (kind, bits)
    if key not in _IMAGE_FORMATS:
        raise ValueError(f"unsupported image format/bit depth {ext!r}/{bits}; "
                         f"valid: {sorted(_IMAGE_FORMATS)}")
    encoder, pix_fmt, options = _IMAGE_FORMATS[key]
    av = _av()
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    skipped = set(skip)
    paths: list[Path] = []
    for number in range(first, last + 1):
        if number in skipped:
            continue
        ctx = av.codec.CodecContext.create(encoder, "w")
        ctx.width, ctx.height, ctx.pix_fmt = width, height, pix_fmt
        ctx.time_base = Fraction(1, 24)
        ctx.options = dict(options)
        frame = _rgb_frame(av, width, height, number - first).reformat(format=pix_fmt)
        frame.pts = 0
        data = b"".join(bytes(p) for p in ctx.encode(frame) + ctx.encode(None))
        target = folder / f"{name}{sep}{number:0{padding}d}.{ext}"
        target.write_bytes(data)
        paths.append(target)
    return paths


def truncate(src: PathLike, dst: PathLike | None = None, *, keep: float = 0.5) -> Path:
    """Copy ``src`` keeping only the first ``keep`` fraction of its bytes.

    With ``dst=None`` the file is truncated in place.  Returns the truncated path.
    """
    if not 0 <= keep <= 1:
        raise ValueError(f"keep must be between 0 and 1, not {keep}")
    src = Path(src)
    size = int(src.stat().st_size * keep)
    if dst is None:
        with open(src, "r+b") as fh:
            fh.truncate(size)
        return src
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    with open(src, "rb") as fin, open(dst, "wb") as fout:
        remaining = size
        while remaining > 0:
            chunk = fin.read(min(remaining, 1 << 20))
            if not chunk:
                break
            fout.write(chunk)
            remaining -= len(chunk)
    return dst
