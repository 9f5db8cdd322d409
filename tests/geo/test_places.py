"""Places as the card names them, from the division table the cpca package ships."""

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


def test_unknown_code_is_a_clear_error() -> None:
    with pytest.raises(UnknownDivision, match="999999"):
        divisions().get("999999")
