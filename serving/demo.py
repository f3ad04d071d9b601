"""Demo logins for the local default (``make run`` on the embedded PostgreSQL), never elsewhere.

Generated users have no password, so a newcomer could not ask for anyone's recommendations.
After the first materialisation the launcher calls :func:`demo_login_text`, which gives a
password to the generated user with the most history among those with personal
recommendations, makes (or refreshes) an admin account, and returns what to print: both logins
and the two ``curl`` lines that log in and fetch that user's recommendations with their reasons.
The passwords are generated once and kept in ``data/`` (readable by the owner only).
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from pathlib import Path

import psycopg

from core.settings import Settings
from serving.security import password_hash

ADMIN_EMAIL = "demo-admin@events.example"
DEMO_FILE = ".demo_logins.json"

# The generated user with the most interactions among those batch scoring gave a personal set.
DEMO_USER_SQL = """
    SELECT u.id, u.email FROM app.users u
    JOIN (SELECT i.user_id, count(*) AS n FROM raw.interactions i
          WHERE i.user_id IN (SELECT DISTINCT user_id FROM serving.user_recommendations)
          GROUP BY i.user_id) h ON h.user_id = u.id
    ORDER BY h.n DESC, u.id LIMIT 1"""

SET_PASSWORD_SQL = "UPDATE app.users SET password_hash = %s, updated_at = now() WHERE id = %s"  # noqa: S105

UPSERT_ADMIN_SQL = """
    INSERT INTO app.users (email, name, role, password_hash) VALUES (%s, 'Demo admin', 'admin', %s)
    ON CONFLICT ((lower(email))) DO UPDATE
        SET role = 'admin', password_hash = EXCLUDED.password_hash, updated_at = now()"""

RESYNC_USER_ID_SQL = """
    SELECT setval(pg_get_serial_sequence('app.users', 'id'),
                  greatest((SELECT max(id) FROM app.users), 1))"""


@dataclass(frozen=True)
class DemoLogins:
    user_id: int
    user_email: str
    user_password: str
    admin_email: str
    admin_password: str


def _passwords(path: Path) -> dict[str, str]:
    """The demo passwords, generated on first use and kept in ``path``."""
    if path.exists():
        return json.loads(path.read_text())  # type: ignore[no-any-return]
    passwords = {"user": secrets.token_urlsafe(12), "admin": secrets.token_urlsafe(12)}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(passwords))
    path.chmod(0o600)
    return passwords


def prepare_demo_logins(settings: Settings) -> DemoLogins | None:
    """Give the demo user and admin their passwords; ``None`` outside the local default or
    before batch scoring has given anyone personal recommendations."""
    if not settings.uses_embedded_postgres:
        return None
    passwords = _passwords(settings.data_dir / DEMO_FILE)
    with psycopg.connect(settings.app_database_url, autocommit=True) as conn:
        row = conn.execute(DEMO_USER_SQL).fetchone()
        if row is None:
            return None
        user_id, email = row
        with conn.transaction():
            conn.execute(SET_PASSWORD_SQL, (password_hash(passwords["user"]), user_id))
            # Generated users come with explicit ids, which leave the identity sequence behind.
            conn.execute(RESYNC_USER_ID_SQL)
            conn.execute(UPSERT_ADMIN_SQL, (ADMIN_EMAIL, password_hash(passwords["admin"])))
    return DemoLogins(user_id, email, passwords["user"], ADMIN_EMAIL, passwords["admin"])


def demo_login_text(settings: Settings, api_port: int) -> str:
    """What ``make run`` prints about the demo logins (empty when there are none)."""
    logins = prepare_demo_logins(settings)
    if logins is None:
        return ""
    api = f"http://127.0.0.1:{api_port}/api/v1"
    body = json.dumps({"email": logins.user_email, "password": logins.user_password})
    return "\n".join(
        [
            "demo logins (local only):",
            f"  user   {logins.user_email} / {logins.user_password}"
            f"  (id {logins.user_id}: history and personal recommendations)",
            f"  admin  {logins.admin_email} / {logins.admin_password}",
            "  first recommendation:",
            f"    TOKEN=$(curl -s {api}/auth/login -H 'Content-Type: application/json' "
            f"-d '{body}' | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"token\"])')",
            f'    curl -s -H "Authorization: Bearer $TOKEN" "{api}/recommendations/events?limit=5"',
        ]
    )
