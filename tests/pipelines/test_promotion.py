"""The champion/challenger rule, case by case."""

from __future__ import annotations

from pipelines.ml.promotion import decide_promotion


def test_first_model_needs_the_floor() -> None:
    assert decide_promotion({"ndcg@k": 0.2}, None, margin=0.0, floor=0.1).promote
    decision = decide_promotion({"ndcg@k": 0.05}, None, margin=0.0, floor=0.1)
    assert not decision.promote
    assert "floor" in decision.reason


def test_challenger_must_beat_champion_by_margin() -> None:
    champion = {"ndcg@k": 0.30, "coverage": 0.5}
    assert not decide_promotion(
        {"ndcg@k": 0.305, "coverage": 0.5}, champion, margin=0.02, floor=0
    ).promote
    assert decide_promotion(
        {"ndcg@k": 0.31, "coverage": 0.5}, champion, margin=0.02, floor=0
    ).promote


def test_guard_metric_regression_blocks_promotion() -> None:
    champion = {"ndcg@k": 0.30, "coverage": 0.5}
    decision = decide_promotion({"ndcg@k": 0.40, "coverage": 0.2}, champion, margin=0.0, floor=0)
    assert not decision.promote
    assert decision.reason.startswith("coverage regresses")


def test_failed_evaluation_is_never_promoted() -> None:
    assert not decide_promotion({"ndcg@k": float("nan")}, None, margin=0.0, floor=0.0).promote
    assert not decide_promotion({}, None, margin=0.0, floor=0.0).promote


def test_a_gain_within_the_noise_is_not_promoted() -> None:
    champion = {"ndcg@k": 0.30}
    challenger = {"ndcg@k": 0.33}
    noisy = decide_promotion(
        challenger, champion, margin=0.02, floor=0, difference_interval=(-0.01, 0.07)
    )
    assert not noisy.promote
    assert "includes zero" in noisy.reason
    clear = decide_promotion(
        challenger, champion, margin=0.02, floor=0, difference_interval=(0.01, 0.05)
    )
    assert clear.promote
    assert "[+0.0100, +0.0500]" in clear.reason
