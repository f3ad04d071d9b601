"""The attributes every asset shows in the Dagster UI, decided in one place from its group.

Owners, a domain tag and a default kind follow from the asset's group, so an asset added to a
domain gets them without repeating them; descriptions lose reStructuredText's double backticks,
since the UI renders Markdown.
"""

import re

import dagster as dg

OWNERS = {
    "ingest": "team:data-engineering",
    "quality": "team:data-engineering",
    "curation": "team:ml",
    "transform": "team:analytics",
    "ml": "team:ml",
    "serving": "team:ml",
}
# Every asset of these groups writes PostgreSQL tables; an asset naming its own kinds keeps them.
DEFAULT_KINDS = {"postgres"}


# A pair of backticks that is not part of a longer run: Markdown's code fences stay as they are.
_DOUBLE_BACKTICKS = re.compile(r"(?<!`)``(?!`)")


def markdown(text: str | None) -> str | None:
    """``text`` with reStructuredText's double backticks as Markdown's single ones."""
    return _DOUBLE_BACKTICKS.sub("`", text) if text else text


def platform_spec(spec: dg.AssetSpec) -> dg.AssetSpec:
    """``spec`` with its group's owner and domain tag, a kind, and a Markdown description."""
    group = spec.group_name or "default"
    return spec.replace_attributes(
        owners=list(spec.owners) or [OWNERS.get(group, "team:data-engineering")],
        description=markdown(spec.description),
    ).merge_attributes(
        tags={"domain": group},
        kinds=set() if spec.kinds else DEFAULT_KINDS,
    )
