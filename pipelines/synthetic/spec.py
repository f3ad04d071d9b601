"""What to generate: the size, the seed and the clock of the synthetic world."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta

# Named sizes: (users, events, interactions, days of history).
SIZES: dict[str, tuple[int, int, int, int]] = {
    "small": (2_000, 500, 100_000, 120),
    "medium": (100_000, 20_000, 5_000_000, 180),
    "large": (1_000_000, 100_000, 50_000_000, 365),
}


def today_utc_midnight() -> datetime:
    """Start of the current UTC day: the default "now", so re-running on the same day is stable."""
    return datetime.combine(datetime.now(UTC).date(), time(0), tzinfo=UTC)


@dataclass(frozen=True)
class GenerationSpec:
    """Parameters of one synthetic world; equal specs give byte-identical outputs.

    ``now`` is the clock of the world: about two thirds of the events start before it and no
    interaction happens after it. Interactions cover the ``days`` days before ``now``. Giving
    ``start`` instead pins the first day of history, and ``now`` becomes ``start + days``.
    """

    users: int = SIZES["small"][0]
    events: int = SIZES["small"][1]
    interactions: int = SIZES["small"][2]
    seed: int = 42
    days: int = SIZES["small"][3]
    now: datetime | None = None
    start: date | None = None
    partner_feed_share: float = 0.1
    chunk_rows: int = field(default=2_000_000, repr=False)

    def __post_init__(self) -> None:
        if self.users < 1 or self.events < 1:
            raise ValueError("a world needs at least one user and one event")
        if self.interactions < 0:
            raise ValueError("interactions must be >= 0")
        if self.days < 1:
            raise ValueError("days must be >= 1")
        if not 0.0 <= self.partner_feed_share < 1.0:
            raise ValueError("partner_feed_share must be in [0, 1)")
        if self.chunk_rows < 1000:
            raise ValueError("chunk_rows must be >= 1000")
        if self.start is not None and self.now is not None:
            expected = datetime.combine(self.start, time(0), tzinfo=UTC) + timedelta(self.days)
            if self.now.astimezone(UTC) != expected:
                raise ValueError("give either start or now, or make now = start + days")
        if self.now is None:
            now = (
                datetime.combine(self.start, time(0), tzinfo=UTC) + timedelta(self.days)
                if self.start is not None
                else today_utc_midnight()
            )
        else:
            if self.now.tzinfo is None:
                raise ValueError("now must be timezone-aware")
            now = self.now.astimezone(UTC).replace(microsecond=0)
        object.__setattr__(self, "now", now)

    @classmethod
    def of_size(cls, size: str, **overrides: object) -> GenerationSpec:
        """A spec for one of the named sizes, with any field overridden."""
        users, events, interactions, days = SIZES[size]
        values: dict[str, object] = {
            "users": users,
            "events": events,
            "interactions": interactions,
            "days": days,
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]

    @property
    def now_s(self) -> int:
        """``now`` as Unix seconds (the generator works in integer seconds throughout)."""
        assert self.now is not None
        return int(self.now.timestamp())

    @property
    def window_start_s(self) -> int:
        """First second of the interaction history."""
        return self.now_s - self.days * 86_400

    def with_seed(self, seed: int) -> GenerationSpec:
        """The same world shape under another seed."""
        return replace(self, seed=seed)
