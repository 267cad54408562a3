"""Terminal and JSON output for ``reelwatch check``. File names are shown, never interpreted."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .oneshot import CheckReport

STYLE = {"blocker": "bold white on red", "error": "bold red", "warning": "yellow", "info": "cyan"}


def print_check(report: CheckReport, fmt: str) -> None:
    if fmt == "json":
        data = {
            "checked": report.assets,
            "worst": report.worst.label if report.worst is not None else None,
            "exit_code": report.exit_code,
            "problems": report.problems,
            "unchecked": report.unchecked,
            "findings": [f.to_dict() for f in report.findings],
        }
        sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
        for problem in report.problems:  # the JSON goes to a program; a person watching still reads why
            print(f"reelwatch: {problem}", file=sys.stderr)
        return
    from rich.console import Console  # the table only: JSON output starts faster without rich
    from rich.markup import escape
    from rich.table import Table

    console = Console(highlight=False)
    for problem in report.problems:
        console.print(f"[red]{escape(problem)}[/red]")
    if not report.findings:
        console.print(f"[green]{report.assets} asset(s) checked: no problems found.[/green]")
        return
    table = Table(show_lines=True, title=f"{report.assets} asset(s) checked, {len(report.findings)} finding(s)")
    table.add_column("severity")
    table.add_column("path", overflow="fold")
    table.add_column("what is wrong / expected / fix", overflow="fold")
    table.add_column("owner → affects")
    table.add_column("rule")
    for f in report.findings:
        label = f.severity.label
        body = escape(f.message)
        if f.expected:
            body += f"\n[dim]expected:[/dim] {escape(f.expected)}"
        if f.impact:
            body += f"\n[dim]impact:[/dim] {escape(f.impact)}"
        if f.fix:
            body += f"\n[dim]fix:[/dim] {escape(f.fix)}"
        who = escape(f.owner or "-") + (" → " + escape(", ".join(f.impacts)) if f.impacts else "")
        table.add_row(f"[{STYLE[label]}]{label}[/]", escape(f.asset.relpath), body, who, escape(f.rule))
    console.print(table)
