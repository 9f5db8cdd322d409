"""episignal: mobile-network signaling turned into epidemic-prevention services."""

__version__ = "0.1.0"
