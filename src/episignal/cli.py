"""The ``episignal`` command line: one sub-command per pipeline step, all sharing ``--data``.

Sub-command modules are imported only when needed: importing all of them (web app, simulator,
evaluation, …) takes seconds, which every ``episignal ingest`` would pay. ``episignal COMMAND …``
builds an app holding that one command (the same function, so the same options and output);
anything else (``--help``, no command, a mistyped one) gets the full app.
"""

from __future__ import annotations

import gc
import importlib
import sys
from functools import cache
from typing import Any

import typer

# name → (module, attribute, "command" or "group"), in the order the help lists them.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "simulate": ("episignal.simulate.cli", "simulate", "command"),
    "demo": ("episignal.demo", "demo", "command"),
    "ingest": ("episignal.ingest.cli", "ingest", "command"),
    "process": ("episignal.engine.cli", "process", "command"),
    "itinerary": ("episignal.engine.cli", "itinerary", "command"),
    "home": ("episignal.engine.cli", "home", "command"),
    "evaluate": ("episignal.evaluation.cli", "evaluate_cmd", "command"),
    "exposure": ("episignal.exposure.cli", "app", "group"),
    "publish": ("episignal.card.cli", "publish", "command"),
    "serve": ("episignal.card.cli", "serve", "command"),
    "audit": ("episignal.card.cli", "audit_app", "group"),
    "tokens": ("episignal.card.cli", "tokens_app", "group"),
}


def _new_app() -> typer.Typer:
    return typer.Typer(
        name="episignal",
        help="Signaling → stays → itineraries, and the services built on them.",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
    )


def _register(app: typer.Typer, name: str) -> None:
    module, attribute, kind = COMMANDS[name]
    target = getattr(importlib.import_module(module), attribute)
    if kind == "group":
        app.add_typer(target, name=name)
    else:
        app.command(name)(target)


@cache
def full_app() -> typer.Typer:
    """Every sub-command (what ``--help`` lists)."""
    app = _new_app()
    for name in COMMANDS:
        _register(app, name)
    return app


def command_app(name: str) -> typer.Typer:
    """An app with the one sub-command ``name``, invoked as ``episignal name …`` like in the full
    app (the callback keeps Typer from collapsing a one-command app into that command)."""
    app = _new_app()
    app.callback()(lambda: None)
    _register(app, name)
    return app


def __getattr__(name: str) -> Any:  # ``from episignal.cli import app``: the full app, on demand
    if name == "app":
        return full_app()
    raise AttributeError(name)


def main() -> None:
    from episignal.cli_common import fail
    from episignal.privacy.secret_file import KeyFileError

    args = sys.argv[1:]
    app = command_app(args[0]) if args and args[0] in COMMANDS else full_app()
    try:
        app()
    except KeyFileError as e:  # any command that reads a key file: a message, not a traceback
        sys.exit(fail(str(e)).exit_code)
    finally:
        # A failed command's frames hold DuckDB objects in reference cycles (an exception and
        # its traceback): collected before exit, DuckDB's bindings do not report them as leaks.
        gc.collect()


if __name__ == "__main__":
    main()
