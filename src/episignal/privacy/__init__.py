"""Everything that decides what may be stored or released: pseudonyms, masking, redaction."""
