"""``episignal exposure``: key derivation, export verification, key server, crowd evaluation."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated

import typer

from episignal.cli_common import DEFAULT_DATA, DataDirOption, console, err_console, fail
from episignal.exposure import crypto
from episignal.exposure.export_format import (
    ExportVerificationError,
    load_public_key,
    verify_export,
)
from episignal.exposure.keys import TemporaryExposureKey

app = typer.Typer(
    help="Bluetooth exposure notification (GAEN): keys, exports, key server, evaluation.",
    no_args_is_help=True,
)

_HEX = re.compile(r"(?:[0-9a-fA-F]{2})+")


def _hex_bytes(value: str, what: str, length: int) -> bytes:
    value = value.strip().removeprefix("0x")
    if not _HEX.fullmatch(value) or len(value) != 2 * length:
        raise fail(f"{what} must be {length} bytes of hex ({2 * length} hex digits)")
    return bytes.fromhex(value)


@app.command()
def derive(
    tek: Annotated[str, typer.Option("--tek", help="Temporary Exposure Key, 32 hex digits.")],
    interval: Annotated[
        int, typer.Option("--interval", help="The key's rolling start (ENIntervalNumber).")
    ],
    metadata: Annotated[
        str,
        typer.Option(
            "--metadata",
            help="Bluetooth metadata, 8 hex digits (version, TX power dBm, 2 reserved).",
        ),
    ] = crypto.DEFAULT_METADATA.hex(),
    data: DataDirOption = DEFAULT_DATA,
) -> None:
    """Print RPIK, AEMK and the RPI and AEM of the 144 intervals of a key, as JSON (hex)."""
    key = _hex_bytes(tek, "--tek", crypto.TEK_BYTES)
    meta = _hex_bytes(metadata, "--metadata", crypto.AEM_BYTES)
    if not 0 <= interval <= 0xFFFFFFFF - crypto.TEK_ROLLING_PERIOD:
        raise fail("--interval must be an ENIntervalNumber (0 .. 2^32 - 145)")
    typer.echo(json.dumps(crypto.derive_table(key, interval, meta), indent=1))


def _read_public_key(value: str) -> bytes:
    if value.lstrip().startswith("-----BEGIN"):
        return value.encode()
    path = Path(value)
    if not path.is_file():
        raise fail(f"public key file not found: {value}")
    return path.read_bytes()


def _key_json(k: TemporaryExposureKey) -> dict:
    return {
        "key": k.key_b64,
        "rolling_start_interval_number": k.rolling_start,
        "rolling_period": k.rolling_period,
        "transmission_risk_level": k.transmission_risk,
        "report_type": k.report_type.name,
        "days_since_onset_of_symptoms": k.days_since_onset,
    }


@app.command("verify-export")
def verify_export_cmd(
    zip_path: Annotated[Path, typer.Argument(metavar="ZIP", help="Export file (zip).")],
    public_key: Annotated[
        str, typer.Option("--public-key", help="PEM file (or PEM text) of the signing key.")
    ],
    data: DataDirOption = DEFAULT_DATA,
) -> None:
    """Verify an export file from any GAEN key server and print its keys (base64) as JSON."""
    if not zip_path.is_file():
        raise fail(f"export file not found: {zip_path}")
    try:
        key = load_public_key(_read_public_key(public_key))
        verified = verify_export(zip_path.read_bytes(), key)
    except ExportVerificationError as e:
        raise fail(f"export does not verify: {e}", code=1) from None
    ex = verified.export
    out = {
        "verified": True,
        "region": ex.region,
        "batch_num": ex.batch_num,
        "batch_size": ex.batch_size,
        "start_timestamp": ex.start_timestamp,
        "end_timestamp": ex.end_timestamp,
        "signed_by": {
            "verification_key_version": verified.signed_by.verification_key_version,
            "verification_key_id": verified.signed_by.verification_key_id,
            "signature_algorithm": verified.signed_by.signature_algorithm,
        },
        "keys": [_key_json(k) for k in ex.keys],
        "revised_keys": [_key_json(k) for k in ex.revised_keys],
    }
    typer.echo(json.dumps(out, indent=1))
    err_console.print(f"[green]verified[/]: {len(ex.keys)} keys", highlight=False)


@app.command()
def evaluate(
    people: Annotated[int, typer.Option(min=2, help="Phones in the crowd.")] = 200,
    places: Annotated[int, typer.Option(min=1, help="Shared places.")] = 16,
    days: Annotated[int, typer.Option(min=1, max=21, help="Days simulated.")] = 5,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same crowd).")] = 7,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    data: DataDirOption = DEFAULT_DATA,
) -> None:
    """Simulate a crowd and report precision and recall of notifications vs ground truth."""
    from rich.table import Table

    from episignal.exposure.crowd import CrowdParams
    from episignal.exposure.evaluate import evaluate_crowd
    from episignal.exposure.settings import load_settings

    result = evaluate_crowd(
        CrowdParams(people=people, places=places, days=days, seed=seed), load_settings(data)
    )
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "people": result.people,
                    "diagnosed": result.diagnosed,
                    "close_contacts": result.close_contacts,
                    "precision": result.precision,
                    "recall": result.recall,
                    "thresholds": result.rows(),
                },
                indent=1,
            )
        )
        return
    table = Table(
        title=f"{result.people} phones, {result.diagnosed} diagnosed, "
        f"{result.close_contacts} real close contacts"
    )
    for col in ("threshold (weighted min)", "notified", "TP", "FP", "FN", "precision", "recall"):
        table.add_column(col, justify="right")
    for r in result.rows():
        table.add_row(*(str(v) for v in r.values()))
    console.print(table)


@app.command()
def export(
    data: DataDirOption = DEFAULT_DATA,
) -> None:
    """Build the export batches that have ended, apply retention, rewrite index.txt."""
    import time

    from episignal.exposure.keyserver.exports import export_public_key_path, run_exports

    built = run_exports(data, int(time.time()))
    for name in built:
        typer.echo(name)
    err_console.print(f"{len(built)} export file(s); public key: {export_public_key_path(data)}")


@app.command("issue-code")
def issue_code(
    test_type: Annotated[str, typer.Option(help="confirmed or likely")] = "confirmed",
    symptom_onset: Annotated[
        str | None, typer.Option(help="Symptom onset date, YYYY-MM-DD.")
    ] = None,
    phone: Annotated[
        str | None, typer.Option(help="Send the long code by SMS to this number (+86…).")
    ] = None,
    data: DataDirOption = DEFAULT_DATA,
) -> None:
    """Health authority: issue a one-time upload code for a diagnosed person."""
    from datetime import date

    from episignal.exposure.verification import VerificationError, VerificationService

    try:
        onset = date.fromisoformat(symptom_onset) if symptom_onset else None
        issued = VerificationService(data).issue(test_type, onset, phone_e164=phone)
    except (VerificationError, ValueError) as e:
        raise fail(str(e)) from None
    typer.echo(json.dumps(issued.__dict__, indent=1))


@app.command("serve-keyserver")
def serve_keyserver(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8081,
    export_every_minutes: Annotated[
        float, typer.Option(help="How often to check for ended batches (0: never).")
    ] = 10.0,
    data: DataDirOption = DEFAULT_DATA,
) -> None:
    """Run the key server (publish, index.txt, export files, public key)."""
    import uvicorn

    from episignal.exposure.keyserver.app import create_keyserver_app
    from episignal.exposure.verification import VerificationService

    VerificationService(data).close()  # the certificate public key must exist
    app_ = create_keyserver_app(
        data, export_every_seconds=export_every_minutes * 60 if export_every_minutes else None
    )
    uvicorn.run(app_, host=host, port=port, log_level="warning")


@app.command("serve-verification")
def serve_verification(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8082,
    data: DataDirOption = DEFAULT_DATA,
) -> None:
    """Run the verification server (codes, tokens, certificates)."""
    import uvicorn

    from episignal.exposure.verification import create_verification_app

    uvicorn.run(create_verification_app(data), host=host, port=port, log_level="warning")
