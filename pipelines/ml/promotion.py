"""The champion/challenger decision: a pure function, so the rule is explicit and tested.

A challenger replaces the champion only when it is better on the primary metric by a margin,
the gain is beyond the noise of the evaluation (the interval of the paired per-user difference
lies above zero), and it does not regress the guard metrics; the first model needs an absolute
floor instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

PRIMARY_METRIC = "ndcg@k"
GUARD_METRICS = ("coverage", "recall@k")


@dataclass(frozen=True)
class PromotionDecision:
    promote: bool
    reason: str


def decide_promotion(
    challenger: Mapping[str, float],
    champion: Mapping[str, float] | None,
    *,
    margin: float,
    floor: float,
    guard_tolerance: float = 0.05,
    primary: str = PRIMARY_METRIC,
    guards: tuple[str, ...] = GUARD_METRICS,
    difference_interval: tuple[float, float] | None = None,
) -> PromotionDecision:
    """Whether ``challenger`` should become champion, with the reason in words.

    ``margin`` is relative (0.02 = 2 % better on ``primary``); a guard metric may drop by at most
    ``guard_tolerance`` relative to the champion's. Both sets of metrics must come from the same
    hold-out and users, or the comparison means nothing. ``difference_interval`` is the
    interval of the per-user challenger − champion difference of ``primary``: when given, its
    lower end must be above zero.
    """
    value = challenger.get(primary)
    if value is None or value != value:  # NaN: evaluation failed
        return PromotionDecision(False, f"challenger has no {primary}: evaluation failed")
    if champion is None:
        if value >= floor:
            return PromotionDecision(True, f"first model: {primary} {value:.4f} >= floor {floor}")
        return PromotionDecision(False, f"first model: {primary} {value:.4f} < floor {floor}")
    incumbent = champion.get(primary, 0.0)
    needed = incumbent * (1 + margin)
    if value <= needed:
        return PromotionDecision(
            False,
            f"{primary} {value:.4f} does not beat champion {incumbent:.4f} by margin {margin:.0%}",
        )
    if difference_interval is not None and not difference_interval[0] > 0:
        low, high = difference_interval
        return PromotionDecision(
            False,
            f"{primary} {value:.4f} vs champion {incumbent:.4f}: the per-user difference's 95 % "
            f"interval [{low:+.4f}, {high:+.4f}] includes zero, within the evaluation's noise",
        )
    for guard in guards:
        if guard not in challenger or guard not in champion:
            continue
        if challenger[guard] < champion[guard] * (1 - guard_tolerance):
            return PromotionDecision(
                False,
                f"{guard} regresses: {challenger[guard]:.4f} < champion {champion[guard]:.4f}",
            )
    beyond = (
        f", per-user difference interval [{difference_interval[0]:+.4f}, "
        f"{difference_interval[1]:+.4f}]"
        if difference_interval is not None
        else ""
    )
    return PromotionDecision(
        True,
        f"{primary} {value:.4f} beats champion {incumbent:.4f} by more than {margin:.0%}{beyond}",
    )
