"""The card as the API returns it: the contract a mini-program, the web page and SMS all share."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from episignal.card.policy import Colour, RiskMarker


class CardPlace(BaseModel):
    name: str = Field(description='display name as the card shows it, e.g. "湖北省武汉市"')
    name_en: str = Field(description='English display name, e.g. "Wuhan, Hubei"')
    code: str = Field(description="6-digit prefecture-level division code")
    star: bool = Field(
        description="the city currently contains a medium or high-risk area and the policy "
        "marks such cities (see risk_marker); it does not mean the person visited that area"
    )


class CardCountry(BaseModel):
    name: str = Field(description='country or region in Chinese, e.g. "日本"')
    name_en: str
    code: str = Field(description="ISO 3166-1 alpha-2")


class ColourMeaning(BaseModel):
    zh: str
    en: str


class Card(BaseModel):
    model_config = ConfigDict(validate_assignment=False)

    masked_msisdn: str = Field(description="e.g. 138****8000")
    has_data: bool = Field(description='false: "抱歉，没有找到您的行程数据"')
    updated_at: datetime | None = Field(description="when the data was published (UTC)")
    data_date: date | None = Field(description="the local day the itinerary runs up to")
    window_days: int
    min_stay_hours: float
    colour: Colour
    colour_meaning: ColourMeaning
    places: list[CardPlace]
    countries: list[CardCountry]
    risk_marker: RiskMarker
    policy_version: str
    qr_token: str = Field(description="signed, short-lived token; the QR code encodes it")
    qr_expires_at: datetime
