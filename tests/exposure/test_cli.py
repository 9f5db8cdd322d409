"""The ``episignal exposure`` commands, as a user or an independent checker runs them."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from episignal.cli import app
from episignal.exposure import export_format as ef

runner = CliRunner()


def test_derive_prints_the_published_vectors_as_json(crypto_vectors: dict, tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        [
            "exposure", "derive",
            "--tek", crypto_vectors["tek"],
            "--interval", str(crypto_vectors["tek_rolling_start_enin"]),
            "--metadata", crypto_vectors["ble_metadata"],
            "--data", str(tmp_path),
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["rpik"] == crypto_vectors["rpik"]
    assert out["aemk"] == crypto_vectors["aemk"]
    assert len(out["intervals"]) == 144
    for v in crypto_vectors["advertised"]:
        row = out["intervals"][v["interval_index"]]
        assert row == {"interval": v["enin"], "rpi": v["rpi"], "aem": v["aem"]}


def test_derive_without_metadata_uses_version_1_0_metadata(crypto_vectors: dict) -> None:
    result = runner.invoke(
        app, ["exposure", "derive", "--tek", crypto_vectors["tek"], "--interval", "2642976"]
    )
    assert result.exit_code == 0
    assert (
        json.loads(result.stdout)["intervals"][0]["rpi"] == crypto_vectors["advertised"][0]["rpi"]
    )


def test_derive_refuses_a_key_that_is_not_16_bytes_of_hex() -> None:
    result = runner.invoke(app, ["exposure", "derive", "--tek", "abcd", "--interval", "1"])
    assert result.exit_code != 0
    assert "16 bytes" in result.output


def test_verify_export_prints_the_keys_of_the_reference_export(
    export_example: dict, tmp_path: Path
) -> None:
    zip_path = tmp_path / "export.zip"
    zip_path.write_bytes(
        ef.zip_export(
            bytes.fromhex(export_example["export_bin_hex"]),
            bytes.fromhex(export_example["export_sig_hex"]),
        )
    )
    pem = tmp_path / "public.pem"
    pem.write_text(export_example["public_key_pem"])
    result = runner.invoke(
        app, ["exposure", "verify-export", str(zip_path), "--public-key", str(pem)]
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert [k["key"] for k in out["keys"]] == [
        k["key_b64"] for k in export_example["decoded"]["keys"]
    ]


def test_verify_export_exits_non_zero_when_the_signature_does_not_match(
    export_example: dict, tmp_path: Path
) -> None:
    export_bin = bytearray.fromhex(export_example["export_bin_hex"])
    export_bin[20] ^= 0xFF
    zip_path = tmp_path / "tampered.zip"
    zip_path.write_bytes(
        ef.zip_export(bytes(export_bin), bytes.fromhex(export_example["export_sig_hex"]))
    )
    pem = tmp_path / "public.pem"
    pem.write_text(export_example["public_key_pem"])
    result = runner.invoke(
        app, ["exposure", "verify-export", str(zip_path), "--public-key", str(pem)]
    )
    assert result.exit_code != 0
    assert "does not verify" in result.output
    assert "Traceback" not in result.output


def test_evaluate_prints_precision_and_recall_as_json(tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        [
            "exposure",
            "evaluate",
            "--people",
            "40",
            "--days",
            "1",
            "--json",
            "--data",
            str(tmp_path),
        ],
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert 0 <= out["precision"] <= 1 and 0 <= out["recall"] <= 1
    assert out["thresholds"]


def test_issue_code_prints_a_short_and_a_long_code(tmp_path: Path) -> None:
    result = runner.invoke(app, ["exposure", "issue-code", "--data", str(tmp_path)])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert len(out["short_code"]) == 8 and out["short_code"].isdigit()
    assert len(out["long_code"]) == 16
