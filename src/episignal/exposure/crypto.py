"""Exposure Notification cryptography, as in the public specification v1.2 (April 2020).

Every derivation here is checked against the specification's published test vectors.
"""

from __future__ import annotations

import secrets
import struct
from collections.abc import Iterable

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

# --- Constants of the Exposure Notification Cryptography Specification v1.2 -------------------
EN_INTERVAL_SECONDS = 600  # ENIntervalNumber = Unix time / 600 (10-minute windows)
TEK_ROLLING_PERIOD = 144  # TEKRollingPeriod: a TEK is valid for 144 intervals (24 hours)
TEK_BYTES = 16  # TEK: 16 bytes from a cryptographic random generator
RPIK_INFO = b"EN-RPIK"  # HKDF info for the Rolling Proximity Identifier Key
AEMK_INFO = b"EN-AEMK"  # HKDF info for the Associated Encrypted Metadata Key
DERIVED_KEY_BYTES = 16  # RPIK and AEMK are 16-byte AES-128 keys
RPI_PAD_PREFIX = b"EN-RPI"  # PaddedData = "EN-RPI" ‖ 6 × 0x00 ‖ ENIN (uint32 little-endian)
RPI_BYTES = 16  # one AES block
AEM_BYTES = 4  # metadata: version, transmit power, two reserved bytes
METADATA_VERSION_1_0 = 0x40  # byte 0: major version 01 in bits 7-6, minor 00 in bits 5-4
DEFAULT_TX_POWER_DBM = 8  # the transmit power in the specification's test-vector metadata
_PAD_HEAD = RPI_PAD_PREFIX + bytes(6)


class CryptoError(ValueError):
    """An input that the specification does not allow (wrong length, interval out of range)."""


def en_interval_number(unix_seconds: float) -> int:
    """ENIntervalNumber of a Unix timestamp: the 10-minute window since the epoch."""
    return int(unix_seconds) // EN_INTERVAL_SECONDS


def interval_start_seconds(interval: int) -> int:
    """Unix time (seconds, UTC) at which an ENIntervalNumber begins."""
    return interval * EN_INTERVAL_SECONDS


def rolling_start_for(unix_seconds: float) -> int:
    """The TEK rolling start of the day containing this instant: floor(ENIN / 144) × 144."""
    return en_interval_number(unix_seconds) // TEK_ROLLING_PERIOD * TEK_ROLLING_PERIOD


def new_tek() -> bytes:
    """A fresh Temporary Exposure Key from the operating system's secure generator."""
    return secrets.token_bytes(TEK_BYTES)


def _check_key(tek: bytes) -> None:
    if len(tek) != TEK_BYTES:
        raise CryptoError(f"a temporary exposure key has {TEK_BYTES} bytes, got {len(tek)}")


def _hkdf(tek: bytes, info: bytes) -> bytes:
    _check_key(tek)
    return HKDF(algorithm=hashes.SHA256(), length=DERIVED_KEY_BYTES, salt=None, info=info).derive(
        tek
    )


def derive_rpik(tek: bytes) -> bytes:
    """RPIK = HKDF(TEK, NULL, UTF8("EN-RPIK"), 16)."""
    return _hkdf(tek, RPIK_INFO)


def derive_aemk(tek: bytes) -> bytes:
    """AEMK = HKDF(TEK, NULL, UTF8("EN-AEMK"), 16)."""
    return _hkdf(tek, AEMK_INFO)


def _check_interval(interval: int) -> None:
    if not 0 <= interval <= 0xFFFFFFFF:
        raise CryptoError("an interval number must fit in 32 unsigned bits")


def padded_data(interval: int) -> bytes:
    """The RPI plaintext for one interval: "EN-RPI" ‖ 0x000000000000 ‖ ENIN (little-endian)."""
    _check_interval(interval)
    return _PAD_HEAD + struct.pack("<I", interval)


def padded_data_run(first_interval: int, count: int) -> bytes:
    """RPI plaintexts of ``count`` consecutive intervals, concatenated (one ECB call for all)."""
    _check_interval(first_interval)
    _check_interval(first_interval + max(count - 1, 0))
    return b"".join(_PAD_HEAD + struct.pack("<I", first_interval + i) for i in range(count))


def rpi(rpik: bytes, interval: int) -> bytes:
    """RPI_j = AES-128(RPIK, PaddedData_j)."""
    enc = Cipher(algorithms.AES(rpik), modes.ECB()).encryptor()
    return enc.update(padded_data(interval)) + enc.finalize()


def rpi_run(rpik: bytes, first_interval: int, count: int = TEK_ROLLING_PERIOD) -> bytes:
    """RPIs of ``count`` consecutive intervals as one byte string (16 bytes each, in order)."""
    enc = Cipher(algorithms.AES(rpik), modes.ECB()).encryptor()
    return enc.update(padded_data_run(first_interval, count)) + enc.finalize()


def rpis_for_key(
    tek: bytes, rolling_start: int, rolling_period: int = TEK_ROLLING_PERIOD
) -> list[bytes]:
    """All RPIs a key produces over its validity, interval by interval."""
    run = rpi_run(derive_rpik(tek), rolling_start, rolling_period)
    return [run[i : i + RPI_BYTES] for i in range(0, len(run), RPI_BYTES)]


def encode_metadata(tx_power_dbm: int, version: int = METADATA_VERSION_1_0) -> bytes:
    """Bluetooth metadata: version byte, transmit power (signed dBm), two reserved zero bytes."""
    if not -128 <= tx_power_dbm <= 127:
        raise CryptoError("transmit power must fit in a signed byte (dBm)")
    return struct.pack("<Bbxx", version, tx_power_dbm)


def decode_tx_power(metadata: bytes) -> int:
    """Transmit power (dBm) from decrypted metadata."""
    if len(metadata) != AEM_BYTES:
        raise CryptoError(f"metadata has {AEM_BYTES} bytes")
    return struct.unpack_from("<b", metadata, 1)[0]


def aem(aemk: bytes, rpi_value: bytes, metadata: bytes) -> bytes:
    """AEM = AES-128-CTR(AEMK, IV = RPI, metadata); the same call decrypts."""
    if len(rpi_value) != RPI_BYTES:
        raise CryptoError(f"an RPI has {RPI_BYTES} bytes")
    enc = Cipher(algorithms.AES(aemk), modes.CTR(rpi_value)).encryptor()
    return enc.update(metadata) + enc.finalize()


decrypt_aem = aem  # CTR mode is its own inverse
DEFAULT_METADATA = encode_metadata(DEFAULT_TX_POWER_DBM)


def advertisement(tek: bytes, interval: int, metadata: bytes) -> bytes:
    """The 20-byte service data a phone broadcasts during an interval: RPI ‖ AEM."""
    r = rpi(derive_rpik(tek), interval)
    return r + aem(derive_aemk(tek), r, metadata)


def split_advertisement(payload: bytes) -> tuple[bytes, bytes]:
    """(RPI, AEM) from a received 20-byte payload."""
    if len(payload) != RPI_BYTES + AEM_BYTES:
        raise CryptoError(f"an advertisement has {RPI_BYTES + AEM_BYTES} bytes")
    return payload[:RPI_BYTES], payload[RPI_BYTES:]


def derive_table(tek: bytes, rolling_start: int, metadata: bytes = DEFAULT_METADATA) -> dict:
    """RPIK, AEMK and the (RPI, AEM) of each of the key's 144 intervals (lowercase hex)."""
    if len(metadata) != AEM_BYTES:
        raise CryptoError(f"metadata has {AEM_BYTES} bytes")
    rpik, aemk = derive_rpik(tek), derive_aemk(tek)
    run = rpi_run(rpik, rolling_start, TEK_ROLLING_PERIOD)
    rows: list[dict] = []
    for i in range(TEK_ROLLING_PERIOD):
        r = run[i * RPI_BYTES : (i + 1) * RPI_BYTES]
        rows.append(
            {"interval": rolling_start + i, "rpi": r.hex(), "aem": aem(aemk, r, metadata).hex()}
        )
    return {"rpik": rpik.hex(), "aemk": aemk.hex(), "intervals": rows}


def rpis_of_keys(keys: Iterable[tuple[bytes, int, int]]) -> Iterable[bytes]:
    """RPI runs of many keys (tek, rolling_start, rolling_period): one ECB context per key."""
    for tek, start, period in keys:
        yield rpi_run(derive_rpik(tek), start, period)
