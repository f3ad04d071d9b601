"""Great Expectations suites per raw table, and a runner that turns results into evidence.

Great Expectations takes ~3-5 s to import, so it is imported inside the functions that need it,
never when Dagster loads the code location.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from core.contracts import (
    EVENT_STATUSES,
    FEEDBACK_ACTIONS,
    INTERACTION_SOURCES,
    INTERACTION_TYPES,
    REGISTRATION_STATUSES,
    USER_ROLES,
)

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class Expectation:
    """A backend-neutral description of one expectation: its GX class name and arguments."""

    kind: str
    kwargs: dict[str, Any]


@dataclass
class SuiteOutcome:
    """What a suite found: overall success plus, per failed expectation, counts and examples."""

    success: bool
    evaluated: int
    failed: list[dict[str, Any]] = field(default_factory=list)
    rows_checked: int = 0


def users_suite() -> list[Expectation]:
    """Keys present and unique, roles from the vocabulary, coordinates on the globe."""
    return [
        Expectation("ExpectColumnValuesToNotBeNull", {"column": "user_id"}),
        Expectation("ExpectColumnValuesToBeUnique", {"column": "user_id"}),
        Expectation("ExpectColumnValuesToNotBeNull", {"column": "email"}),
        Expectation("ExpectColumnValuesToBeInSet", {"column": "role", "value_set": USER_ROLES}),
        Expectation(
            "ExpectColumnValuesToBeBetween",
            {"column": "home_lat", "min_value": -90, "max_value": 90},
        ),
        Expectation(
            "ExpectColumnValuesToBeBetween",
            {"column": "home_lng", "min_value": -180, "max_value": 180},
        ),
    ]


def events_suite() -> list[Expectation]:
    """Keys, vocabularies and ranges the recommenders and the API rely on."""
    return [
        Expectation("ExpectColumnValuesToNotBeNull", {"column": "event_id"}),
        Expectation("ExpectColumnValuesToBeUnique", {"column": "event_id"}),
        Expectation("ExpectColumnValuesToNotBeNull", {"column": "title"}),
        Expectation("ExpectColumnValuesToNotBeNull", {"column": "starts_at"}),
        Expectation(
            "ExpectColumnValuesToBeInSet", {"column": "status", "value_set": EVENT_STATUSES}
        ),
        Expectation(
            "ExpectColumnValuesToBeBetween", {"column": "lat", "min_value": -90, "max_value": 90}
        ),
        Expectation(
            "ExpectColumnValuesToBeBetween", {"column": "lng", "min_value": -180, "max_value": 180}
        ),
        Expectation("ExpectColumnValuesToBeBetween", {"column": "price", "min_value": 0}),
        Expectation("ExpectColumnValuesToBeBetween", {"column": "capacity", "min_value": 0}),
        Expectation(
            "ExpectColumnPairValuesAToBeGreaterThanB",
            {"column_A": "ends_at", "column_B": "starts_at", "or_equal": False},
        ),
    ]


def interactions_suite(
    now: datetime, event_ids: list[int], user_ids: list[int]
) -> list[Expectation]:
    """Ids, vocabularies, no future timestamps, and references to known events and users."""
    return [
        Expectation("ExpectColumnValuesToNotBeNull", {"column": "interaction_id"}),
        Expectation("ExpectColumnValuesToBeUnique", {"column": "interaction_id"}),
        Expectation(
            "ExpectColumnValuesToBeInSet", {"column": "type", "value_set": INTERACTION_TYPES}
        ),
        Expectation(
            "ExpectColumnValuesToBeInSet", {"column": "source", "value_set": INTERACTION_SOURCES}
        ),
        Expectation("ExpectColumnValuesToBeBetween", {"column": "occurred_at", "max_value": now}),
        Expectation("ExpectColumnValuesToBeInSet", {"column": "event_id", "value_set": event_ids}),
        Expectation("ExpectColumnValuesToBeInSet", {"column": "user_id", "value_set": user_ids}),
    ]


def registrations_suite(event_ids: list[int], user_ids: list[int]) -> list[Expectation]:
    """Unique registrations with known statuses, pointing at known users and events."""
    return [
        Expectation("ExpectColumnValuesToBeUnique", {"column": "registration_id"}),
        Expectation("ExpectCompoundColumnsToBeUnique", {"column_list": ["user_id", "event_id"]}),
        Expectation(
            "ExpectColumnValuesToBeInSet",
            {"column": "status", "value_set": REGISTRATION_STATUSES},
        ),
        Expectation("ExpectColumnValuesToBeInSet", {"column": "event_id", "value_set": event_ids}),
        Expectation("ExpectColumnValuesToBeInSet", {"column": "user_id", "value_set": user_ids}),
    ]


def feedback_suite(now: datetime) -> list[Expectation]:
    """Feedback rows name a model version and an accepted action, never from the future."""
    return [
        Expectation("ExpectColumnValuesToBeUnique", {"column": "feedback_id"}),
        Expectation("ExpectColumnValuesToNotBeNull", {"column": "model_version"}),
        Expectation(
            "ExpectColumnValuesToBeInSet", {"column": "action", "value_set": FEEDBACK_ACTIONS}
        ),
        Expectation("ExpectColumnValuesToBeBetween", {"column": "occurred_at", "max_value": now}),
    ]


def run_suite(name: str, frame: pd.DataFrame, expectations: list[Expectation]) -> SuiteOutcome:
    """Validate ``frame`` with an ephemeral GX context; failures carry counts and examples."""
    import great_expectations as gx
    import great_expectations.expectations as gxe

    context = gx.get_context(mode="ephemeral")
    batch = (
        context.data_sources.add_pandas(f"{name}_source")
        .add_dataframe_asset(name)
        .add_batch_definition_whole_dataframe("whole")
    )
    suite = context.suites.add(
        gx.ExpectationSuite(
            name=f"{name}_suite",
            expectations=[getattr(gxe, e.kind)(**e.kwargs) for e in expectations],
        )
    )
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(name=f"{name}_validation", data=batch, suite=suite)
    )
    result = definition.run(batch_parameters={"dataframe": frame}, result_format="SUMMARY")
    failed = []
    for item in result.results:
        if item.success:
            continue
        config = item.expectation_config
        failed.append(
            {
                "expectation": config.type,
                "column": config.kwargs.get("column") or config.kwargs.get("column_A"),
                "unexpected_count": item.result.get("unexpected_count"),
                "examples": [
                    str(v) for v in (item.result.get("partial_unexpected_list") or [])[:5]
                ],
            }
        )
    return SuiteOutcome(
        success=bool(result.success),
        evaluated=len(result.results),
        failed=failed,
        rows_checked=len(frame),
    )
