"""The dbt assets report their row counts and column types on every materialisation."""

from __future__ import annotations

import dagster as dg
import psycopg


def test_a_mart_reports_its_rows_and_columns(database_url: str) -> None:
    from pipelines.transform.project import dbt_resource, prepare_manifest

    prepare_manifest()
    from pipelines.transform.assets import dbt_marts, dbt_staging

    key = dg.AssetKey(["marts", "dim_users"])

    # dbt counts the rows of tables only (a view's count would run its query), so a mart.
    result = dg.materialize(
        [dbt_staging, dbt_marts],
        resources={"dbt": dbt_resource()},
        selection=dg.AssetSelection.assets(key).upstream()
        - dg.AssetSelection.key_prefixes("raw", "app", "curation"),
        raise_on_error=True,
    )

    (materialization,) = [
        m for m in result.asset_materializations_for_node(dbt_marts.op.name) if m.asset_key == key
    ]
    metadata = materialization.metadata
    with psycopg.connect(database_url, autocommit=True) as conn:
        users = conn.execute("SELECT count(*) FROM marts.dim_users").fetchone()[0]
    assert metadata["dagster/row_count"].value == users
    columns = {c.name for c in metadata["dagster/column_schema"].schema.columns}
    assert {"user_id", "created_at"} <= columns
