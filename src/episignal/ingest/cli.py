"""`episignal ingest`: carrier exports or canonical files into the canonical events dataset."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from episignal.cli_common import DEFAULT_DATA, DataDirOption, console, fail, step_spinner
from episignal.ingest.cells import CellsFileError
from episignal.ingest.formats import FORMATS
from episignal.ingest.run import IngestError, IngestReport, ingest_files


def render_report(report: IngestReport) -> Table:
    table = Table(title=f"ingest {report.batch} ({report.format}, {report.seconds:.1f} s)")
    for col in ("file", "read", "accepted", "duplicates", "quarantined", "reasons"):
        table.add_column(col, justify="left" if col in ("file", "reasons") else "right")
    for f in report.files:
        reasons = ", ".join(f"{k} {v}" for k, v in sorted(f.quarantined.items()))
        table.add_row(
            Path(f.file).name,
            f"{f.rows_read:,}",
            f"{f.accepted:,}",
            f"{f.duplicates:,}",
            f"{f.quarantined_total:,}",
            reasons,
        )
    table.add_row(
        "[b]total",
        f"[b]{report.rows_read:,}",
        f"[b]{report.accepted:,}",
        f"[b]{report.duplicates:,}",
        f"[b]{sum(report.quarantined.values()):,}",
        "",
    )
    return table


def ingest(
    files: Annotated[
        list[Path],
        typer.Argument(
            help="Event files (CSV/TXT, gzip too, or Parquet for canonical), or directories of"
            " them."
        ),
    ],
    format: Annotated[
        str, typer.Option("--format", help=f"Input layout: {', '.join(FORMATS)}.")
    ] = "canonical",
    cells: Annotated[
        Path | None, typer.Option(help="Cells file (CSV or Parquet) to merge first.")
    ] = None,
    carrier: Annotated[
        str | None, typer.Option(help="PLMN to file canonical events under (default: the cell's).")
    ] = None,
    data: DataDirOption = DEFAULT_DATA,
) -> None:
    """Validate, pseudonymise and store events; bad rows go to quarantine with their reason."""
    with step_spinner() as bar:
        task = bar.add_task("ingest", total=None)
        try:
            report = ingest_files(
                data,
                format,
                files,
                cells_path=cells,
                carrier=carrier,
                progress=lambda step, percent: bar.update(task, step=step, percent=percent),
            )
        except (IngestError, CellsFileError) as e:
            error = str(e)
        else:
            error = None
    if error is not None:
        raise fail(error)
    if report.cells:
        c = report.cells
        rejected = ", ".join(f"{k} {v}" for k, v in c.rejected.items()) or "none"
        console.print(
            f"cells: {c.rows:,} read, {c.accepted:,} accepted (rejected: {rejected}); "
            f"{c.total_in_registry:,} in registry, {c.border_cells:,} border cells"
        )
    console.print(render_report(report))
    unbalanced = [f.file for f in report.files if not f.balanced]
    if unbalanced:  # would mean rows were lost: never expected, always loud
        raise fail(f"row accounting does not balance for {unbalanced}", code=3)
