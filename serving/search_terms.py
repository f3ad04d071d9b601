"""What a search box's text asks for, and the ``tsquery`` texts that find it (pure functions).

People type words, not a query language: every word is looked for on its own and an event
matching more of them ranks higher (no word is required), a word may be misspelt (it also
matches the catalogue's words that look like it) or cut short (a word the catalogue does not
have matches as a prefix too; a catalogue word matches as itself, which keeps the text index's
work small; as-you-type prefixes are the autocomplete's job). Two
operators are kept from web search: ``"a phrase"`` must appear as written, and ``-word`` right
before a word leaves out events that have it. A dash between spaces ("Opening Night - Design
Exhibition") is punctuation, not an exclusion.

Words reach ``to_tsquery`` only as runs of letters and digits, so nothing typed can change the
query's syntax.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations
from math import comb

MAX_WORDS = 10
# Shorter words are matched as typed: a typo of two letters is another word. From four letters a
# word may have one typo, from five two (a swap of two letters counts as two).
MIN_TYPO_LENGTH = 4
TWO_TYPOS_LENGTH = 5
# Words shorter than this are not prefixes of anything useful ("a*").
MIN_PREFIX_LENGTH = 3
# Stricter matches tried before any word: every word, then all but one word, while such a
# level (an OR of ANDs) has at most this many terms; the text index's work grows with them.
MAX_LEVEL_TERMS = 12

_WORD = re.compile(r"[^\W_]+")
_PHRASE = re.compile(r'"([^"]*)"')
_EXCLUDED = re.compile(r"(?:^|(?<=\s))-([^\W_]+)")


@dataclass(frozen=True)
class SearchTerms:
    """The parts of a query: ``words`` (lower case, in order, each once), ``phrases`` (each a
    tuple of words) and ``excluded`` words."""

    words: tuple[str, ...]
    phrases: tuple[tuple[str, ...], ...]
    excluded: tuple[str, ...]

    @property
    def empty(self) -> bool:
        return not (self.words or self.phrases)


def _words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text)]


def _unique(words: Sequence[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(words))


def parse_search(text: str) -> SearchTerms:
    """Split ``text`` into words, quoted phrases and ``-excluded`` words."""
    phrases = [tuple(_words(p)) for p in _PHRASE.findall(text)]
    rest = _PHRASE.sub(" ", text)
    excluded = [w.lower() for w in _EXCLUDED.findall(rest)]
    rest = _EXCLUDED.sub(" ", rest)
    phrase_words = [w for phrase in phrases for w in phrase]
    words = _unique([*phrase_words, *_words(rest)])[:MAX_WORDS]
    return SearchTerms(
        words=words,
        phrases=tuple(p for p in phrases if p),
        excluded=_unique(excluded),
    )


def may_be_prefix(word: str) -> bool:
    """Whether a word is long enough to match as the start of longer words."""
    return len(word) >= MIN_PREFIX_LENGTH and not word.isdigit()


def word_query(
    word: str, corrections: Sequence[str] = (), weights: str = "", prefix: bool = True
) -> str:
    """The ``tsquery`` text matching ``word`` (as a prefix when ``prefix`` and long enough) or
    any of its ``corrections``; ``weights`` (e.g. ``"A"``) restricts it to those parts of the
    document."""
    tail = f":{weights}" if weights else ""
    typed = f"{word}:*{weights}" if prefix and may_be_prefix(word) else f"{word}{tail}"
    alternatives = [typed, *(f"{c}{tail}" for c in corrections if c != word)]
    return "(" + " | ".join(alternatives) + ")"


@dataclass(frozen=True)
class QueryTexts:
    """The ``tsquery`` texts of one search, for ``to_tsquery('english', ...)``.

    ``groups``: one per word (the word, its prefix or a correction); ``exact``: the words as
    typed; ``title``: the groups restricted to titles; ``any``: what a match must have (one
    group at least, every phrase, no excluded word), or None when nothing was asked;
    ``levels``: stricter matches to try first (every word, then all but one, never fewer than
    two, while they stay small queries), each with the phrases and exclusions of ``any``.
    ``corrected``: whether a word was matched through a correction only.
    """

    groups: tuple[str, ...]
    exact: tuple[str, ...]
    title: tuple[str, ...]
    any: str | None
    levels: tuple[str, ...]
    corrected: bool


def query_texts(
    terms: SearchTerms,
    corrections: Mapping[str, Sequence[str]],
    known: Collection[str] = (),
) -> QueryTexts:
    """The ``tsquery`` texts of ``terms``, each word widened by its ``corrections``; a word in
    ``known`` (the catalogue has it) does not match as a prefix."""
    prefixes = {w: w not in known for w in terms.words}
    groups = tuple(word_query(w, corrections.get(w, ()), prefix=prefixes[w]) for w in terms.words)
    title = tuple(
        word_query(w, corrections.get(w, ()), "A", prefix=prefixes[w]) for w in terms.words
    )
    exact = tuple(f"({w})" for w in terms.words)
    required = [f"({' <-> '.join(phrase)})" for phrase in terms.phrases]
    rest = [*required, *(f"!{w}" for w in terms.excluded)]

    def with_rest(words: str) -> str:
        return " & ".join([words, *rest])

    levels = tuple(
        with_rest(
            "(" + " | ".join("(" + " & ".join(c) + ")" for c in combinations(groups, k)) + ")"
        )
        for k in (len(groups), len(groups) - 1)
        if k >= 2 and k * comb(len(groups), k) <= MAX_LEVEL_TERMS
    )
    if groups:
        any_text: str | None = with_rest("(" + " | ".join(groups) + ")")
    else:
        any_text = " & ".join(rest) if required else None
    return QueryTexts(
        groups=groups,
        exact=exact,
        title=title,
        any=any_text,
        levels=levels,
        corrected=any(corrections.get(w) for w in terms.words),
    )
