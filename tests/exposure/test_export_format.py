"""Export files interoperate with other GAEN key servers, in both directions."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given, settings
from hypothesis import strategies as st

from episignal.exposure import export_format as ef
from episignal.exposure.keys import ReportType, TemporaryExposureKey
from episignal.exposure.proto_schema import ProtoSchemaError, parse_proto


def _reference_zip(example: dict) -> bytes:
    return ef.zip_export(
        bytes.fromhex(example["export_bin_hex"]), bytes.fromhex(example["export_sig_hex"])
    )


def _signer(key_id: str = "460") -> ef.ExportSigner:
    return ef.ExportSigner(ec.generate_private_key(ec.SECP256R1()), ef.SignatureInfo("v1", key_id))


def _keys(n: int, start: int = 2_700_000) -> tuple[TemporaryExposureKey, ...]:
    return tuple(
        TemporaryExposureKey(
            key_data=i.to_bytes(16, "big"),
            rolling_start=start - 144 * (i % 14),
            rolling_period=144,
            transmission_risk=i % 8,
            report_type=ReportType.CONFIRMED_TEST,
            days_since_onset=(i % 29) - 14,
        )
        for i in range(n)
    )


def test_reference_export_from_another_key_server_verifies(export_example: dict) -> None:
    key = ef.load_public_key(export_example["public_key_pem"].encode())
    verified = ef.verify_export(_reference_zip(export_example), key)
    decoded = export_example["decoded"]
    assert verified.export.region == decoded["region"]
    assert verified.export.start_timestamp == decoded["start_timestamp"]
    assert verified.export.end_timestamp == decoded["end_timestamp"]
    assert (
        verified.signed_by.verification_key_id == decoded["signature_info"]["verification_key_id"]
    )
    assert [
        (k.key_b64, k.transmission_risk, k.rolling_start, k.rolling_period)
        for k in verified.export.keys
    ] == [
        (
            k["key_b64"],
            k["transmission_risk_level"],
            k["rolling_start_interval_number"],
            k["rolling_period"],
        )
        for k in decoded["keys"]
    ]


def test_reference_signature_is_ecdsa_p256_over_sha256_of_the_whole_export_bin(
    export_example: dict,
) -> None:
    import hashlib

    export_bin = bytes.fromhex(export_example["export_bin_hex"])
    assert hashlib.sha256(export_bin).hexdigest() == export_example["export_bin_sha256"]
    key = ef.load_public_key(export_example["public_key_pem"].encode())
    key.verify(
        bytes.fromhex(export_example["signature_der_hex"]), export_bin, ec.ECDSA(hashes.SHA256())
    )


def test_reference_export_reencodes_byte_for_byte_with_our_schema(export_example: dict) -> None:
    export_bin = bytes.fromhex(export_example["export_bin_hex"])
    assert ef.encode_export_bin(ef.parse_export_bin(export_bin)) == export_bin


def test_reference_export_with_a_flipped_bit_does_not_verify(export_example: dict) -> None:
    export_bin = bytearray.fromhex(export_example["export_bin_hex"])
    export_bin[-3] ^= 0x01
    key = ef.load_public_key(export_example["public_key_pem"].encode())
    bad = ef.zip_export(bytes(export_bin), bytes.fromhex(export_example["export_sig_hex"]))
    with pytest.raises(ef.ExportVerificationError, match="no signature"):
        ef.verify_export(bad, key)


def test_reference_export_does_not_verify_under_another_public_key(export_example: dict) -> None:
    other = ec.generate_private_key(ec.SECP256R1()).public_key()
    with pytest.raises(ef.ExportVerificationError):
        ef.verify_export(_reference_zip(export_example), other)


def test_our_export_parses_with_the_published_schema_and_verifies() -> None:
    signer = _signer()
    keys = _keys(50)
    export = ef.ExportFile(1_600_000_000, 1_600_086_400, "460", 1, 1, (), keys)
    data = ef.build_export_zip(export, [signer])
    export_bin, _sig = ef.read_export_zip(data)
    assert export_bin.startswith(b"EK Export v1    ")
    msg = ef.ExportMessage()
    msg.ParseFromString(export_bin[16:])
    assert len(msg.keys) == 50
    assert msg.signature_infos[0].signature_algorithm == "1.2.840.10045.4.3.2"
    verified = ef.verify_export(data, signer.private_key.public_key())
    assert verified.export.keys == keys


def test_export_header_is_ek_export_v1_padded_with_spaces_to_16_bytes() -> None:
    assert ef.EXPORT_HEADER == b"EK Export v1    "
    assert len(ef.EXPORT_HEADER) == 16


def test_an_export_with_extra_members_is_refused() -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("export.bin", ef.EXPORT_HEADER)
        zf.writestr("export.sig", b"")
        zf.writestr("evil.sh", b"rm -rf /")
    with pytest.raises(ef.ExportVerificationError, match="exactly"):
        ef.read_export_zip(buf.getvalue())


def test_an_export_without_the_header_is_refused() -> None:
    with pytest.raises(ef.ExportVerificationError, match="header"):
        ef.parse_export_bin(b"PK Export v1    ")


def test_a_file_that_is_not_a_zip_is_refused() -> None:
    with pytest.raises(ef.ExportVerificationError, match="zip"):
        ef.verify_export(b"hello", _signer().private_key.public_key())


def test_a_signature_list_with_other_batch_numbers_is_refused() -> None:
    signer = _signer()
    export = ef.ExportFile(0, 10, "460", 1, 1, (signer.info,), _keys(3))
    export_bin = ef.encode_export_bin(export)
    sig = ef.sign_export_bin(export_bin, [signer], batch_num=2, batch_size=2)
    with pytest.raises(ef.ExportVerificationError, match="batch"):
        ef.verify_export_parts(export_bin, sig, signer.private_key.public_key())


def test_a_key_of_the_wrong_length_inside_a_signed_export_is_refused() -> None:
    signer = _signer()
    msg = ef.ExportMessage(
        start_timestamp=0, end_timestamp=1, region="460", batch_num=1, batch_size=1
    )
    msg.keys.add(key_data=b"short", rolling_start_interval_number=1, rolling_period=144)
    export_bin = ef.EXPORT_HEADER + msg.SerializeToString()
    sig = ef.sign_export_bin(export_bin, [signer], 1, 1)
    with pytest.raises(ef.ExportVerificationError, match="16 bytes"):
        ef.verify_export_parts(export_bin, sig, signer.private_key.public_key())


def test_public_keys_other_than_p256_are_refused() -> None:
    from cryptography.hazmat.primitives.asymmetric import ed25519

    other = ed25519.Ed25519PrivateKey.generate().public_key()
    from cryptography.hazmat.primitives import serialization

    pem_bytes = other.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    with pytest.raises(ef.ExportVerificationError, match="P-256"):
        ef.load_public_key(pem_bytes)


def test_schema_file_is_the_single_source_of_the_message_classes() -> None:
    text = (Path(ef.__file__).with_name("export.proto")).read_text()
    fdp = parse_proto(text, "export.proto")
    names = [m.name for m in fdp.message_type]
    assert names == [
        "TemporaryExposureKeyExport",
        "SignatureInfo",
        "TemporaryExposureKey",
        "TEKSignatureList",
        "TEKSignature",
    ]
    key = next(m for m in fdp.message_type if m.name == "TemporaryExposureKey")
    period = next(f for f in key.field if f.name == "rolling_period")
    assert (period.number, period.default_value) == (4, "144")
    assert ef.KeyMessage().rolling_period == 144


def test_schema_reader_refuses_what_it_does_not_understand() -> None:
    with pytest.raises(ProtoSchemaError):
        parse_proto('syntax = "proto2"; service S {}', "x.proto")
    with pytest.raises(ProtoSchemaError):
        parse_proto('syntax = "proto2"; message M { optional Nope x = 1; }', "x.proto")


key_strategy = st.builds(
    TemporaryExposureKey,
    key_data=st.binary(min_size=16, max_size=16),
    rolling_start=st.integers(0, 2**31 - 1),
    rolling_period=st.integers(1, 144),
    transmission_risk=st.integers(0, 8),
    report_type=st.sampled_from(list(ReportType)),
    days_since_onset=st.one_of(st.none(), st.integers(-14, 14)),
)

_SIGNER = _signer()


@settings(max_examples=40, deadline=None)
@given(keys=st.lists(key_strategy, max_size=30), region=st.text("ABCDEFGHIJ0123456789", max_size=5))
def test_any_export_we_sign_round_trips_through_verification(
    keys: list[TemporaryExposureKey], region: str
) -> None:
    export = ef.ExportFile(10, 20, region, 1, 1, (), tuple(keys))
    verified = ef.verify_export(
        ef.build_export_zip(export, [_SIGNER]), _SIGNER.private_key.public_key()
    )
    assert verified.export.keys == tuple(keys)
    assert verified.export.region == region
