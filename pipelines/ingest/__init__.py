"""Ingestion: landing-zone files and operational tables into ``raw.*``."""
