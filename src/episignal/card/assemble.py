"""Card assembly: itinerary rows + flags + risk areas + the policy in force → the card.

Pure functions of their inputs (no I/O), so every rule change can be replayed in a test.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from episignal.card.model import Card, CardCountry, CardPlace, ColourMeaning
from episignal.card.policy import Colour, Condition, Policy, PolicyVersion, RiskMarker
from episignal.card.timefmt import local_display
from episignal.geo import place_for_code
from episignal.store.risk import RiskArea
from episignal.store.subjects import Flag

MARKED_LEVELS = frozenset({"medium", "high"})  # the star: a medium- or high-risk area


@dataclass(frozen=True)
class Stay:
    place_code: str
    place_name: str
    place_kind: str
    first_arrival: datetime
    last_departure: datetime


@dataclass(frozen=True)
class PublicationInfo:
    id: int
    data_date: object
    window_days: int
    min_stay_hours: float
    policy_version: str
    published_at: datetime


@lru_cache(maxsize=4096)
def english_place_name(code: str, fallback: str) -> str:
    try:
        return place_for_code(code).name_en
    except (KeyError, LookupError):
        return fallback


def conditions(
    stays: Sequence[Stay],
    flags: Sequence[Flag],
    areas: Sequence[RiskArea],
    now: datetime,
    named_places: frozenset[str] = frozenset(),
) -> set[Condition]:
    found: set[Condition] = set()
    for f in flags:
        if not f.active_at(now):
            continue
        if f.kind == "case":
            found.add(
                Condition.CASE_CONFIRMED if f.detail == "confirmed" else Condition.CASE_SUSPECTED
            )
        elif f.kind == "close_contact":
            found.add(Condition.CLOSE_CONTACT)
    by_city: dict[str, list[RiskArea]] = {}
    for a in areas:
        by_city.setdefault(a.city_code, []).append(a)
    for s in stays:
        if s.place_kind == "country":
            found.add(Condition.STAY_ABROAD)
        if s.place_code in named_places:
            found.add(Condition.STAY_IN_NAMED_PLACE)
        for a in by_city.get(s.place_code, ()):
            if a.overlaps(s.first_arrival, s.last_departure):
                if a.level == "high":
                    found.add(Condition.STAY_IN_HIGH_RISK_CITY)
                if a.level in MARKED_LEVELS:
                    found.add(Condition.STAY_IN_MEDIUM_OR_HIGH_RISK_CITY)
    return found


def colour_for(
    version: PolicyVersion,
    stays: Sequence[Stay],
    flags: Sequence[Flag],
    areas: Sequence[RiskArea],
    now: datetime,
) -> Colour:
    named = frozenset(code for rule in version.colour_rule for code in rule.places)
    found = conditions(stays, flags, areas, now, named)
    for rule in version.colour_rule:
        hit = found.intersection(rule.any_of)
        if Condition.STAY_IN_NAMED_PLACE in hit and not any(
            s.place_code in rule.places for s in stays
        ):
            hit.discard(Condition.STAY_IN_NAMED_PLACE)  # a place named by another rule
        if hit:
            return rule.colour
    return "green"


def marked_cities(areas: Sequence[RiskArea], now: datetime) -> frozenset[str]:
    """Cities that contain a medium- or high-risk area right now."""
    if not areas:
        return frozenset()
    return frozenset(a.city_code for a in areas if a.level in MARKED_LEVELS and a.active_at(now))


def assemble(
    *,
    policy: Policy,
    publication: PublicationInfo | None,
    masked_msisdn: str,
    stays: Sequence[Stay],
    flags: Sequence[Flag],
    areas: Sequence[RiskArea],
    now: datetime,
    qr_token: str,
    qr_expires_at: datetime,
) -> Card:
    version = (
        policy.by_id(publication.policy_version) if publication else policy.in_force(now.date())
    )
    colour = colour_for(version, stays, flags, areas, now)
    marked = marked_cities(areas, now) if version.risk_marker != RiskMarker.NONE else frozenset()
    places: list[CardPlace] = []
    countries: list[CardCountry] = []
    seen: set[str] = set()
    for s in sorted(stays, key=lambda s: (s.first_arrival, s.place_code)):
        if s.place_code in seen:
            continue
        seen.add(s.place_code)
        name_en = english_place_name(s.place_code, s.place_name)
        if s.place_kind == "country":
            countries.append(
                CardCountry.model_construct(name=s.place_name, name_en=name_en, code=s.place_code)
            )
        else:
            places.append(
                CardPlace.model_construct(
                    name=s.place_name,
                    name_en=name_en,
                    code=s.place_code,
                    star=s.place_code in marked,
                )
            )
    meaning = policy.colours[colour]
    # model_construct: every field comes from our own typed code, validated once at the edges.
    return Card.model_construct(
        masked_msisdn=masked_msisdn,
        has_data=bool(stays),
        updated_at=publication.published_at if publication else None,
        data_date=publication.data_date if publication else None,  # type: ignore[arg-type]
        window_days=publication.window_days if publication else version.window_days,
        min_stay_hours=publication.min_stay_hours if publication else version.min_stay_hours,
        colour=colour,
        colour_meaning=ColourMeaning.model_construct(zh=meaning.zh, en=meaning.en),
        places=places,
        countries=countries,
        risk_marker=version.risk_marker,
        policy_version=version.id,
        qr_token=qr_token,
        qr_expires_at=qr_expires_at,
    )


def card_text_zh(card: Card) -> str:
    """The SMS reply: same content as the card, in the card's wording."""
    head = f"{card.masked_msisdn}的动态行程卡"
    if card.updated_at is not None:
        head += f"，更新于{local_display(card.updated_at)}"
    lines = [head + "。", f"行程卡颜色：{card.colour_meaning.zh}。"]
    if not card.has_data:
        lines.append("抱歉，没有找到您的行程数据。")
    else:
        names = [p.name + _sms_marker(card.risk_marker, p.star) for p in card.places]
        names += [c.name for c in card.countries]
        lines.append(f"您于前{card.window_days}天内到达或途经：{'，'.join(names)}。")
        if any(p.star for p in card.places) and card.risk_marker == RiskMarker.STAR:
            lines.append(
                "*表示当前该城市存在中风险或高风险地区，并不表示用户实际到访过这些中高风险地区。"
            )
    lines.append(
        f"结果包含您在前{card.window_days}天内到访的国家（地区）与停留"
        f"{card.min_stay_hours:g}小时以上的国内城市。"
    )
    return "".join(lines)


def _sms_marker(marker: RiskMarker, marked: bool) -> str:
    if not marked or marker == RiskMarker.NONE:
        return ""
    return "*" if marker == RiskMarker.STAR else "（含中高风险地区）"  # no red font in an SMS
