"""The place model: prefecture-level cities at home, countries (ISO 3166 alpha-2) abroad."""

from __future__ import annotations

import enum
import gettext
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from episignal.geo.divisions import divisions

HOME_COUNTRY = "CN"


class PlaceKind(enum.StrEnum):
    CITY = "city"  # a prefecture-level place in China
    COUNTRY = "country"  # a country or region abroad


@dataclass(frozen=True, slots=True)
class Place:
    code: str  # 6-digit prefecture-level code, or ISO 3166 alpha-2 abroad
    kind: PlaceKind
    name_zh: str  # as the card shows it: "湖北省武汉市", "日本"

    @property
    def name_en(self) -> str:
        """English display name: "Wuhan, Hubei", "Japan" (worked out when first asked for)."""
        return _english_place_name(self.code, self.kind)


# pycountry and pypinyin are imported where they are used: they take most of a second to load,
# and an itinerary export of cities at home needs neither (it names places in Chinese only).


@lru_cache(maxsize=1)
def _zh_countries() -> gettext.NullTranslations:
    import pycountry

    return gettext.translation(
        "iso3166-1", pycountry.LOCALES_DIR, languages=["zh_CN"], fallback=True
    )


class UnknownCountry(KeyError):
    def __init__(self, code: str) -> None:
        super().__init__(f"no ISO 3166 country with alpha-2 code {code!r}")


def _country(alpha2: str) -> Any:  # a pycountry record
    import pycountry

    country = pycountry.countries.get(alpha_2=alpha2.upper())
    if country is None:
        raise UnknownCountry(alpha2)
    return country


@lru_cache(maxsize=512)
def country_place(alpha2: str) -> Place:
    country = _country(alpha2)
    return Place(country.alpha_2, PlaceKind.COUNTRY, _zh_countries().gettext(country.name))


@lru_cache(maxsize=4096)
def place_for_code(code: str) -> Place:
    """Place for a prefecture-level division code or a country code."""
    if len(code) == 2 and code.isalpha():
        return country_place(code)
    table = divisions()
    prefecture = table.prefecture(code)
    return Place(prefecture.code, PlaceKind.CITY, table.display_name(prefecture.code))


@lru_cache(maxsize=4096)
def _english_place_name(code: str, kind: PlaceKind) -> str:
    if kind is PlaceKind.COUNTRY:
        country = _country(code)
        return getattr(country, "common_name", None) or country.name
    table = divisions()
    prefecture = table.get(code)
    province = table.get(prefecture.province_code)
    name_en = english_name(prefecture.name)
    if province.code != prefecture.code:
        name_en = f"{name_en}, {english_name(province.name)}"
    return name_en


# Generic suffixes of division names, longest first; what remains is the proper name.
_SUFFIXES = (
    "特别行政区",
    "维吾尔自治区",
    "壮族自治区",
    "回族自治区",
    "自治区",
    "自治州",
    "自治县",
    "林区",
    "地区",
    "省",
    "市",
    "盟",
    "县",
    "区",
)
_AUTONOMOUS_PREFIX_CHARS = 2  # "恩施土家族苗族自治州" → "恩施": the place name precedes the peoples


def english_name(name_zh: str) -> str:
    """Hanyu Pinyin of a division's proper name: "武汉市" → "Wuhan"."""
    core = name_zh
    for suffix in _SUFFIXES:
        if core.endswith(suffix) and len(core) > len(suffix):
            core = core[: -len(suffix)]
            break
    if "族" in core:
        core = core[:_AUTONOMOUS_PREFIX_CHARS]
    from pypinyin import lazy_pinyin

    return "".join(lazy_pinyin(core)).capitalize()
