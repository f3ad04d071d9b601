"""Free TCP ports for the servers the tests start (a plain module: conftest files are not for
importing, and importing one again would run its set-up twice)."""

from __future__ import annotations

import socket


def free_port() -> int:
    """A TCP port nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
