"""The cryptography follows the Exposure Notification specification v1.2 to the byte."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from episignal.exposure import crypto

from .conftest import load_reference

VECTORS = load_reference()["gaen_crypto_v1_2"]
TEK = bytes.fromhex(VECTORS["tek"])
START = VECTORS["tek_rolling_start_enin"]
METADATA = bytes.fromhex(VECTORS["ble_metadata"])


def test_interval_number_of_the_published_key_generation_time_is_its_rolling_start() -> None:
    assert crypto.en_interval_number(VECTORS["key_generation_unix_seconds"]) == START
    assert crypto.rolling_start_for(VECTORS["key_generation_unix_seconds"] + 3600) == START


def test_rolling_period_is_one_day_of_ten_minute_intervals() -> None:
    assert crypto.TEK_ROLLING_PERIOD == VECTORS["tek_rolling_period"] == 144
    assert crypto.EN_INTERVAL_SECONDS * crypto.TEK_ROLLING_PERIOD == 86_400


def test_rpik_matches_published_vector() -> None:
    assert crypto.derive_rpik(TEK).hex() == VECTORS["rpik"]


def test_aemk_matches_published_vector() -> None:
    assert crypto.derive_aemk(TEK).hex() == VECTORS["aemk"]


def test_hkdf_info_strings_are_the_published_ones() -> None:
    assert crypto.RPIK_INFO.decode() == VECTORS["rpik_hkdf_info"]
    assert crypto.AEMK_INFO.decode() == VECTORS["aemk_hkdf_info"]
    assert crypto.RPI_PAD_PREFIX.decode() == VECTORS["rpi_pad_prefix"]


@pytest.mark.parametrize(
    "vector", VECTORS["advertised"], ids=lambda v: f"interval_{v['interval_index']}"
)
def test_rpi_matches_published_vector_for_interval(vector: dict) -> None:
    rpik = crypto.derive_rpik(TEK)
    assert crypto.rpi(rpik, vector["enin"]).hex() == vector["rpi"]


@pytest.mark.parametrize(
    "vector", VECTORS["advertised"], ids=lambda v: f"interval_{v['interval_index']}"
)
def test_aem_matches_published_vector_for_interval(vector: dict) -> None:
    aem = crypto.aem(crypto.derive_aemk(TEK), bytes.fromhex(vector["rpi"]), METADATA)
    assert aem.hex() == vector["aem"]


@pytest.mark.parametrize(
    "vector", VECTORS["advertised"], ids=lambda v: f"interval_{v['interval_index']}"
)
def test_advertisement_is_rpi_followed_by_aem(vector: dict) -> None:
    payload = crypto.advertisement(TEK, vector["enin"], METADATA)
    assert payload.hex() == vector["rpi"] + vector["aem"]
    assert crypto.split_advertisement(payload) == (
        bytes.fromhex(vector["rpi"]),
        bytes.fromhex(vector["aem"]),
    )


def test_derived_table_covers_the_144_intervals_and_agrees_with_every_published_pair() -> None:
    table = crypto.derive_table(TEK, START, METADATA)
    assert [row["interval"] for row in table["intervals"]] == list(range(START, START + 144))
    for v in VECTORS["advertised"]:
        row = table["intervals"][v["interval_index"]]
        assert (row["rpi"], row["aem"]) == (v["rpi"], v["aem"])


def test_metadata_decrypts_to_version_1_0_and_the_transmit_power() -> None:
    v = VECTORS["advertised"][0]
    clear = crypto.decrypt_aem(
        crypto.derive_aemk(TEK), bytes.fromhex(v["rpi"]), bytes.fromhex(v["aem"])
    )
    assert clear == METADATA
    assert clear[0] == crypto.METADATA_VERSION_1_0
    assert crypto.decode_tx_power(clear) == 8


def test_batched_rpi_run_equals_interval_by_interval_derivation() -> None:
    rpik = crypto.derive_rpik(TEK)
    run = crypto.rpis_for_key(TEK, START)
    assert run == [crypto.rpi(rpik, START + i) for i in range(144)]


def test_new_keys_are_16_random_bytes_never_repeated() -> None:
    keys = {crypto.new_tek() for _ in range(1000)}
    assert len(keys) == 1000
    assert all(len(k) == 16 for k in keys)


@pytest.mark.parametrize("bad", [b"", bytes(15), bytes(17)])
def test_keys_of_the_wrong_length_are_refused(bad: bytes) -> None:
    with pytest.raises(crypto.CryptoError):
        crypto.derive_rpik(bad)


@given(
    tek=st.binary(min_size=16, max_size=16),
    interval=st.integers(min_value=0, max_value=2**32 - 1),
    tx=st.integers(min_value=-128, max_value=127),
)
def test_any_advertisement_decrypts_back_to_its_metadata(
    tek: bytes, interval: int, tx: int
) -> None:
    meta = crypto.encode_metadata(tx)
    rpi, aem = crypto.split_advertisement(crypto.advertisement(tek, interval, meta))
    assert crypto.decode_tx_power(crypto.decrypt_aem(crypto.derive_aemk(tek), rpi, aem)) == tx


@given(tek=st.binary(min_size=16, max_size=16), interval=st.integers(0, 2**32 - 2))
def test_identifiers_of_consecutive_intervals_differ(tek: bytes, interval: int) -> None:
    rpik = crypto.derive_rpik(tek)
    assert crypto.rpi(rpik, interval) != crypto.rpi(rpik, interval + 1)
