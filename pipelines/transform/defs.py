"""Transform domain: the dbt models and the dbt resource."""

from __future__ import annotations

import dagster as dg

from pipelines.transform.assets import dbt_interactions, dbt_marts, dbt_staging
from pipelines.transform.project import dbt_resource

defs = dg.Definitions(
    assets=[dbt_staging, dbt_interactions, dbt_marts],
    resources={"dbt": dbt_resource()},
)
