"""`episignal evaluate` as an analyst runs it."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from episignal.cli import app


def test_evaluating_a_simulation_not_yet_ingested_says_so_without_a_traceback(
    tmp_path: Path,
) -> None:
    data = str(tmp_path / "data")
    runner = CliRunner()
    simulated = runner.invoke(
        app, ["simulate", "--subscribers", "20", "--days", "2", "--data", data]
    )
    assert simulated.exit_code == 0, simulated.output
    result = runner.invoke(app, ["evaluate", "--data", data])
    assert result.exit_code == 2  # a named error (an uncaught exception would be 1)
    assert "no events ingested" in result.output and "Traceback" not in result.output
