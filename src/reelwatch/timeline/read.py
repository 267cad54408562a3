"""Reading cut lists: which files are cut lists, and reading one without ever raising.

OpenTimelineIO picks a reader by extension. Readers fail on real files in ways they do not
document (an AttributeError inside the EDL reader on a dissolve, "No top-level sequences
found" from the XML reader), print to stdout (the AAF reader's "Unable find slot_id ...
creating Gap") and log through the root logger (pyaaf2's "Fraction(0,0) not mathematically
plausible"). :func:`read_cut_list` turns every failure into a ``conform.unreadable`` issue and
keeps the noise out of our logs; because swapping stdout and the warning filters is
process-wide, the daemon reads through :func:`read_isolated`, a killable child process that
answers in JSON (``python -m reelwatch.timeline.child``).

EDLs carry no frame rate. They are read at the production's base rate; when their timecodes
cannot be at that rate (frame 24 at 23.976), they are read at the lowest standard rate that
fits and a ``conform.cut_list_rate`` issue says so. Other formats carry their rate, which is
compared with the base rate exactly.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import re
import subprocess
import sys
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from reelwatch.core.model import Severity, format_rate

from .fcpxml import prepare
from .names import path_name
from .rules import RULES
from .timecode import nominal
from .values import Issue, Timeline, purpose_of

FORMATS = {".edl": ("cmx_3600", "CMX 3600 EDL"), ".xml": ("fcp_xml", "Final Cut Pro 7 XML"),
           ".fcpxml": ("fcpx_xml", "FCPXML"), ".aaf": ("AAF", "AAF"), ".otio": ("otio_json", "OpenTimelineIO")}
"""Extension -> (OpenTimelineIO adapter, format in plain words)."""

STANDARD_RATES = tuple(Fraction(r) for r in ("24000/1001", "24", "25", "30000/1001", "30", "48", "50",
                                             "60000/1001", "60"))
MAX_BYTES = 2 << 30
"""Larger files are refused unread (an AAF with embedded media is not a cut list to parse in memory)."""

_TC = re.compile(r"(?<![\d:;])(\d\d)[:;](\d\d)[:;](\d\d)([:;])(\d\d)(?![\d:;])")
_QUIET_PATHS = ("aaf2", "otio_aaf_adapter", "otio_cmx3600_adapter", "otio_fcp_adapter", "otio_fcpx_xml_adapter",
                "opentimelineio")


@dataclass(frozen=True, slots=True)
class CutList:
    """What one cut list file gave: its timelines (usually one) and the problems in reading it."""

    path: str
    format: str
    timelines: tuple[Timeline, ...] = ()
    issues: tuple[Issue, ...] = ()

    @property
    def readable(self) -> bool:
        return bool(self.timelines)

    def to_json(self) -> str:
        return json.dumps({
            "path": self.path, "format": self.format, "timelines": [t.to_json() for t in self.timelines],
            "issues": [{"rule": i.rule, "severity": i.severity.label, "message": i.message,
                        "fix": i.fix, "events": list(i.events)} for i in self.issues]}, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> CutList:
        data = json.loads(text)
        issues = tuple(RULES[i["rule"]].issue(i["message"], tuple(i["events"]), severity=Severity.parse(i["severity"]),
                                              fix=i["fix"]) for i in data["issues"])
        return cls(path=data["path"], format=data["format"],
                   timelines=tuple(Timeline.from_json(t) for t in data["timelines"]), issues=issues)


def cut_list_format(path: str | os.PathLike[str]) -> tuple[str, str] | None:
    """(adapter, format) for a file that is a cut list, None for anything else. An ``.xml``
    is a cut list only when it is FCP 7 XML (``<xmeml``) or FCPXML: camera sidecars
    (Sony ``M01.XML``) and MHL-like XML are not. A ``.fcpxmld`` bundle is read through its
    ``Info.fcpxml``."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix == ".fcpxmld":
        return FORMATS[".fcpxml"]
    if suffix not in FORMATS:
        return None
    if suffix == ".xml":
        try:
            with open(p, "rb") as fh:
                head = fh.read(4096).lower()
        except OSError:
            return FORMATS[suffix]  # unreadable: let the reader say so, as a problem
        if b"<fcpxml" in head:
            return FORMATS[".fcpxml"]
        return FORMATS[suffix] if b"<xmeml" in head else None
    return FORMATS[suffix]


class _DropAdapterRecords(logging.Filter):
    """Drops records logged from inside the cut list readers (pyaaf2 logs to the root logger)."""

    def filter(self, record: logging.LogRecord) -> bool:
        where = record.pathname.replace("\\", "/")
        return not any(f"/{p}/" in where for p in _QUIET_PATHS)


@contextlib.contextmanager
def _quiet() -> Iterator[io.StringIO]:
    """Swallow what readers print, warn and log while reading; yield what they printed."""
    sink = io.StringIO()
    flt = _DropAdapterRecords()
    loggers = [logging.getLogger()] + [logging.getLogger(p) for p in _QUIET_PATHS]
    for lg in loggers:
        lg.addFilter(flt)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            warnings.simplefilter("ignore")
            yield sink
    finally:
        for lg in loggers:
            lg.removeFilter(flt)


def _unreadable(path: str, fmt: str, why: str) -> CutList:
    name = path_name(path)
    return CutList(path, fmt, issues=(RULES["conform.unreadable"].issue(f"cut list {name} could not be read: {why}"),))


def _explain(exc: BaseException, fmt: str) -> str:
    text = " ".join(str(exc).split())[:300]
    if isinstance(exc, MemoryError):
        return "it is too large to read"
    if isinstance(exc, UnicodeDecodeError | UnicodeError):
        return "it is not text in a known encoding"
    kind = type(exc).__name__
    reader = {"CMX 3600 EDL": "the EDL reader", "AAF": "the AAF reader"}.get(fmt, f"the {fmt} reader")
    if kind in ("AttributeError", "KeyError", "IndexError", "TypeError"):
        return f"{reader} failed on something in it that it does not support ({kind}: {text})"
    return f"{reader} said: {text}" if text else f"{reader} failed ({kind})"


def _decode(data: bytes) -> str:
    for enc in ("utf-8-sig", "cp1252"):
        with contextlib.suppress(UnicodeDecodeError):
            return data.decode(enc)
    return data.decode("latin-1")


def edl_rate(text: str, base: Fraction | None) -> tuple[Fraction, bool, str]:
    """(rate to read an EDL at, drop-frame, why it differs from ``base`` or '')."""
    drop = bool(re.search(r"^\s*FCM:\s*DROP\s+FRAME", text, re.IGNORECASE | re.MULTILINE))
    highest, where = -1, ""
    for lineno, line in enumerate(text.splitlines(), 1):
        for m in _TC.finditer(line):
            drop = drop or m[4] == ";"
            if int(m[5]) > highest:
                highest, where = int(m[5]), m[0]
                event = line.split()[0] if line.split() and line.split()[0].isdigit() else ""
                where = f"{m[0]}, event {int(event)}" if event else f"{m[0]}, line {lineno}"
    rate = base or Fraction(24)
    if highest < nominal(rate):
        note = ""
        if drop and not (rate.denominator == 1001 and rate.numerator % 30000 == 0):
            note = (f"the EDL counts drop-frame timecode, which only 29.97 and 59.94 fps have, while the base rate "
                    f"is {format_rate(rate)}")
        elif base is None:
            note = "no base frame rate is configured, so the EDL was read at 24 fps"
        return rate, drop, note
    ntsc = drop or (base is not None and base.denominator == 1001)
    fits = sorted((r for r in STANDARD_RATES if nominal(r) > highest),
                  key=lambda r: (nominal(r), (r.denominator == 1001) != ntsc))
    chosen = fits[0] if fits else Fraction(highest + 1)
    said = f"the base rate {format_rate(base)}" if base else "24 fps (no base rate is configured)"
    return chosen, drop, (f"the EDL's timecodes run to frame {highest:02d} ({where}), which {said} does not "
                          f"have; it was read at {format_rate(chosen)} fps")


def _issue_rate(note: str) -> Issue:
    return RULES["conform.cut_list_rate"].issue(note)


def _aaf_drop_frame(path: Path) -> dict[str, bool]:
    """Sequence name -> drop-frame, from the AAF's timecode components. The AAF reader does
    not carry the flag over, so this asks pyaaf2 (installed with the AAF reader) directly."""
    out: dict[str, bool] = {}
    try:
        with _quiet():
            import aaf2

            with aaf2.open(str(path), "r") as f:
                for mob in f.content.compositionmobs():
                    for slot in mob.slots:
                        seg = slot.segment
                        parts = [seg, *getattr(seg, "components", ())]
                        for part in parts:
                            if isinstance(part, aaf2.components.Timecode):
                                out[mob.name] = out.get(mob.name, False) or bool(part.drop)
    except Exception:
        return out  # no flag is not a reason to fail the read: timecode is shown non-drop
    return out


def read_cut_list(path: str | os.PathLike[str], base_rate: Fraction | None = None,  # noqa: C901 -- one case per reader failure, each a plain-words issue
                  purpose: str | None = None) -> CutList:
    """Read one cut list. Never raises for a bad file: problems come back as issues
    (``conform.unreadable``, ``conform.cut_list_rate``). ``purpose`` defaults to a guess from
    the name (:func:`~.values.purpose_of`)."""
    spath = os.fspath(path)
    try:
        import opentimelineio as otio

        from .extract import Context, drop_frame_of, timeline_of, timeline_rate
    except ImportError:
        return _unreadable(spath, (cut_list_format(spath) or ("", ""))[1],
                           "reading cut lists needs OpenTimelineIO: pip install 'reelwatch[timelines]'")
    found = cut_list_format(spath)
    if found is None:
        return _unreadable(spath, "", "it is not a cut list this reader knows (EDL, FCP 7 XML, FCPXML, AAF, OTIO)")
    adapter, fmt = found
    purpose = purpose or purpose_of(path_name(spath))
    target = Path(spath) / "Info.fcpxml" if spath.lower().endswith(".fcpxmld") else Path(spath)
    issues: list[Issue] = []
    try:
        size = target.stat().st_size
        if size > MAX_BYTES:
            return _unreadable(spath, fmt, f"it is {size:,} bytes, more than a cut list holds (media embedded?)")
        if size == 0:
            return _unreadable(spath, fmt, "the file is empty")
        rate, drop = base_rate, False
        relabel: dict[Fraction, Fraction] = {}
        extra: dict[str, dict[str, str]] = {}
        with _quiet():
            if adapter == "cmx_3600":
                text = _decode(target.read_bytes())
                rate, drop, note = edl_rate(text, base_rate)
                if note:
                    issues.append(_issue_rate(note))
                try:
                    result = otio.adapters.read_from_string(text, adapter_name=adapter, rate=float(rate))
                except Exception as exc:
                    if "don't match" not in str(exc) and "Overlapping record" not in str(exc):
                        raise
                    # A line whose source and record durations disagree, or records that
                    # overlap: read the rest, with record times following the source, and say so.
                    result = otio.adapters.read_from_string(text, adapter_name=adapter, rate=float(rate),
                                                            ignore_timecode_mismatch=True)
                    issues.append(RULES["conform.unreadable"].issue(
                        f"cut list {path_name(spath)} is inconsistent ({_explain(exc, fmt)}); it was read with "
                        "record times following the source durations, so record timecodes after that event may "
                        "be off", severity=Severity.WARNING))
            elif adapter == "fcpx_xml":
                text, relabel, extra, note = prepare(target.read_bytes())
                if note:
                    issues.append(RULES["conform.unreadable"].issue(f"cut list {path_name(spath)}: {note}",
                                                                    severity=Severity.WARNING))
                result = otio.adapters.read_from_string(text, adapter_name=adapter)
            else:
                result = otio.adapters.read_from_file(str(target), adapter_name=adapter)
    except OSError as exc:
        return _unreadable(spath, fmt, f"the file cannot be read ({exc.strerror or exc})")
    except Exception as exc:  # readers raise anything; one bad cut list is a problem for its owner
        return _unreadable(spath, fmt, _explain(exc, fmt))
    try:
        found_tls = ([result] if isinstance(result, otio.schema.Timeline)
                     else list(result.find_children(descended_from_type=otio.schema.Timeline)))
        timelines = []
        aaf_drop: dict[str, bool] | None = None  # read only for 29.97 and 59.94, the rates that drop frames
        for tl in found_tls:
            own = timeline_rate(tl) if adapter != "cmx_3600" else rate
            own = relabel.get(own, own) if own else (base_rate or Fraction(24))
            if adapter != "cmx_3600" and base_rate is not None and own != base_rate:
                issues.append(_issue_rate(f"sequence {tl.name or path_name(spath)!r} runs at {format_rate(own)} fps, "
                                          f"the production's base rate is {format_rate(base_rate)}"))
            drop_frame = drop or drop_frame_of(tl)
            if adapter == "AAF" and own.denominator == 1001 and own.numerator % 30000 == 0:
                aaf_drop = aaf_drop if aaf_drop is not None else _aaf_drop_frame(target)
                drop_frame = drop_frame or aaf_drop.get(tl.name, False)
            with _quiet():
                ctx = Context(own, fmt, relabel, extra)
                timelines.append(timeline_of(tl, ctx, path=spath, drop_frame=drop_frame, purpose=purpose))
    except Exception as exc:
        return _unreadable(spath, fmt, f"its sequences could not be turned into events ({_explain(exc, fmt)})")
    if not timelines:
        return CutList(spath, fmt, issues=(*issues, RULES["conform.unreadable"].issue(
            f"cut list {path_name(spath)} holds no sequence")))
    return CutList(spath, fmt, tuple(timelines), tuple(issues))


def read_isolated(path: str | os.PathLike[str], base_rate: Fraction | None = None, purpose: str | None = None,
                  timeout: float = 120) -> CutList:
    """:func:`read_cut_list` in a child process that is killed after ``timeout`` seconds: a
    reader that hangs, crashes or eats memory on one file costs that file, not the daemon."""
    spath = os.fspath(path)
    cmd = [sys.executable, "-m", "reelwatch.timeline.child", spath]
    if base_rate is not None:
        cmd += ["--rate", f"{base_rate.numerator}/{base_rate.denominator}"]
    if purpose:
        cmd += ["--purpose", purpose]
    fmt = (cut_list_format(spath) or ("", ""))[1]
    try:
        done = subprocess.run(cmd, capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return _unreadable(spath, fmt, f"reading it took longer than {timeout:g} s and was stopped")
    if done.returncode != 0:
        return _unreadable(spath, fmt, f"the reader stopped with exit status {done.returncode}")
    try:
        return CutList.from_json(done.stdout.decode("utf-8"))
    except (ValueError, KeyError, TypeError):
        return _unreadable(spath, fmt, "the reader's answer could not be understood")
