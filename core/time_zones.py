"""Time zone names events may carry: IANA zones of places (and UTC), for the API and ingest."""

from __future__ import annotations

import functools
import zoneinfo

# Legacy aliases and fixed offsets are valid names but not places; clients get a real zone.
_NOT_PLACES = ("Etc/", "SystemV/", "posix/", "right/")


@functools.cache
def _zones() -> frozenset[str]:
    return frozenset(
        zone
        for zone in zoneinfo.available_timezones()
        if zone == "UTC" or ("/" in zone and not zone.startswith(_NOT_PLACES))
    )


def time_zone_names() -> frozenset[str]:
    """Every accepted name: for vectorised checks over a column."""
    return _zones()


def known_time_zone(name: str) -> str:
    """``name`` if it is an IANA zone of a place (or UTC); a ValueError saying so otherwise."""
    if name not in _zones():
        raise ValueError("must be an IANA time zone such as Europe/Berlin or UTC")
    return name
