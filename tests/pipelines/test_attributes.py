"""The attributes set on every asset from its group."""

import dagster as dg

from pipelines.kernel.attributes import markdown, platform_spec


def test_double_backticks_become_markdown_code() -> None:
    assert markdown("rows of ``raw.events``") == "rows of `raw.events`"


def test_code_fences_are_left_as_they_are() -> None:
    text = "Raw SQL:\n```sql\nselect ``x``\n```"
    assert markdown(text) == "Raw SQL:\n```sql\nselect `x`\n```"


def test_a_spec_gets_its_groups_owner_domain_and_a_default_kind() -> None:
    spec = platform_spec(dg.AssetSpec("x", group_name="ingest", description="``raw.x``"))
    assert (spec.owners, spec.tags, spec.kinds, spec.description) == (
        ["team:data-engineering"],
        {"domain": "ingest", "dagster/kind/postgres": ""},
        {"postgres"},
        "`raw.x`",
    )


def test_a_spec_keeps_its_own_owner_and_kinds() -> None:
    spec = platform_spec(
        dg.AssetSpec("x", group_name="ml", owners=["team:search"], kinds={"mlflow"})
    )
    assert (spec.owners, spec.kinds) == (["team:search"], {"mlflow"})
