"""Every environment-dependent fact of the platform, read once from the environment or ``.env``.

Nothing else in the code base reads ``os.environ``: it asks :func:`get_settings`.
"""

from __future__ import annotations

import secrets
from datetime import date
from functools import cache
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent

APP_DATABASE = "events"
DAGSTER_DATABASE = "dagster"
MLFLOW_DATABASE = "mlflow"


def with_database(url: str, database: str, driver: str | None = None) -> str:
    """Return ``url`` pointing at another database (and optionally another SQLAlchemy driver)."""
    parts = urlsplit(url)
    scheme = parts.scheme.split("+")[0]
    if driver:
        scheme = f"{scheme}+{driver}"
    return urlunsplit((scheme, parts.netloc, f"/{database}", parts.query, parts.fragment))


class Settings(BaseSettings):
    """Platform settings; each field is read from the environment variable of its name."""

    model_config = SettingsConfigDict(
        env_file=REPO_ROOT / ".env", env_file_encoding="utf-8", extra="ignore"
    )

    database_url: str | None = Field(
        default=None,
        description="PostgreSQL URL of the application database. Unset: the embedded server.",
    )
    data_dir: Path = Field(default=REPO_ROOT / "data", description="Local state and landing zone.")
    embedded_pg_port: int = Field(default=54329, description="TCP port of the embedded PostgreSQL.")
    embedded_pg_dir: Path | None = Field(
        default=None, description="Data directory of the embedded PostgreSQL (default data/pg)."
    )
    mlflow_tracking_uri: str | None = Field(
        default=None, description="MLflow tracking URI. Unset: database mlflow on the same server."
    )
    mlflow_artifacts_dir: Path | None = Field(
        default=None, description="Where MLflow stores artifacts (default data/mlartifacts)."
    )
    mlflow_model_name: str = Field(default="event-recommender")
    mlflow_ui_url: str = Field(
        default="http://127.0.0.1:5000", description="Where the MLflow UI is, for links."
    )
    dagster_home: Path | None = Field(default=None, description="Dagster instance folder.")
    analyst_password: SecretStr | None = Field(
        default=None,
        description="Password of the read-only analyst role (unset: none, as the embedded "
        "server trusts loopback connections).",
    )
    notebook_port: int = Field(default=8888, description="TCP port of the analysts' JupyterLab.")
    jwt_secret: SecretStr | None = Field(
        default=None, description="Secret signing API tokens. Unset: a random one kept in data/."
    )
    jwt_ttl_minutes: int = Field(default=60 * 24)
    service_token: SecretStr | None = Field(
        default=None, description="Static bearer token for batch clients with service rights."
    )
    api_pool_min: int = Field(default=2)
    api_pool_max: int = Field(
        default=2,
        description="Database connections per API worker. Queries beyond the database's cores "
        "only share them: a small pool queues requests in the worker, first come first served, "
        "instead of slowing every query at once (search p99 at 200 VUs on two cores: 154 ms "
        "with 2, 366 ms with 16; docs/benchmarks/search.md).",
    )
    api_pool_wait_seconds: float = Field(
        default=10.0,
        gt=0,
        description="Longest a request queues for a database connection before a 503.",
    )
    api_pool_max_waiting: int = Field(
        default=1000,
        ge=0,
        description="Requests allowed to queue for a connection; beyond it a 503 at once. "
        "0: no limit.",
    )
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="Addresses or networks of reverse proxies whose X-Forwarded-For the API "
        "believes (client address for login throttling).",
    )
    metrics_token: SecretStr | None = Field(
        default=None, description="Bearer token /metrics requires. Unset: /metrics is open."
    )
    recommendation_answers_ttl_seconds: float = Field(
        default=30.0,
        ge=0,
        description="Longest a worker keeps a recommendation answer (changes drop it sooner); "
        "0 turns the cache off.",
    )
    cors_origins: list[str] = Field(default_factory=list)
    gzip_min_bytes: int = Field(default=1024)
    interactions_start_date: date = Field(
        default=date(2025, 1, 1),
        description="First day of the daily interaction partitions: the first day of data "
        "(``make run`` sets it to the first landed day unless it is set).",
    )
    quarantine_warn_share: float = Field(
        default=0.01,
        ge=0,
        le=1,
        description="Share of a load's rows quarantined above which its check warns.",
    )
    quarantine_block_share: float = Field(
        default=0.10,
        ge=0,
        le=1,
        description="Share of a load's rows quarantined above which its check fails and "
        "blocks everything downstream (the marts).",
    )
    recommendations_k: int = Field(default=50, description="Recommendations precomputed per user.")
    similar_k: int = Field(default=20, description="Similar events precomputed per event.")
    promotion_margin: float = Field(
        default=0.0, description="Relative gain on the primary metric a challenger needs."
    )
    promotion_floor_ndcg: float = Field(
        default=0.01, description="Absolute nDCG@10 a first model needs to become champion."
    )

    @property
    def landing_dir(self) -> Path:
        return self.data_dir / "landing"

    @property
    def logs_dir(self) -> Path:
        """Logs of the local services and the pipeline-failure log."""
        return self.data_dir / "logs"

    @property
    def pg_dir(self) -> Path:
        return self.embedded_pg_dir or self.data_dir / "pg"

    @property
    def uses_embedded_postgres(self) -> bool:
        return self.database_url is None

    @property
    def app_database_url(self) -> str:
        """libpq URL of the application database."""
        if self.database_url:
            return self.database_url
        return f"postgresql://postgres@127.0.0.1:{self.embedded_pg_port}/{APP_DATABASE}"

    @property
    def analyst_database_url(self) -> str:
        """The application database as the read-only ``analyst`` role: the marts and nothing
        else (migration 0010). What the notebooks connect with."""
        parts = urlsplit(self.app_database_url)
        password = self.analyst_password.get_secret_value() if self.analyst_password else ""
        user = f"analyst:{quote(password, safe='')}" if password else "analyst"
        host = parts.netloc.rpartition("@")[2]
        return urlunsplit((parts.scheme, f"{user}@{host}", parts.path, parts.query, ""))

    @property
    def maintenance_database_url(self) -> str:
        """URL of the server's ``postgres`` database, used to create the other databases."""
        return with_database(self.app_database_url, "postgres")

    @property
    def dagster_database_url(self) -> str:
        return with_database(self.app_database_url, DAGSTER_DATABASE, driver="psycopg2")

    @property
    def mlflow_uri(self) -> str:
        if self.mlflow_tracking_uri:
            return self.mlflow_tracking_uri
        return with_database(self.app_database_url, MLFLOW_DATABASE, driver="psycopg2")

    @property
    def mlflow_artifacts(self) -> Path:
        return self.mlflow_artifacts_dir or self.data_dir / "mlartifacts"

    @property
    def dagster_home_dir(self) -> Path:
        return self.dagster_home or self.data_dir / "dagster_home"

    def dbt_env(self) -> dict[str, str]:
        """Environment variables that ``dbt_project/profiles.yml`` reads to reach the database."""
        parts = urlsplit(self.app_database_url)
        return {
            "DBT_PG_HOST": parts.hostname or "127.0.0.1",
            "DBT_PG_PORT": str(parts.port or 5432),
            "DBT_PG_USER": unquote(parts.username or "postgres"),
            "DBT_PG_PASSWORD": unquote(parts.password or ""),
            "DBT_PG_DBNAME": parts.path.lstrip("/") or APP_DATABASE,
        }

    def jwt_secret_value(self) -> str:
        """The token-signing secret; generated once and kept in ``data/`` when not configured."""
        if self.jwt_secret is not None:
            return self.jwt_secret.get_secret_value()
        path = self.data_dir / ".jwt_secret"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(48))
            path.chmod(0o600)
        return path.read_text().strip()


@cache
def get_settings() -> Settings:
    """The process-wide settings (cached: environment changes after the first call are ignored)."""
    return Settings()
