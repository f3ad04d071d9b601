"""Quality domain: the Great Expectations suites as blocking asset checks."""

from __future__ import annotations

import dagster as dg

from pipelines.quality import checks

defs = dg.Definitions(
    asset_checks=[
        checks.users_suite_check,
        checks.events_suite_check,
        checks.interactions_suite_check,
        checks.registrations_suite_check,
        checks.feedback_suite_check,
        checks.interactions_freshness_check,
    ],
)
