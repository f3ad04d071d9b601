"""Curation of landed listings: one canonical event per real event, a category for every
listing, quality flags with their evidence (``pipelines/curation/assets.py`` for the assets)."""
