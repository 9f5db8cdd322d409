"""The ``episignal`` command line: one sub-command per pipeline step, all sharing ``--data``."""

from __future__ import annotations

import typer

from episignal.exposure.cli import app as exposure_app

app = typer.Typer(
    name="episignal",
    help="Signaling → stays → itineraries, and the services built on them.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(exposure_app, name="exposure")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
