"""The quarantine-rate check of every load: a few rejected rows are normal, many mean a broken feed.

A load never fails because of its rows; it quarantines them. This check says when the share it
quarantined is too high: above ``QUARANTINE_WARN_SHARE`` it warns, above
``QUARANTINE_BLOCK_SHARE`` it fails with ERROR severity, and being blocking it then stops
everything downstream (the marts, training, scoring) until the feed is corrected. The load
itself stays committed, so ``raw.quarantine`` shows what went wrong.
"""

from __future__ import annotations

import json

import dagster as dg
import polars as pl

from core.settings import get_settings

QUARANTINE_RATE = "quarantine_rate"
# Rejected rows shown in the check's metadata, and the characters of each record shown.
EXAMPLES = 10
_RECORD_CHARS = 300


def quarantine_rate_spec(asset: dg.AssetKey) -> dg.AssetCheckSpec:
    """The check's spec, declared on the loading asset itself, which evaluates it per load."""
    return dg.AssetCheckSpec(
        QUARANTINE_RATE,
        asset=asset,
        blocking=True,
        description="Share of the load's rows quarantined: warns above QUARANTINE_WARN_SHARE, "
        "blocks the marts above QUARANTINE_BLOCK_SHARE.",
    )


def verdict(
    rows_read: int, rows_quarantined: int, warn_share: float, block_share: float
) -> tuple[bool, dg.AssetCheckSeverity]:
    """Whether the load passes and how loudly it fails: ERROR (blocking) above the block share,
    WARN above the warn share. An empty load passes."""
    share = rows_quarantined / rows_read if rows_read else 0.0
    if share > block_share:
        return False, dg.AssetCheckSeverity.ERROR
    if share > warn_share:
        return False, dg.AssetCheckSeverity.WARN
    return True, dg.AssetCheckSeverity.WARN


def examples(rejected: pl.DataFrame, limit: int = EXAMPLES) -> list[dict[str, object]]:
    """The first rejected rows as the metadata shows them: file, line, reason, record."""
    head = rejected.head(limit)
    return [
        {
            "file": str(row["_source_file"]),
            "line": row["_line"],
            "reason": row["reason"],
            "record": (row["_record"] or "")[:_RECORD_CHARS],
        }
        for row in head.iter_rows(named=True)
    ]


def quarantine_rate_result(
    asset: dg.AssetKey,
    rows_read: int,
    rows_quarantined: int,
    rejected: pl.DataFrame,
    per_partition: dict[str, dict[str, int]] | None = None,
) -> dg.AssetCheckResult:
    """The check's result for one load, with the share, the thresholds and example rows (the
    first of ``rejected``, which may be a sample of the load's rejected rows)."""
    settings = get_settings()
    warn, block = settings.quarantine_warn_share, settings.quarantine_block_share
    passed, severity = verdict(rows_read, rows_quarantined, warn, block)
    share = rows_quarantined / rows_read if rows_read else 0.0
    metadata: dict[str, dg.MetadataValue] = {
        "rows_read": dg.MetadataValue.int(rows_read),
        "rows_quarantined": dg.MetadataValue.int(rows_quarantined),
        "quarantined_share": dg.MetadataValue.float(round(share, 6)),
        "warn_above": dg.MetadataValue.float(warn),
        "block_above": dg.MetadataValue.float(block),
        # JSON rather than a Markdown table: records hold pipes and line breaks.
        "examples": dg.MetadataValue.json(json.loads(json.dumps(examples(rejected), default=str))),
        "quarantine_table": dg.MetadataValue.text("raw.quarantine"),
    }
    if per_partition:
        metadata["quarantined_share_per_partition"] = dg.MetadataValue.json(
            {
                day: round(c["rows_quarantined"] / c["rows_read"], 6) if c["rows_read"] else 0.0
                for day, c in per_partition.items()
            }
        )
    return dg.AssetCheckResult(
        asset_key=asset,
        check_name=QUARANTINE_RATE,
        passed=passed,
        severity=severity,
        metadata=metadata,
        description=None
        if passed
        else f"{share:.1%} of the rows read were quarantined (see raw.quarantine)",
    )
