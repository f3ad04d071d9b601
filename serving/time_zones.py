"""Time zone names the API accepts: IANA zones that both Python and PostgreSQL know."""

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


def known_time_zone(name: str) -> str:
    """``name`` if it is an IANA zone of a place (or UTC); a ValueError saying so otherwise."""
    if name not in _zones():
        raise ValueError("must be an IANA time zone such as Europe/Berlin or UTC")
    return name
