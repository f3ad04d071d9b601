"""Parsing a search box's text into words, phrases and exclusions (pure, no database)."""

from __future__ import annotations

from serving.search_terms import may_be_prefix, parse_search, query_texts, word_query


def test_a_dash_between_spaces_is_punctuation_and_one_before_a_word_excludes() -> None:
    terms = parse_search("Opening Night - Design Exhibition -kids")
    assert terms.words == ("opening", "night", "design", "exhibition")
    assert terms.excluded == ("kids",)


def test_phrases_words_and_duplicates() -> None:
    terms = parse_search('"Tech  Conference" tech berlin Berlin')
    assert terms.phrases == (("tech", "conference"),)
    assert terms.words == ("tech", "conference", "berlin")


def test_nothing_typed_can_change_the_query_syntax() -> None:
    terms = parse_search("a & b | !c <-> d:* 'e' (f)")
    assert terms.words == ("a", "b", "c", "d", "e", "f")
    texts = query_texts(terms, {})
    assert texts.any is not None
    assert set(texts.any) <= set("abcdef:*()|&! ")


def test_word_queries_take_prefixes_corrections_and_weights() -> None:
    assert word_query("pyhton", ["python"]) == "(pyhton:* | python)"
    assert word_query("pyhton", ["python"], "A") == "(pyhton:*A | python:A)"
    assert word_query("ai") == "(ai)"
    assert word_query("2026") == "(2026)"


def test_short_words_and_numbers_are_not_prefixes() -> None:
    assert not may_be_prefix("ai")
    assert not may_be_prefix("2026")
    assert may_be_prefix("art")
    # A catalogue word matches as itself, another word as a prefix too.
    texts = query_texts(parse_search("jazz quartt"), {}, known={"jazz"})
    assert texts.groups == ("(jazz)", "(quartt:*)")


def test_a_correction_makes_the_search_fuzzy_and_exclusions_apply() -> None:
    texts = query_texts(parse_search("pyhton meetup -online"), {"pyhton": ["python"]})
    assert texts.corrected
    assert texts.any == "((pyhton:* | python) | (meetup:*)) & !online"
    assert texts.exact == ("(pyhton)", "(meetup)")
    assert not query_texts(parse_search("python"), {}).corrected
    assert query_texts(parse_search("-online"), {}).any is None


def test_stricter_levels_come_first_and_keep_phrases_and_exclusions() -> None:
    texts = query_texts(parse_search("jazz night berlin -online"), {})
    assert texts.levels == (
        "(((jazz:*) & (night:*) & (berlin:*))) & !online",
        "(((jazz:*) & (night:*)) | ((jazz:*) & (berlin:*)) | ((night:*) & (berlin:*))) & !online",
    )
    assert query_texts(parse_search("jazz night"), {}).levels == ("(((jazz:*) & (night:*)))",)
    assert query_texts(parse_search("jazz"), {}).levels == ()
    # Long queries keep the every-word level only: all-but-one would be a large query.
    assert len(query_texts(parse_search("a1 b2 c3 d4 e5 f6"), {}).levels) == 1
