"""SMS segmentation: what reaches the handset must reassemble to exactly the text we sent."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from episignal.config import Settings
from episignal.privacy.pseudonym import InvalidNumber
from episignal.sms.outbound import send_sms
from episignal.sms.segments import (
    UCS2_CONCAT_UNITS,
    UCS2_SINGLE_UNITS,
    message_length,
    reassemble,
    segment,
)


def test_short_chinese_reply_is_one_ucs2_message_without_header() -> None:
    parts = segment("您于前14天内到达或途经：湖北省武汉市", reference=7)
    assert len(parts) == 1
    assert parts[0].coding == "ucs2" and parts[0].udh == b""


def test_seventy_one_chinese_characters_need_two_segments_of_at_most_67() -> None:
    text = "行" * 71
    parts = segment(text, reference=9)
    assert [len(p.text) for p in parts] == [67, 4]
    assert all(p.udh[:3] == bytes([5, 0, 3]) and p.udh[3] == 9 for p in parts)
    assert [p.udh[5] for p in parts] == [1, 2]


def test_ascii_text_uses_gsm7_with_160_then_153_septets() -> None:
    assert len(segment("a" * 160, reference=1)) == 1
    assert [len(p.text) for p in segment("a" * 161, reference=1)] == [153, 8]


def test_surrogate_pair_is_never_split_between_segments() -> None:
    text = "行" * 66 + "😀" + "程" * 10
    parts = segment(text, reference=3)
    assert parts[0].text.endswith("行") and parts[1].text.startswith("😀")
    assert all(message_length(p.text, "ucs2") <= UCS2_CONCAT_UNITS for p in parts)


@given(st.text(min_size=1, max_size=600))
def test_any_text_reassembles_exactly_and_fits_each_segment(text: str) -> None:
    parts = segment(text, reference=200)
    assert reassemble([(p.udh, p.text) for p in parts]) == text
    if len(parts) > 1:
        for p in parts:
            limit = UCS2_CONCAT_UNITS if p.coding == "ucs2" else 153
            assert message_length(p.text, p.coding) <= limit
    else:
        limit = UCS2_SINGLE_UNITS if parts[0].coding == "ucs2" else 160
        assert message_length(text, parts[0].coding) <= limit


def test_outbox_gets_one_json_line_per_message_with_plus_e164(tmp_path: Path) -> None:
    settings = Settings(sms="outbox")
    send_sms("13800138000", "验证码 123456", data_dir=tmp_path, settings=settings)
    send_sms("+8613900139000", "second", data_dir=tmp_path, settings=settings)
    lines = (tmp_path / "sms-outbox.jsonl").read_text().splitlines()
    first, second = (json.loads(line) for line in lines)
    assert first["to"] == "+8613800138000" and first["text"] == "验证码 123456"
    assert first["ts"].endswith("Z") and second["to"] == "+8613900139000"


def test_sending_to_a_malformed_number_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidNumber):
        send_sms("12345", "hi", data_dir=tmp_path, settings=Settings(sms="outbox"))
