"""Reports that travel: ``reelwatch check --format html`` and a card's offload report.

Each is one HTML file with its CSS inline and its frame grabs as ``data:`` URIs, so that a DIT can
mail it or leave it on the drive it describes, and print it to PDF from any browser. File names and
every field from a file are escaped, as on the pages.
"""

from __future__ import annotations

import base64
import os
import tempfile
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from ..core.config import Config
from ..core.model import Severity
from ..notify.thumbs import BROKEN_RULES, grab_isolated
from ..state.store import Store

HERE = Path(__file__).parent
MAX_GRABS = 12
"""Frame grabs per check report: each is decoded in a child process (about 0.3 s)."""


def _env() -> Any:
    from .app import environment
    return environment()


def _css() -> str:
    return (HERE / "static" / "report.css").read_text()


def _data_uri(jpg: Path) -> str:
    return "data:image/jpeg;base64," + base64.b64encode(jpg.read_bytes()).decode()


def check_html(report: Any, paths: Sequence[str], production: str = "", *, grabs: bool = True) -> str:
    """The one-shot check as a self-contained page: the files with problems, worst first, with pictures."""
    by_file: dict[str, list[dict[str, Any]]] = {}
    for f in sorted(report.findings, key=lambda f: (-int(f.severity), f.path, f.rule)):
        by_file.setdefault(f.path, []).append(f.to_dict())
    files = [{"path": p, "findings": fs, "grab": None} for p, fs in by_file.items()]
    if grabs:
        with tempfile.TemporaryDirectory(prefix="reelwatch-report-") as tmp:
            made = 0
            for i, file in enumerate(files):
                if made >= MAX_GRABS:
                    break
                if any(str(f["rule"]).startswith(BROKEN_RULES) for f in file["findings"]) \
                        or not os.path.isfile(file["path"]):
                    continue
                dest = Path(tmp) / f"{i}.jpg"
                if grab_isolated(Path(file["path"]), dest):
                    file["grab"] = _data_uri(dest)
                    made += 1
    counts = {}
    for f in report.findings:
        counts[f.severity.label] = counts.get(f.severity.label, 0) + 1
    order = [s.label for s in sorted(Severity, reverse=True)]
    return _env().get_template("report_check.html").render(
        css=_css(), title=", ".join(os.path.basename(p.rstrip("/")) or p for p in paths),
        when=datetime.now().strftime("%Y-%m-%d %H:%M"), production=production, checked=report.assets,
        paths=list(paths), counts=[(s, counts[s]) for s in order if s in counts], files=files,
        problems=report.problems, skipped=report.skipped)


def offload_report(store: Store, config: Config, card: dict[str, Any]) -> str:
    """A card's offload report: verdict, copies, seal, and every clip with size, duration and checksums."""
    from .app import _absolute
    from .cards import card_files
    files = card_files(store, card)
    root = _absolute(config, card["volume"], "")
    for f in files:
        path = os.path.join(root, f["relpath"]) if root else None
        f["sums"] = [dict(r) for r in store.query("SELECT algo, digest FROM hashes WHERE path=?", (path,))] \
            if path else []
        try:
            f["duration_text"] = f"{float(f['duration']) / 1000:.2f} s" if f.get("duration") else "-"
        except (TypeError, ValueError):
            f["duration_text"] = "-"
    generations: list[str] = []
    if root:
        folder = Path(root) / str(card["relpath"]).rstrip("/") / "ascmhl"
        try:
            generations = sorted(p.name for p in folder.iterdir() if p.suffix == ".mhl")
        except OSError:
            generations = []
    return _env().get_template("report_card.html").render(
        css=_css(), card=card, files=files, total=sum(f["size"] for f in files), generations=generations,
        production=config.production.name, when=datetime.now().strftime("%Y-%m-%d %H:%M"))


def write_check_html(report: Any, paths: Sequence[str], config_path: str | None, output: str | None) -> None:
    """``reelwatch check --format html [-o FILE]``."""
    import sys
    production = ""
    if config_path:
        from ..checking.runtime import load_runtime
        production = load_runtime(config_path, None).config.production.name
    html = check_html(report, paths, production)
    if output:
        Path(output).write_text(html, encoding="utf-8")
        print(f"reelwatch: report written to {output}", file=sys.stderr)
    else:
        sys.stdout.write(html)
