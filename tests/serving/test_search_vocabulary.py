"""The words a search process remembers as the catalogue's (pure, no database)."""

from __future__ import annotations

from serving.search_vocabulary import KnownWords


def test_remembered_words_are_not_asked_about_again() -> None:
    known = KnownWords()
    assert known.unknown(["jazz", "pyhton", "jazz"]) == ["jazz", "pyhton", "jazz"]
    known.remember(["jazz"])
    assert known.unknown(["jazz", "pyhton"]) == ["pyhton"]
    assert "jazz" in known


def test_the_set_stops_growing_at_its_bound() -> None:
    known = KnownWords(max_words=2)
    known.remember(["a1", "b2", "c3"])
    assert known.unknown(["a1", "b2", "c3"]) == ["c3"]
