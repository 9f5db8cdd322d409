"""Exposure Key Export files: ``export.bin`` (header + protobuf) and ``export.sig`` in a zip.

Follows the published "Exposure Key Export File Format and Verification": the 16-byte header
"EK Export v1" padded with spaces, a TemporaryExposureKeyExport message, and a TEKSignatureList
holding ECDSA P-256 signatures over SHA-256 of the whole export.bin. Message classes come from
``export.proto`` at run time (see ``proto_schema``).
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from google.protobuf.message import DecodeError

from episignal.exposure import crypto
from episignal.exposure.keys import ReportType, TemporaryExposureKey
from episignal.exposure.proto_schema import load_messages

# --- Constants of the Exposure Key Export File Format ----------------------------------------
EXPORT_HEADER = b"EK Export v1".ljust(16, b" ")  # fixed 16-byte header before the protobuf
EXPORT_BIN_NAME = "export.bin"  # the zip member holding header + TemporaryExposureKeyExport
EXPORT_SIG_NAME = "export.sig"  # the zip member holding the TEKSignatureList
ECDSA_P256_SHA256_OID = "1.2.840.10045.4.3.2"  # the signature algorithm every client supports
# Reader limits (ours): refuse zip bombs and absurd files before parsing them.
MAX_EXPORT_MEMBER_BYTES = 64 * 1024 * 1024  # ~2 M keys; larger batches are split into files
MAX_SIGNATURE_LIST_BYTES = 64 * 1024  # a handful of signatures at most

_MESSAGES = load_messages(Path(__file__).with_name("export.proto"))
ExportMessage = _MESSAGES["TemporaryExposureKeyExport"]
SignatureInfoMessage = _MESSAGES["SignatureInfo"]
KeyMessage = _MESSAGES["TemporaryExposureKey"]
SignatureListMessage = _MESSAGES["TEKSignatureList"]


class ExportVerificationError(ValueError):
    """An export file that must not be used: the message says which check failed."""


@dataclass(frozen=True)
class SignatureInfo:
    verification_key_version: str
    verification_key_id: str
    signature_algorithm: str = ECDSA_P256_SHA256_OID


@dataclass(frozen=True)
class ExportSigner:
    """A signing key with the identifiers clients use to pick the matching public key."""

    private_key: ec.EllipticCurvePrivateKey
    info: SignatureInfo


@dataclass(frozen=True)
class ExportFile:
    start_timestamp: int
    end_timestamp: int
    region: str
    batch_num: int
    batch_size: int
    signature_infos: tuple[SignatureInfo, ...]
    keys: tuple[TemporaryExposureKey, ...]
    revised_keys: tuple[TemporaryExposureKey, ...] = ()


def _info_message(info: SignatureInfo) -> object:
    return SignatureInfoMessage(
        verification_key_version=info.verification_key_version,
        verification_key_id=info.verification_key_id,
        signature_algorithm=info.signature_algorithm,
    )


def _fill_keys(repeated: object, keys: Sequence[TemporaryExposureKey]) -> None:
    msgs = []
    for k in keys:
        m = KeyMessage(
            key_data=k.key_data,
            transmission_risk_level=k.transmission_risk,
            rolling_start_interval_number=k.rolling_start,
            rolling_period=k.rolling_period,
        )
        if k.report_type != ReportType.UNKNOWN:
            m.report_type = int(k.report_type)
        if k.days_since_onset is not None:
            m.days_since_onset_of_symptoms = k.days_since_onset
        msgs.append(m)
    repeated.extend(msgs)  # type: ignore[attr-defined]


def encode_export_bin(export: ExportFile) -> bytes:
    """Header + serialised TemporaryExposureKeyExport."""
    msg = ExportMessage(
        start_timestamp=export.start_timestamp,
        end_timestamp=export.end_timestamp,
        region=export.region,
        batch_num=export.batch_num,
        batch_size=export.batch_size,
    )
    msg.signature_infos.extend(_info_message(i) for i in export.signature_infos)
    _fill_keys(msg.keys, export.keys)
    _fill_keys(msg.revised_keys, export.revised_keys)
    return EXPORT_HEADER + msg.SerializeToString()


def sign_export_bin(
    export_bin: bytes, signers: Sequence[ExportSigner], batch_num: int, batch_size: int
) -> bytes:
    """Serialised TEKSignatureList: one ECDSA-P256-SHA256 signature (DER) per signer."""
    sig_list = SignatureListMessage()
    for s in signers:
        sig = sig_list.signatures.add()
        sig.signature_info.CopyFrom(_info_message(s.info))
        sig.batch_num = batch_num
        sig.batch_size = batch_size
        sig.signature = s.private_key.sign(export_bin, ec.ECDSA(hashes.SHA256()))
    return sig_list.SerializeToString()


def build_export_zip(export: ExportFile, signers: Sequence[ExportSigner]) -> bytes:
    """A complete export file (zip bytes) ready to publish."""
    if not signers:
        raise ValueError("an export file needs at least one signer")
    infos = export.signature_infos or tuple(s.info for s in signers)
    export = ExportFile(
        export.start_timestamp,
        export.end_timestamp,
        export.region,
        export.batch_num,
        export.batch_size,
        infos,
        export.keys,
        export.revised_keys,
    )
    export_bin = encode_export_bin(export)
    export_sig = sign_export_bin(export_bin, signers, export.batch_num, export.batch_size)
    return zip_export(export_bin, export_sig)


def zip_export(export_bin: bytes, export_sig: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(EXPORT_BIN_NAME, export_bin)
        zf.writestr(EXPORT_SIG_NAME, export_sig)
    return buf.getvalue()


def read_export_zip(data: bytes) -> tuple[bytes, bytes]:
    """(export.bin, export.sig) from a zip, refusing anything else or anything oversized."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as e:
        raise ExportVerificationError(f"not a zip archive: {e}") from None
    with zf:
        names = sorted(zf.namelist())
        if names != sorted([EXPORT_BIN_NAME, EXPORT_SIG_NAME]):
            raise ExportVerificationError(
                f"an export zip holds exactly {EXPORT_BIN_NAME} and {EXPORT_SIG_NAME}, "
                f"found {names}"
            )
        out = []
        for name, limit in (
            (EXPORT_BIN_NAME, MAX_EXPORT_MEMBER_BYTES),
            (EXPORT_SIG_NAME, MAX_SIGNATURE_LIST_BYTES),
        ):
            if zf.getinfo(name).file_size > limit:
                raise ExportVerificationError(f"{name} is larger than {limit} bytes")
            try:
                with zf.open(name) as f:
                    body = f.read(limit + 1)
            except (zipfile.BadZipFile, OSError) as e:
                raise ExportVerificationError(f"{name} cannot be read: {e}") from None
            if len(body) > limit:
                raise ExportVerificationError(f"{name} is larger than {limit} bytes")
            out.append(body)
    return out[0], out[1]


def _keys_from(repeated: object, where: str) -> tuple[TemporaryExposureKey, ...]:
    keys = []
    for i, m in enumerate(repeated):  # type: ignore[attr-defined]
        if len(m.key_data) != crypto.TEK_BYTES:
            raise ExportVerificationError(f"{where}[{i}]: key is not {crypto.TEK_BYTES} bytes")
        if not 1 <= m.rolling_period <= crypto.TEK_ROLLING_PERIOD:
            raise ExportVerificationError(f"{where}[{i}]: rolling period outside 1..144")
        if m.rolling_start_interval_number < 0:
            raise ExportVerificationError(f"{where}[{i}]: negative rolling start")
        try:
            report = ReportType(m.report_type)
        except ValueError:
            raise ExportVerificationError(f"{where}[{i}]: unknown report type") from None
        keys.append(
            TemporaryExposureKey(
                key_data=bytes(m.key_data),
                rolling_start=m.rolling_start_interval_number,
                rolling_period=m.rolling_period,
                transmission_risk=m.transmission_risk_level,
                report_type=report,
                days_since_onset=(
                    m.days_since_onset_of_symptoms
                    if m.HasField("days_since_onset_of_symptoms")
                    else None
                ),
            )
        )
    return tuple(keys)


def parse_export_bin(export_bin: bytes) -> ExportFile:
    """Check the header and decode the protobuf (no signature check: see ``verify_export``)."""
    if export_bin[: len(EXPORT_HEADER)] != EXPORT_HEADER:
        raise ExportVerificationError("export.bin does not start with the 'EK Export v1' header")
    msg = ExportMessage()
    try:
        msg.ParseFromString(export_bin[len(EXPORT_HEADER) :])
    except DecodeError as e:
        raise ExportVerificationError(f"export.bin is not a valid export protobuf: {e}") from None
    if not 1 <= msg.batch_num <= msg.batch_size:
        raise ExportVerificationError("batch_num must be within 1..batch_size")
    if msg.end_timestamp < msg.start_timestamp:
        raise ExportVerificationError("end_timestamp is before start_timestamp")
    return ExportFile(
        start_timestamp=msg.start_timestamp,
        end_timestamp=msg.end_timestamp,
        region=msg.region,
        batch_num=msg.batch_num,
        batch_size=msg.batch_size,
        signature_infos=tuple(
            SignatureInfo(i.verification_key_version, i.verification_key_id, i.signature_algorithm)
            for i in msg.signature_infos
        ),
        keys=_keys_from(msg.keys, "keys"),
        revised_keys=_keys_from(msg.revised_keys, "revised_keys"),
    )


@dataclass(frozen=True)
class VerifiedExport:
    export: ExportFile
    signed_by: SignatureInfo


def verify_export_parts(
    export_bin: bytes, export_sig: bytes, public_key: ec.EllipticCurvePublicKey
) -> VerifiedExport:
    """Verify header, protobuf and signature of an export; raise ExportVerificationError if not."""
    export = parse_export_bin(export_bin)
    sig_list = SignatureListMessage()
    try:
        sig_list.ParseFromString(export_sig)
    except DecodeError as e:
        raise ExportVerificationError(f"export.sig is not a TEKSignatureList: {e}") from None
    if not sig_list.signatures:
        raise ExportVerificationError("export.sig holds no signature")
    for sig in sig_list.signatures:
        if (sig.batch_num, sig.batch_size) != (export.batch_num, export.batch_size):
            raise ExportVerificationError("signature batch numbers differ from export.bin")
        if sig.signature_info.signature_algorithm != ECDSA_P256_SHA256_OID:
            continue
        try:
            public_key.verify(sig.signature, export_bin, ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            continue
        info = SignatureInfo(
            sig.signature_info.verification_key_version,
            sig.signature_info.verification_key_id,
            sig.signature_info.signature_algorithm,
        )
        return VerifiedExport(export, info)
    raise ExportVerificationError("no signature in export.sig verifies with the given public key")


def verify_export(data: bytes, public_key: ec.EllipticCurvePublicKey) -> VerifiedExport:
    """Verify a whole export zip against the health authority's published public key."""
    export_bin, export_sig = read_export_zip(data)
    return verify_export_parts(export_bin, export_sig, public_key)


def load_public_key(pem: bytes) -> ec.EllipticCurvePublicKey:
    """An ECDSA P-256 public key from PEM (the format key servers publish)."""
    try:
        key = serialization.load_pem_public_key(pem)
    except ValueError as e:
        raise ExportVerificationError(f"not a PEM public key: {e}") from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ExportVerificationError("the public key is not an ECDSA P-256 key")
    return key


def public_key_pem(key: ec.EllipticCurvePublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
