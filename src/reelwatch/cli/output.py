"""Terminal and JSON output for ``reelwatch check``. File names are shown, never interpreted: on a
terminal every control character and every byte that is not UTF-8 is made visible (``⟨0xFF⟩``);
JSON keeps such a byte as the escape Python's own file functions read back (``\udcff``)."""

from __future__ import annotations

import json
import sys
from collections import Counter
from typing import TYPE_CHECKING

from ..notify.channels import visible

if TYPE_CHECKING:
    from rich.table import Table

    from ..checking.oneshot import CheckReport
    from ..core.model import Finding

STYLE = {"blocker": "bold white on red", "error": "bold red", "warning": "yellow", "info": "cyan"}


def _counts(findings: list[Finding]) -> str:
    """``2 blockers, 1 error, 5 warnings``: the worst first."""
    by = Counter(f.severity for f in findings)
    return ", ".join(f"{by[s]} {s.label}{'s' if by[s] != 1 else ''}" for s in sorted(by, reverse=True))


def summary(report: CheckReport) -> str:
    """One line for the top and the bottom of the table."""
    line = f"{report.assets} asset(s) checked, {len(report.findings)} finding(s)"
    if report.findings:
        line += f": {_counts(report.findings)}"
    return line


def print_check(report: CheckReport, fmt: str, limit: int | None = None) -> None:
    """``limit``: rows of the table (the worst first); the rest are counted in a last line."""
    if fmt == "json":
        _print_json(report)
        return
    from rich.console import Console  # the table only: JSON output starts faster without rich
    from rich.markup import escape

    console = Console(highlight=False)
    for problem in report.problems:
        console.print(f"[red]{escape(visible(problem))}[/red]")
    for path, why in report.skipped:
        console.print(f"[yellow]skipped {escape(visible(path))}: {escape(why)}[/yellow]")
    if not report.findings:
        if report.assets:
            console.print(f"[green]{report.assets} asset(s) checked: no problems found.[/green]")
        elif not report.problems:
            console.print("nothing to check: no files found")
        return
    findings = sorted(report.findings, key=lambda f: f.severity, reverse=True)  # stable: found order within
    console.print(_table(report, findings, limit))
    if len(findings) > 1:
        rules = Counter(f.rule for f in findings).most_common()
        console.print("by rule: " + escape(", ".join(f"{visible(rule)} {n}" for rule, n in rules)))
    console.print(f"[bold]{escape(summary(report))}[/bold]")  # where the eye lands after a long table


def _print_json(report: CheckReport) -> None:
    data = {
        "checked": report.assets,
        "worst": report.worst.label if report.worst is not None else None,
        "exit_code": report.exit_code,
        "problems": report.problems,
        "unchecked": report.unchecked,
        "skipped": [{"path": path, "why": why} for path, why in report.skipped],
        "findings": [f.to_dict() for f in report.findings],
    }
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
    for problem in report.problems:  # the JSON goes to a program; a person watching still reads why
        print(f"reelwatch: {visible(problem)}", file=sys.stderr)


def _table(report: CheckReport, findings: list[Finding], limit: int | None) -> Table:
    from rich.markup import escape
    from rich.table import Table

    shown, rest = (findings, []) if limit is None else (findings[:limit], findings[limit:])
    table = Table(show_lines=True, title=escape(summary(report)))
    table.add_column("severity")
    table.add_column("path", overflow="fold")
    table.add_column("what is wrong / expected / fix", overflow="fold")
    table.add_column("owner → affects")
    table.add_column("rule")
    for f in shown:
        label = f.severity.label
        body = escape(visible(f.message))
        for word, text in (("expected", f.expected), ("impact", f.impact), ("fix", f.fix)):
            if text:
                body += f"\n[dim]{word}:[/dim] {escape(visible(text))}"
        who = escape(visible(f.owner or "-")) + (" → " + escape(visible(", ".join(f.impacts))) if f.impacts else "")
        table.add_row(f"[{STYLE[label]}]{label}[/]", escape(visible(f.asset.relpath)), body, who,
                      escape(visible(f.rule)))
    if rest:
        table.add_row("…", f"{len(rest)} more", f"{len(rest)} more finding(s) not shown: {_counts(rest)}. "
                      "--all shows every one; --format json lists them for scripts", "", "")
    return table
