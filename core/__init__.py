"""Shared foundation of the platform: settings, database access, migrations and data contracts.

Both ``pipelines`` and ``serving`` import from here; nothing here imports either of them.
"""
