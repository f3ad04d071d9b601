"""The listener that keeps the workers' caches honest: changes announced by the database.

Triggers (migrations 0006 and 0012) and the serving swap announce on
:data:`~core.contracts.RECOMMENDATIONS_CHANGED_CHANNEL` every change that a cached answer or
account may depend on. Each worker listens on one dedicated connection and hands every message
to each of its caches (:mod:`serving.answer_cache`, :mod:`serving.account_cache`); while it is
not connected, the caches answer nothing, since a change could go unheard.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Protocol

import psycopg

from core.contracts import RECOMMENDATIONS_CHANGED_CHANNEL

log = logging.getLogger("serving.changes")


class ChangeSubscriber(Protocol):
    """A cache that drops what a change message concerns."""

    def apply(self, payload: str) -> None: ...
    def start_listening(self) -> None: ...
    def stop_listening(self) -> None: ...


async def listen_for_changes(
    subscribers: Sequence[ChangeSubscriber], conninfo: str, *, retry_seconds: float = 1.0
) -> None:
    """Apply the channel's messages to ``subscribers`` until cancelled, reconnecting after failures.

    Runs for the app's lifetime on a connection of its own (a pooled one would be handed to
    requests).
    """
    while True:
        try:
            conn = await psycopg.AsyncConnection.connect(
                conninfo, autocommit=True, connect_timeout=3
            )
            async with conn:
                await conn.execute(f"LISTEN {RECOMMENDATIONS_CHANGED_CHANNEL}")
                for subscriber in subscribers:
                    subscriber.start_listening()
                async for message in conn.notifies():
                    for subscriber in subscribers:
                        subscriber.apply(message.payload)
        except psycopg.Error as error:
            log.warning("change listener disconnected: %s", error)
        finally:
            for subscriber in subscribers:
                subscriber.stop_listening()
        await asyncio.sleep(retry_seconds)
