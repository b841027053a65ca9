"""Curation: sources -> one row schema -> validated, deduplicated, decontaminated, difficulty-tagged rows."""
