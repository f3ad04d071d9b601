"""Recommendation answers kept in each worker's memory, dropped when what they show changes.

An answer of ``GET /recommendations/events`` is a function of slowly changing state: the
published sets (swapped by the batch), the events, the places taken per event, and the user's
own registrations, dismissals and profile. Triggers (migration 0006) and the serving swap
announce every change of that state; each worker's listener (:mod:`serving.changes`) hands
every message to this cache, which drops what the message concerns:

* ``u:<id>``: the answers of that user;
* ``x:<id>``: the answers showing that event (a place was taken; it may now be full);
* ``*``: every answer (events edited, places freed, sets swapped).

Consistency: the cache answers only while the listener is connected (a change could otherwise go
unnoticed) and never after the first of an answer's events has started or its TTL has passed.
A worker drops the answers its own writes affect before answering the write, so a client reads
its own writes; a write through another worker is seen once its message arrives, normally well
under a millisecond after the commit. An answer computed while a change arrived is not stored
(see :meth:`AnswerCache.ticket`).
"""

from __future__ import annotations

import time
from collections.abc import Hashable, Iterable
from dataclasses import dataclass

from starlette.requests import Request

# The number of users whose change counts are remembered; beyond it they are forgotten and the
# global epoch moves on instead (see ``ticket``).
MAX_TRACKED_USERS = 10_000


@dataclass(slots=True, frozen=True)
class Ticket:
    """What a request saw before computing an answer: stored only if nothing changed since."""

    epoch: int
    user_changes: int


@dataclass(slots=True)
class _Answer:
    body: bytes
    user_id: int
    event_ids: tuple[int, ...]
    expires_at: float  # time.monotonic()
    first_start: float  # epoch seconds: not served once the first shown event has started


class AnswerCache:
    """Rendered answers by request key, with the indexes needed to drop them on a change."""

    def __init__(self, ttl: float = 30.0, max_entries: int = 100_000) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self.listening = False
        self.hits = 0
        self.misses = 0
        self._answers: dict[Hashable, _Answer] = {}
        self._keys_by_user: dict[int, set[Hashable]] = {}
        self._keys_by_event: dict[int, set[Hashable]] = {}
        self._epoch = 0
        self._user_changes: dict[int, int] = {}

    @property
    def enabled(self) -> bool:
        return self.ttl > 0 and self.listening

    def __len__(self) -> int:
        return len(self._answers)

    def get(self, key: Hashable) -> bytes | None:
        """The stored answer for ``key`` if it may still be served."""
        answer = self._answers.get(key) if self.enabled else None
        if answer is not None and (
            time.monotonic() >= answer.expires_at or time.time() >= answer.first_start
        ):
            self._drop(key)
            answer = None
        if answer is None:
            self.misses += 1
            return None
        self.hits += 1
        return answer.body

    def ticket(self, user_id: int) -> Ticket:
        """Taken before reading the database for an answer of ``user_id``.

        A change announced while the answer is computed may or may not be reflected in what
        the database returned; :meth:`put` refuses such an answer rather than keep it.
        """
        return Ticket(self._epoch, self._user_changes.get(user_id, 0))

    def put(
        self,
        key: Hashable,
        ticket: Ticket,
        *,
        user_id: int,
        body: bytes,
        event_ids: Iterable[int],
        first_start: float,
    ) -> None:
        """Keep ``body`` as the answer for ``key`` unless a change arrived after ``ticket``."""
        if not self.enabled or ticket != self.ticket(user_id):
            return
        if len(self._answers) >= self.max_entries:
            self._clear()
        self._drop(key)
        ids = tuple(event_ids)
        self._answers[key] = _Answer(body, user_id, ids, time.monotonic() + self.ttl, first_start)
        self._keys_by_user.setdefault(user_id, set()).add(key)
        for event_id in ids:
            self._keys_by_event.setdefault(event_id, set()).add(key)

    def user_changed(self, user_id: int) -> None:
        """Drop the answers of ``user_id`` (their registrations, dismissals or profile changed)."""
        if len(self._user_changes) >= MAX_TRACKED_USERS:
            self._user_changes.clear()
            self._epoch += 1
        self._user_changes[user_id] = self._user_changes.get(user_id, 0) + 1
        for key in self._keys_by_user.pop(user_id, ()):
            self._drop(key)

    def event_filled(self, event_id: int) -> None:
        """Drop the answers showing ``event_id``: a place was taken, it may be full now."""
        self._epoch += 1
        for key in self._keys_by_event.pop(event_id, ()):
            self._drop(key)

    def everything_changed(self) -> None:
        """Drop every answer."""
        self._epoch += 1
        self._clear()

    def apply(self, payload: str) -> None:
        """Act on one message of the channel (see the module docstring for the payloads)."""
        kind, _, value = payload.partition(":")
        if kind == "u" and value.isdigit():
            self.user_changed(int(value))
        elif kind == "x" and value.isdigit():
            self.event_filled(int(value))
        else:
            self.everything_changed()

    def start_listening(self) -> None:
        """The listener is connected: changes are heard from now on, none missed before."""
        self.everything_changed()
        self.listening = True

    def stop_listening(self) -> None:
        """The listener lost its connection: changes may go unheard, answer nothing."""
        self.listening = False
        self.everything_changed()

    def _drop(self, key: Hashable) -> None:
        answer = self._answers.pop(key, None)
        if answer is None:
            return
        keys = self._keys_by_user.get(answer.user_id)
        if keys is not None:
            keys.discard(key)
            if not keys:
                del self._keys_by_user[answer.user_id]
        for event_id in answer.event_ids:
            keys = self._keys_by_event.get(event_id)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._keys_by_event[event_id]

    def _clear(self) -> None:
        self._answers.clear()
        self._keys_by_user.clear()
        self._keys_by_event.clear()


def recommendation_answers(request: Request) -> AnswerCache:
    """The worker's answer cache, for handlers whose writes change recommendation answers."""
    return request.app.state.recommendation_answers  # type: ignore[no-any-return]
