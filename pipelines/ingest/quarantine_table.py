"""``raw/quarantine``: the rows every load rejected, as an asset the Dagster UI can show.

The loads write ``raw.quarantine`` in their own transactions (a row is never lost and never
loaded as if good); this asset follows them and records what the table holds: the rejected rows
per dataset and the latest of them with their reasons, so a data engineer sees them on the
asset's page, and the dbt models reading the table (``stg_raw__quarantine``, the quarantine
mart) are linked to ingest in the lineage.
"""

from __future__ import annotations

import dagster as dg

from core.db import connect
from pipelines.kernel.keys import (
    RAW_EVENTS,
    RAW_FEEDBACK,
    RAW_FOLLOWS,
    RAW_INTERACTIONS,
    RAW_QUARANTINE,
    RAW_USERS,
)

# Latest rejected rows shown, and the characters of each record shown.
PREVIEW_ROWS = 20
RECORD_CHARS = 200

PREVIEW_COLUMNS = (
    ("quarantined_at", "string"),
    ("dataset", "string"),
    ("source_file", "string"),
    ("line", "int"),
    ("reason", "string"),
    ("record", "string"),
)

_COUNTS_SQL = """
    SELECT dataset, count(*) AS rows, max(quarantined_at) AS latest
    FROM raw.quarantine GROUP BY dataset ORDER BY dataset"""
_PREVIEW_SQL = """
    SELECT to_char(quarantined_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'), dataset,
           source_file, line, reason, left(record, %(chars)s)
    FROM raw.quarantine ORDER BY quarantined_at DESC, id DESC LIMIT %(rows)s"""


def preview_table(rows: list[tuple]) -> dg.TableMetadataValue:
    """The latest rejected rows as a table the UI renders, newest first."""
    schema = dg.TableSchema(columns=[dg.TableColumn(name, kind) for name, kind in PREVIEW_COLUMNS])
    records = [
        dg.TableRecord({name: value for (name, _), value in zip(PREVIEW_COLUMNS, row, strict=True)})
        for row in rows
    ]
    return dg.MetadataValue.table(records=records, schema=schema)


@dg.asset(
    key=RAW_QUARANTINE,
    group_name="ingest",
    kinds={"postgres"},
    deps=[RAW_USERS, RAW_EVENTS, RAW_FOLLOWS, RAW_INTERACTIONS, RAW_FEEDBACK],
    automation_condition=dg.AutomationCondition.eager(),
)
def raw_quarantine() -> dg.MaterializeResult:
    """Rows the loads rejected (``raw.quarantine``), each with its dataset, file, line, reason
    and the record as it arrived.

    Materialised after every load: the metadata counts the rejected rows per dataset and shows
    the latest ones (``latest_rejected``). The loads write the table; this asset only reads it.
    """
    with connect() as conn:
        counts = conn.execute(_COUNTS_SQL).fetchall()
        latest = conn.execute(
            _PREVIEW_SQL, {"chars": RECORD_CHARS, "rows": PREVIEW_ROWS}
        ).fetchall()
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": dg.MetadataValue.int(sum(rows for _, rows, _ in counts)),
            "rows_by_dataset": dg.MetadataValue.json({d: rows for d, rows, _ in counts}),
            "latest_by_dataset": dg.MetadataValue.json({d: at.isoformat() for d, _, at in counts}),
            "latest_rejected": preview_table(latest),
        }
    )
