"""Quality domain: the Great Expectations suites as blocking asset checks."""

from __future__ import annotations

from datetime import timedelta

import dagster as dg

from pipelines.ingest.assets import RAW_EVENTS, RAW_USERS
from pipelines.quality import checks

# Evaluated by their sensor on a timer rather than inside runs: staleness is about runs that
# did not happen.
feed_freshness_checks = dg.build_last_update_freshness_checks(
    assets=[RAW_USERS, RAW_EVENTS], lower_bound_delta=timedelta(days=2)
)

defs = dg.Definitions(
    sensors=[dg.build_sensor_for_freshness_checks(freshness_checks=feed_freshness_checks)],
    asset_checks=[
        checks.users_suite_check,
        checks.events_suite_check,
        checks.interactions_suite_check,
        checks.registrations_suite_check,
        checks.feedback_suite_check,
        checks.interactions_freshness_check,
        *feed_freshness_checks,
    ],
)
