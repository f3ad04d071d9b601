"""Keys of the assets that more than one domain names (as a dependency or in a selection)."""

import dagster as dg

RAW_USERS = dg.AssetKey(["raw", "users"])
RAW_EVENTS = dg.AssetKey(["raw", "events"])
RAW_INTERACTIONS = dg.AssetKey(["raw", "interactions"])
RAW_REGISTRATIONS = dg.AssetKey(["raw", "registrations"])
RAW_FEEDBACK = dg.AssetKey(["raw", "recommendation_feedback"])
RAW_FOLLOWS = dg.AssetKey(["raw", "organizer_follows"])
APP_CATALOGUE = dg.AssetKey(["app", "catalogue"])
APP_FOLLOWS = dg.AssetKey(["app", "organizer_follows"])
RAW_QUARANTINE = dg.AssetKey(["raw", "quarantine"])
