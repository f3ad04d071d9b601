"""Login throttling by account and client together, and the client address behind proxies."""

from __future__ import annotations

from serving.throttle import LoginThrottle, client_address, parse_networks

ACCOUNT = "owner@example.com"


def test_a_guesser_elsewhere_does_not_lock_the_owner_out():
    throttle = LoginThrottle(pair_limit=5, client_limit=100, account_limit=50, window_seconds=300)
    for _ in range(5):
        throttle.failed(ACCOUNT, "203.0.113.9", now=0)
    assert throttle.retry_after(ACCOUNT, "203.0.113.9", now=1) == 300
    assert throttle.retry_after(ACCOUNT, "198.51.100.7", now=1) == 0
    assert throttle.retry_after(ACCOUNT, "203.0.113.9", now=301) == 0


def test_one_client_spraying_many_accounts_waits():
    throttle = LoginThrottle(pair_limit=5, client_limit=3, account_limit=50, window_seconds=60)
    for n in range(3):
        throttle.failed(f"user{n}@example.com", "203.0.113.9", now=10)
    assert throttle.retry_after("fresh@example.com", "203.0.113.9", now=11) == 60
    assert throttle.retry_after("fresh@example.com", "198.51.100.7", now=11) == 0


def test_a_distributed_attack_spares_clients_that_logged_in_before():
    throttle = LoginThrottle(pair_limit=5, client_limit=100, account_limit=3, window_seconds=60)
    throttle.succeeded(ACCOUNT, "192.0.2.1")
    for n in range(3):
        throttle.failed(ACCOUNT, f"203.0.113.{n}", now=0)
    assert throttle.retry_after(ACCOUNT, "198.51.100.7", now=1) == 60
    assert throttle.retry_after(ACCOUNT, "192.0.2.1", now=1) == 0


def test_success_clears_the_pair():
    throttle = LoginThrottle(pair_limit=2, window_seconds=60)
    throttle.failed(ACCOUNT, "192.0.2.1", now=0)
    throttle.succeeded(ACCOUNT, "192.0.2.1")
    throttle.failed(ACCOUNT, "192.0.2.1", now=1)
    assert throttle.retry_after(ACCOUNT, "192.0.2.1", now=2) == 0


def test_forwarded_for_is_believed_only_from_trusted_proxies():
    proxies = parse_networks(["10.0.0.0/8", "192.0.2.10"])
    header = "198.51.100.1, 203.0.113.5, 10.1.2.3"
    # Read from the right: the last hop before the trusted ones is the client.
    assert client_address("192.0.2.10", header, proxies) == "203.0.113.5"
    assert client_address("203.0.113.77", header, proxies) == "203.0.113.77"
    assert client_address("192.0.2.10", header, []) == "192.0.2.10"
    assert client_address("192.0.2.10", None, proxies) == "192.0.2.10"
    assert client_address("192.0.2.10", "junk, 10.0.0.1", proxies) == "10.0.0.1"
    assert client_address(None, header, proxies) == "unknown"
