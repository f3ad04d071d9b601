"""Dagster code location of the platform: one sub-package per domain."""
