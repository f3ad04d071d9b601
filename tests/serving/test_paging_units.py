"""Pure rules under the event API: cursors, conditional reads, follows in recommendations."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest

from serving.cursors import decode_cursor, encode_cursor
from serving.errors import ApiError
from serving.follows import interleave_followed
from serving.http_cache import body_etag, matches_if_none_match


def test_a_cursor_round_trips_its_key() -> None:
    moment = datetime(2027, 3, 1, 9, 30, tzinfo=UTC)
    token = encode_cursor("price", [None, moment, 42])
    assert decode_cursor(token, "price", (float, datetime, int)) == [None, moment, 42]
    assert decode_cursor(encode_cursor("price", [12, moment, 1]), "price", (float, datetime, int))[
        0
    ] == pytest.approx(12.0)


def _raw(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


@pytest.mark.parametrize(
    "token",
    [
        encode_cursor("date", [datetime(2027, 1, 1, tzinfo=UTC), 1]),  # another order
        encode_cursor("price", ["ten", datetime(2027, 1, 1, tzinfo=UTC), 1]),
        encode_cursor("price", [1.0, datetime(2027, 1, 1, tzinfo=UTC), True]),
        _raw('["price", 1.0, {"t": "2027-01-01T00:00:00+00:00"}, 123456789012345678901234]'),
        encode_cursor("price", [1.0, {"t": "2027-01-01T00:00:00"}, 1]),  # naive time
        encode_cursor("price", [1.0]),
        "not base64 at all",
    ],
)
def test_a_cursor_of_another_order_or_shape_is_refused(token: str) -> None:
    with pytest.raises(ApiError) as refused:
        decode_cursor(token, "price", (float, datetime, int))
    assert refused.value.status_code == 422


def test_tags_are_compared_weakly_and_lists_are_read() -> None:
    tag = body_etag(b"{}", version=3)
    assert tag.startswith('"3-')
    assert matches_if_none_match(f'"x", W/{tag}', tag)
    assert matches_if_none_match("*", tag)
    assert not matches_if_none_match('"3-0000"', tag)
    assert not matches_if_none_match(None, tag)


def _row(event_id: int, score: float = 0.0) -> tuple[int, str, float, str, str]:
    return (event_id, "v", score, "r", "m")


def test_followed_events_take_every_third_place_and_the_score_before_them() -> None:
    personal = [_row(i, 1 - i / 10) for i in range(1, 8)]
    followed = [_row(100), _row(3), _row(101), _row(102)]
    merged = interleave_followed(personal, followed, 7)
    assert [row[0] for row in merged] == [1, 2, 100, 3, 4, 101, 5]
    assert merged[2][2] == merged[1][2]


def test_followed_events_fill_in_when_the_model_has_too_few() -> None:
    merged = interleave_followed([_row(1)], [_row(100), _row(101), _row(102)], 6)
    assert [row[0] for row in merged] == [1, 100, 101]
    assert interleave_followed([], [], 5) == []
