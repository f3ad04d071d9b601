"""Each worker's memory of accounts (role and token version), dropped when an account changes.

Tokens are checked against the account on every request, so that a demoted, deleted or logged
out account loses its rights at once rather than when its token expires. Reading the account
for every request would add a query to each cached read; instead each worker keeps what it read
and drops it when the account's change is announced on the channel of
:mod:`serving.changes` (``u:<id>`` for that user, ``*`` for everyone; triggers of migrations
0006 and 0012 announce every update and deletion of ``app.users``).

Like the answer cache, it is trusted only while the listener is connected, and an account read
while a change of it arrived is not kept (see :meth:`AccountCache.ticket`).
"""

from __future__ import annotations

from dataclasses import dataclass

from psycopg import AsyncConnection
from psycopg.rows import tuple_row


@dataclass(frozen=True, slots=True)
class Account:
    """What a token is checked against: the current role and token version."""

    role: str
    token_version: int


ACCOUNT_SQL = "SELECT role, token_version FROM app.users WHERE id = %(id)s"


class AccountCache:
    """Accounts by user id, valid while the change listener is connected."""

    def __init__(self, max_entries: int = 100_000) -> None:
        self.max_entries = max_entries
        self.listening = False
        self._accounts: dict[int, Account] = {}
        self._changes = 0

    def __len__(self) -> int:
        return len(self._accounts)

    def get(self, user_id: int) -> Account | None:
        """The account as last read, when it may be trusted."""
        return self._accounts.get(user_id) if self.listening else None

    def ticket(self) -> int:
        """Taken before reading an account: :meth:`put` refuses it if anything changed since."""
        return self._changes

    def put(self, user_id: int, account: Account, ticket: int) -> None:
        if not self.listening or ticket != self._changes:
            return
        if len(self._accounts) >= self.max_entries:
            self._accounts.clear()
        self._accounts[user_id] = account

    def user_changed(self, user_id: int) -> None:
        self._changes += 1
        self._accounts.pop(user_id, None)

    def everything_changed(self) -> None:
        self._changes += 1
        self._accounts.clear()

    def apply(self, payload: str) -> None:
        """Act on one message of the change channel; only account changes concern accounts."""
        kind, _, value = payload.partition(":")
        if kind == "u" and value.isdigit():
            self.user_changed(int(value))
        elif kind != "x":
            self.everything_changed()

    def start_listening(self) -> None:
        self.everything_changed()
        self.listening = True

    def stop_listening(self) -> None:
        self.listening = False
        self.everything_changed()


async def read_account(conn: AsyncConnection, user_id: int) -> Account | None:
    """The account of ``user_id`` from the database; ``None`` when it does not exist."""
    cur = conn.cursor(row_factory=tuple_row)
    await cur.execute(ACCOUNT_SQL, {"id": user_id})
    row = await cur.fetchone()
    return Account(row[0], row[1]) if row is not None else None
