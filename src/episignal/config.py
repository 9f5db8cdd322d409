"""Typed settings read from the environment (prefix ``EPISIGNAL_``), one object for the app."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATA_DIR = Path("episignal-data")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EPISIGNAL_", extra="ignore")

    data_dir: Path = Field(default=DEFAULT_DATA_DIR, description="where every dataset lives")
    pseudonym_key: str | None = Field(
        default=None,
        description="HMAC key for subscriber pseudonyms (its text, as it is); else a key file",
    )
    database_url: str | None = Field(
        default=None, description="serving store URL; SQLite file in data_dir when unset"
    )

    # --- card service (store, web, SMS) ---
    sms: Literal["outbox", "kannel"] = Field(
        default="outbox",
        description="outgoing SMS: 'outbox' appends to sms-outbox.jsonl, 'kannel' uses the gateway",
    )
    kannel_sendsms_url: str = Field(
        default="http://127.0.0.1:13013/cgi-bin/sendsms",
        description="Kannel smsbox sendsms endpoint (loopback)",
    )
    kannel_username: str = Field(default="episignal", description="Kannel sendsms user")
    kannel_password: SecretStr = Field(default=SecretStr(""), description="Kannel sendsms password")
    sms_service_number: str = Field(
        default="10001", description="short code subscribers text CXMYD to; sender of replies"
    )
    sms_mo_secret: SecretStr = Field(
        default=SecretStr(""),
        description="shared secret Kannel's get-url passes to /sms/mo; empty disables the endpoint",
    )
    card_policy_file: Path | None = Field(
        default=None, description="card policy TOML; the packaged default when unset"
    )
    session_secret: SecretStr | None = Field(
        default=None,
        description="HMAC key for session cookies (shared by all workers); else a key file",
    )
    session_days: int = Field(default=7, ge=1, le=90, description="session cookie lifetime")
    cookie_secure: bool = Field(default=True, description="mark cookies Secure (HTTPS only)")
    card_token_minutes: int = Field(
        default=5, ge=1, le=60, description="validity of the signed QR token"
    )
    card_lookups_per_minute: int = Field(
        default=30, ge=1, description="card views per session per minute, per worker"
    )
    otp_per_client_per_hour: int = Field(
        default=20, ge=1, description="SMS codes one client address may request per hour"
    )
    trusted_proxy_hops: int = Field(
        default=0, ge=0, le=3, description="X-Forwarded-For hops to trust for the client address"
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
