"""Typed settings read from the environment (prefix ``EPISIGNAL_``), one object for the whole app."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATA_DIR = Path("episignal-data")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EPISIGNAL_", extra="ignore")

    data_dir: Path = Field(default=DEFAULT_DATA_DIR, description="where every dataset lives")
    pseudonym_key: str | None = Field(
        default=None,
        description="HMAC key (hex or text) for subscriber pseudonyms; else a key file in data_dir",
    )
    database_url: str | None = Field(
        default=None, description="serving store URL; SQLite file in data_dir when unset"
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
