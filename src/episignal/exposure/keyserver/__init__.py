"""The key server: diagnosis-key uploads (``app``), storage (``store``) and signed export
batches (``exports``); the wire contract and its limits live in ``protocol``."""
