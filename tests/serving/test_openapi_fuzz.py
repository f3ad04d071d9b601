"""Property-based run of the whole OpenAPI document with every check schemathesis has (no 5xx,
answers as declared, invalid data refused, valid data accepted, auth enforced where declared,
405 with Allow for undeclared methods, ...), with and without credentials. The API runs under
uvicorn on a loopback port; schemathesis is its command line, as a user would run it.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
import uvicorn

from tests.ports import free_port
from tests.serving.conftest import SERVICE, make_event, make_user


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
    port = free_port()
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


# Rules the document cannot state (a start between now and five years ahead, an end after the
# start, lat and lng together, an occurred_at after the first partition) answer 422 to data the
# schema allows: 422 is an expected answer to such data, with the message naming the rule.
#
# DELETE on an event or a registration cancels it (the platform's contract: the row stays for
# history, the marts and the organiser), so the event and its registrations stay readable after
# it: use-after-free does not apply to reads under an event.
CONFIG = """
[checks.positive_data_acceptance]
expected-statuses = ["2xx", "401", "403", "404", "409", "412", "422", "429"]

[[operations]]
include-path-regex = "^/api/v1/events/[{]event_id[}]"
include-method = "GET"
checks.use_after_free.enabled = false
"""


def _run_schemathesis(base_url: str, tmp_path: Path, headers: dict[str, str] | None) -> None:
    config = tmp_path / "schemathesis.toml"
    config.write_text(CONFIG)
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "--config-file",
        str(config),
        "run",
        f"{base_url}/openapi.json",
        "--checks",
        "all",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--seed",
        "7",
        "--workers",
        "1",
        "--no-color",
        "--suppress-health-check",
        "all",
    ]
    for name, value in (headers or {}).items():
        command += ["--header", f"{name}: {value}"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stdout[-20000:] + done.stderr[-5000:]


MAX_EXAMPLES = 10


@pytest.mark.parametrize("headers", [None, SERVICE], ids=["anonymous", "service"])
def test_every_check_of_schemathesis_passes(
    base_url: str, tmp_path: Path, headers: dict | None
) -> None:
    """``schemathesis run --checks all`` over the whole document, with and without a token."""
    _run_schemathesis(base_url, tmp_path, headers)
