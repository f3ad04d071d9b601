"""Property-based run of the whole OpenAPI document: no 5xx, and every answer matches the schema
it declares, with and without credentials. The API runs under uvicorn on a loopback port.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import httpx
import psycopg
import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)

from tests.serving.conftest import SERVICE, make_event, make_user


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def base_url(db: psycopg.Connection) -> Iterator[str]:
    """The app served by uvicorn in a thread, with a few rows for the fuzzer to find."""
    from serving.app import create_app

    organizer = make_user(db, role="organizer")
    for n in range(3):
        event_id = make_event(db, title=f"Fuzz event {n}", organizer_id=organizer, tags=["x"])
        db.execute(
            "INSERT INTO serving.similar_events VALUES (%s, 1, %s, 0.5, 'v1')",
            (event_id, event_id),
        )
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 10
    while True:
        try:
            if httpx.get(f"{url}/health").status_code == 200:
                break
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield url
    server.should_exit = True
    thread.join(timeout=10)


def _schema(base_url: str) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(f"{base_url}/openapi.json")


# Password hashing makes the auth endpoints slow on purpose: fewer examples there.
SLOW_OPERATIONS = {"POST /api/v1/auth/register", "POST /api/v1/auth/login"}


@pytest.mark.parametrize(
    ("headers", "examples"), [(None, 8), (SERVICE, 15)], ids=["anonymous", "service"]
)
def test_no_server_errors_and_declared_shapes(
    base_url: str, headers: dict | None, examples: int
) -> None:
    schema = _schema(base_url)
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @settings(
            max_examples=4 if operation.label in SLOW_OPERATIONS else examples,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def run(case: schemathesis.Case) -> None:
            response = case.call(base_url=base_url, headers=headers)
            case.validate_response(
                response,
                checks=[not_a_server_error, response_schema_conformance, content_type_conformance],
            )

        try:
            run()
        except Exception as exc:
            failures.append(f"{operation.label}: {str(exc)[:2000]}")
    assert not failures, "\n\n".join(failures)
