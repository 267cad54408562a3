"""Every real cut list in the corpus (OpenTimelineIO's adapter test data: Avid, Premiere,
Nucoda, Hiero exports) is read or reported, and its events match a production built from
it, with decoys an assistant editor meets: a copy of every clip on a second volume, a clip of
the same name on another card at other timecode, another clip on every reel.

Two productions per cut list: one whose files carry the names the cut list uses, and one
whose files have opaque names, so that only reel and source timecode can decide. A match is
correct when it names exactly the clip (and its copy) the event came from; ambiguous is
correct only where the production really holds several clips that fit; a wrong clip is never
acceptable. Run with ``-s`` to see the figures."""

from __future__ import annotations

import re
from collections import Counter
from fractions import Fraction
from pathlib import Path

import pytest

from conftest import corpus_path
from reelwatch.timeline import (Clip, CutList, Event, MemoryCatalog, cut_list_format, match_timeline,
                                read_cut_list)
from reelwatch.timeline.match import fit
from reelwatch.timeline.names import REEL_LIMIT, path_name, split_frame
from reelwatch.timeline.timecode import nominal

SUFFIXES = {".edl", ".xml", ".aaf", ".otio", ".fcpxml"}
NOT_CUT_LISTS = {"premiere_example_filter.xml"}  # a Premiere effect-filter export, no sequence in it
BROKEN = {"dissolve_test_fail.edl"}  # the EDL reader raises AttributeError on it


def corpus_files() -> list[Path]:
    root = corpus_path("timelines")
    return sorted(p for p in root.rglob("*") if p.suffix.lower() in SUFFIXES)


@pytest.fixture(scope="module")
def corpus() -> dict[Path, CutList]:
    """Every corpus cut list, read once (AAF reading takes about 20 s of the 30)."""
    return {p: read_cut_list(p, Fraction(24)) for p in corpus_files() if p.name not in NOT_CUT_LISTS}


def test_every_corpus_cut_list_is_read_or_reported_in_plain_words(corpus):
    files = corpus_files()
    read, events, formats = [], 0, Counter()
    for path in files:
        if path.name in NOT_CUT_LISTS:
            assert cut_list_format(path) is None
            continue
        cl = corpus[path]
        if path.name in BROKEN:
            assert not cl.readable and cl.issues[0].rule == "conform.unreadable"
            continue
        assert cl.readable, (path.name, [i.message for i in cl.issues])
        assert all("Traceback" not in i.message for i in cl.issues)
        read.append(path.name)
        formats[cl.format] += 1
        events += sum(len(t.events) for t in cl.timelines)
    print(f"\ncorpus: {len(files)} files, {len(read)} read ({dict(formats)}), {events} events")
    assert len(read) == len(files) - len(NOT_CUT_LISTS) - len(BROKEN)
    assert events > 1300


def _true_name(event: Event) -> str | None:
    """The file the event's source would be on disk, by the production's (not the matcher's) rule."""
    if event.source_path:
        return path_name(event.source_path)
    if event.clip_name:
        name = re.sub(r"(\s*\([^()]*\))+\s*$", "", re.sub(r" FF$", "", event.clip_name.strip())).strip()
        return name if re.search(r"\.[A-Za-z0-9]{2,4}$", name) else f"{name}.mov"
    return None


def _production(events: list[Event], opaque: bool) -> tuple[MemoryCatalog, dict[int, set[tuple[str, str]]]]:
    """(catalog, event number -> the (volume, relpath) of its true clip and copy)."""
    by_file: dict[str, list[Event]] = {}
    for e in events:
        name = _true_name(e)
        if name is None and e.reel:
            name = f"{e.reel}.mov"
        if name:
            by_file.setdefault(name, []).append(e)
    clips: list[Clip] = []
    truth: dict[int, set[tuple[str, str]]] = {}
    reels: set[str] = set()
    for i, (name, evs) in enumerate(sorted(by_file.items())):
        rate = evs[0].source_rate
        nom = nominal(rate)
        # the clip spans every source range the cut uses (in the first event's frames)
        start = min(e.source_in * nom // nominal(e.source_rate) for e in evs)
        end = max(-(-e.source_out * nom // nominal(e.source_rate)) for e in evs)
        reel = next((e.reel for e in evs if e.reel), "")
        frame = split_frame(name)
        folder = f"roll{i:04d}"
        if frame:
            base, ext, first, pad = frame
            kw: dict = {"name": f"{base}{first}-{first + end - start}{'#' if pad == 4 else '@' * pad}{ext}",
                        "kind": "sequence", "frames": (first, first + end - start)}
        else:
            kw = {"name": f"clip_{i:05d}.mov" if opaque else name, "rate": rate, "start": start,
                  "duration": end - start}
        for volume in ("ingest", "nas"):
            clips.append(Clip(volume, f"{folder}/{kw['name']}", reels=(reel,) if reel else (), **kw))
        for e in evs:
            truth[e.number] = {("ingest", f"{folder}/{kw['name']}"), ("nas", f"{folder}/{kw['name']}")}
        if not frame and not opaque:  # the same name on another card, an hour later
            clips.append(Clip("ingest", f"card9/{name}", name, rate=rate, start=end + 3600 * nom, duration=end - start))
        if reel:
            reels.add(reel)
    for reel in sorted(reels):  # another clip on every reel, at other timecode
        clips.append(Clip("ingest", f"decoys/{reel}_decoy.mov".replace("/", "_", 0), f"{reel}_decoy.mov",
                          rate=Fraction(24), start=20 * 3600 * 24, duration=24, reels=(reel,)))
    return MemoryCatalog(clips), truth


def _score(events: tuple[Event, ...], catalog: MemoryCatalog, truth: dict[int, set[tuple[str, str]]],
           opaque: bool) -> Counter[str]:
    score: Counter[str] = Counter()
    for m in match_timeline_events(events, catalog):
        want = truth.get(m.event.number)
        got = {(c.volume, c.relpath) for c in m.clips}
        if want is None:
            score["no source named" if m.status == "unmatched" else "wrong"] += 1
        elif m.status == "matched":
            score["correct" if got == want else "wrong"] += 1
        elif m.status == "ambiguous":
            # correct only if the production really holds several clips that fit, the true one among them
            fitting = {c for c in catalog.by_reel(m.event.reel)} if m.event.reel else set()
            several = len({c.name for c in fitting if fit(c, m.event) in ("inside", "overlap")}) > 1
            score["ambiguous, as it is" if want <= got and (several or not opaque) else "wrong"] += 1
        else:
            # unmatched is acceptable only where nothing identifies the clip: no name, and a reel
            # whose clips do not cover the event
            score["unmatched" if opaque else "missed"] += 1
    return score


def match_timeline_events(events: tuple[Event, ...], catalog: MemoryCatalog):  # type: ignore[no-untyped-def]
    from reelwatch.timeline import Timeline
    return match_timeline(Timeline("x", "x", "x", Fraction(24), events=events), catalog)


@pytest.mark.parametrize("opaque", [False, True], ids=["names", "reels-only"])
def test_match_accuracy_on_the_corpus(corpus, opaque):
    total: Counter[str] = Counter()
    for cl in corpus.values():
        for tl in cl.timelines:
            events = tl.events
            if opaque:  # only events with a reel can be found without names
                events = tuple(e for e in events if e.reel and e.reel.upper() not in ("AX", "BL"))
            if not events:
                continue
            catalog, truth = _production(list(events), opaque)
            total += _score(events, catalog, truth, opaque)
    n = sum(total.values())
    print(f"\n{'reels only' if opaque else 'by names'}: {n} events: " +
          ", ".join(f"{k} {v} ({100 * v / n:.1f}%)" for k, v in total.most_common()))
    assert total["wrong"] == 0
    if not opaque:
        assert total["correct"] / n > 0.99 and total["missed"] == 0
    else:
        assert total["correct"] > 0 and REEL_LIMIT == 8
