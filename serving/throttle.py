"""Login throttling by account and client together, and the client address behind proxies.

Following OWASP's authentication guidance, failures are counted per (account, client) pair, so
that someone guessing an account's password from one place does not lock its owner out from
another:

* 5 failures for one account from one client within the window: that pair waits;
* 100 failures from one client across accounts (password spraying): that client waits;
* 50 failures for one account across clients (a distributed attack): the account waits, except
  for clients that logged into it successfully before, so the owner's own devices keep working.

Counters live in each worker's memory: enough to make online guessing slow. Behind several hosts
a shared store (the database or a cache) would hold them instead.
"""

from __future__ import annotations

import ipaddress
import time
from collections import OrderedDict
from collections.abc import Iterable

PAIR_LIMIT = 5
CLIENT_LIMIT = 100
ACCOUNT_LIMIT = 50
WINDOW_SECONDS = 300.0
MAX_KEYS = 100_000
MAX_KNOWN_CLIENTS = 100_000


class FailureCounter:
    """Failure times per key within a sliding window."""

    def __init__(self, limit: int, window_seconds: float) -> None:
        self.limit = limit
        self.window_seconds = window_seconds
        self._failures: dict[str, list[float]] = {}

    def _recent(self, key: str, now: float) -> list[float]:
        kept = [t for t in self._failures.get(key, ()) if now - t < self.window_seconds]
        if kept:
            self._failures[key] = kept
        else:
            self._failures.pop(key, None)
        return kept

    def retry_after(self, key: str, now: float) -> float:
        """Seconds until ``key`` may try again; 0 when it may now."""
        recent = self._recent(key, now)
        if len(recent) < self.limit:
            return 0.0
        return self.window_seconds - (now - recent[-self.limit])

    def failed(self, key: str, now: float) -> None:
        if len(self._failures) >= MAX_KEYS:  # bounds memory under a spray of random e-mails
            self._failures.clear()
        self._failures.setdefault(key, []).append(now)

    def forget(self, key: str) -> None:
        self._failures.pop(key, None)


class LoginThrottle:
    """Decides whether a login attempt may go ahead, and learns from its outcome."""

    def __init__(
        self,
        pair_limit: int = PAIR_LIMIT,
        client_limit: int = CLIENT_LIMIT,
        account_limit: int = ACCOUNT_LIMIT,
        window_seconds: float = WINDOW_SECONDS,
    ) -> None:
        self._pairs = FailureCounter(pair_limit, window_seconds)
        self._clients = FailureCounter(client_limit, window_seconds)
        self._accounts = FailureCounter(account_limit, window_seconds)
        self._known: OrderedDict[tuple[str, str], None] = OrderedDict()

    def retry_after(self, account: str, client: str, now: float | None = None) -> int:
        """Whole seconds until this client may try this account again; 0 when it may now."""
        now = time.monotonic() if now is None else now
        wait = max(
            self._pairs.retry_after(f"{account}\n{client}", now),
            self._clients.retry_after(client, now),
            0.0 if (account, client) in self._known else self._accounts.retry_after(account, now),
        )
        return int(wait) + 1 if wait > 0 else 0

    def failed(self, account: str, client: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        self._pairs.failed(f"{account}\n{client}", now)
        self._clients.failed(client, now)
        self._accounts.failed(account, now)

    def succeeded(self, account: str, client: str) -> None:
        self._pairs.forget(f"{account}\n{client}")
        self._known[(account, client)] = None
        self._known.move_to_end((account, client))
        while len(self._known) > MAX_KNOWN_CLIENTS:
            self._known.popitem(last=False)


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(values: Iterable[str]) -> list[Network]:
    """Addresses or CIDR networks; a bad entry is a start-up error, not a silent hole."""
    return [ipaddress.ip_network(value.strip(), strict=False) for value in values]


def _address(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(value.strip())
    except ValueError:
        return None


def client_address(peer: str | None, forwarded_for: str | None, trusted: list[Network]) -> str:
    """The address of the client: the peer, or, when the peer is a trusted proxy, the nearest
    address in ``X-Forwarded-For`` that is not a trusted proxy itself.

    The header is read from the right, since every proxy appends the address it received from
    and only the entries added by trusted proxies can be believed; anything a client wrote
    further left could be forged.
    """
    if peer is None:
        return "unknown"

    def is_trusted(address: ipaddress.IPv4Address | ipaddress.IPv6Address | None) -> bool:
        return address is not None and any(address in network for network in trusted)

    if not trusted or not forwarded_for or not is_trusted(_address(peer)):
        return peer
    client = peer
    for hop in reversed(forwarded_for.split(",")):
        address = _address(hop)
        if address is None:
            break
        client = str(address)
        if not is_trusted(address):
            break
    return client
