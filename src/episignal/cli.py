"""The ``episignal`` command line: one sub-command per pipeline step, all sharing ``--data``."""

from __future__ import annotations

import typer

from episignal.card.cli import audit_app, publish, serve, tokens_app
from episignal.demo import demo
from episignal.engine.cli import home, itinerary, process
from episignal.evaluation.cli import evaluate_cmd
from episignal.exposure.cli import app as exposure_app
from episignal.ingest.cli import ingest
from episignal.simulate.cli import simulate

app = typer.Typer(
    name="episignal",
    help="Signaling → stays → itineraries, and the services built on them.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.command("simulate")(simulate)
app.command("demo")(demo)
app.command("ingest")(ingest)
app.command("process")(process)
app.command("itinerary")(itinerary)
app.command("home")(home)
app.command("evaluate")(evaluate_cmd)
app.add_typer(exposure_app, name="exposure")
app.command("publish")(publish)
app.command("serve")(serve)
app.add_typer(audit_app, name="audit")
app.add_typer(tokens_app, name="tokens")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
