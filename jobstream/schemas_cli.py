"""``jobstream schemas check|snapshot``: the schema evolution guard (schemas/compat.py) on the command line."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from jobstream.schemas import AVRO_DIR, BASELINE_DIR, check_compatibility, snapshot_baseline

app = typer.Typer(no_args_is_help=True, help="The Avro contract: keep every schema compatible with its baseline, "
                                                "and export it for producers in other services.")
Current = Annotated[Path, typer.Option(help="the schemas as they are now", file_okay=False)]
Baseline = Annotated[Path, typer.Option(help="the committed baseline", file_okay=False)]
ExportDir = Annotated[Path, typer.Argument(help="where to write the .avsc files and fingerprints.json")]


@app.command()
def check(current: Current = AVRO_DIR, baseline: Baseline = BASELINE_DIR) -> None:
    """Exit 1 if any schema is not backward and forward compatible with its baseline (or was removed)."""
    problems = check_compatibility(current, baseline)
    for problem in problems:
        typer.echo(str(problem), err=True)
    typer.echo(f"{len(problems)} incompatibilities")
    raise typer.Exit(1 if problems else 0)


@app.command()
def snapshot(current: Current = AVRO_DIR, baseline: Baseline = BASELINE_DIR) -> None:
    """Make the baseline an exact copy of the current schemas: a deliberate change of the contract."""
    written = snapshot_baseline(current, baseline)
    typer.echo(f"baseline refreshed: {len(written)} schemas in {baseline}")


@app.command()
def export(directory: ExportDir) -> None:
    """Write each record's schema, fully resolved, as the processors accept it, and fingerprints.json."""
    from jobstream.schemas.export import FINGERPRINTS, export_schemas

    written = export_schemas(directory)
    typer.echo(f"{len(written)} schemas and {FINGERPRINTS} written to {directory}")
