"""Ingest: carrier feeds and canonical files → validated, pseudonymised canonical events."""
