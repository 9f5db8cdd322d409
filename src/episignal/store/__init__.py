"""Serving store: what the card service reads at query time (SQLite here, PostgreSQL in prod)."""

from episignal.store.engine import Store, open_store

__all__ = ["Store", "open_store"]
