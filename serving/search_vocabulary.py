"""The catalogue's words the search already knows to be there, kept in the process.

A search asks the database whether each of its words is a catalogue word (one matches as
itself; another as a prefix and through its corrections). ``app.search_words`` only ever gains
words (see migration 0018), so a word once known stays known: the words seen to be there are
remembered here, and a query made only of them needs no round trip for its corrections. A word
not remembered is asked about, which is always right, only slower.
"""

from __future__ import annotations

from collections.abc import Iterable

# Beyond this many remembered words, new ones are not added (the set is a shortcut, not a copy
# of the table; a very large catalogue keeps its commonest words, as they are the ones asked).
MAX_WORDS = 200_000


class KnownWords:
    """Catalogue words known to exist (a monotonic set: ``app.search_words`` never forgets)."""

    def __init__(self, max_words: int = MAX_WORDS) -> None:
        self._words: set[str] = set()
        self.max_words = max_words

    def unknown(self, words: Iterable[str]) -> list[str]:
        """The ``words`` not known to be catalogue words, in order."""
        return [w for w in words if w not in self._words]

    def remember(self, words: Iterable[str]) -> None:
        """Note ``words`` as catalogue words (the database said so)."""
        for word in words:
            if len(self._words) >= self.max_words:
                return
            self._words.add(word)

    def __contains__(self, word: object) -> bool:
        return word in self._words
