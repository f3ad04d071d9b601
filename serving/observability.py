"""Request ids, JSON logs and Prometheus metrics for every request.

A pure ASGI middleware (not ``BaseHTTPMiddleware``, which costs a task per request) times each
request, labels it with its route template (``/api/v1/events/{event_id}``, never the raw path, so
the number of series stays bounded) and logs one JSON line carrying the request id. The id comes
from ``X-Request-ID`` when the caller sends a sane one, and is echoed in the response.
"""

from __future__ import annotations

import contextvars
import logging
import re
import sys
import time
import uuid
from collections.abc import Iterable
from typing import Any

import orjson
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "request_id", default=None
)
_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,100}$")
access_log = logging.getLogger("serving.access")

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with the request id of the request being served."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = request_id_var.get()
        if request_id:
            entry["request_id"] = request_id
        extra = getattr(record, "fields", None)
        if isinstance(extra, dict):
            entry.update(extra)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


def configure_logging(level: int = logging.INFO) -> None:
    """Send the API's logs to stderr as JSON lines (once per process)."""
    logger = logging.getLogger("serving")
    if any(getattr(h, "_serving_json", False) for h in logger.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler._serving_json = True  # type: ignore[attr-defined]
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False


class PoolCollector(Collector):
    """Connection-pool and answer-cache gauges, read at scrape time."""

    def __init__(self, app: Any) -> None:
        self._app = app

    def collect(self) -> Iterable[Metric]:
        pool = getattr(self._app.state, "pool", None)
        if pool is None:
            return
        stats = pool.get_stats()
        for key, help_text in (
            ("pool_size", "Connections currently managed by the pool"),
            ("pool_available", "Idle connections ready for a request"),
            ("requests_waiting", "Requests waiting for a connection"),
            ("pool_max", "Largest size the pool may grow to"),
        ):
            gauge = GaugeMetricFamily(f"api_db_{key}", help_text)
            gauge.add_metric([], float(stats.get(key, 0)))
            yield gauge
        for key in ("requests_num", "requests_errors", "connections_errors", "connections_lost"):
            total = GaugeMetricFamily(f"api_db_{key}", f"psycopg_pool {key} since start")
            total.add_metric([], float(stats.get(key, 0)))
            yield total
        answers = getattr(self._app.state, "recommendation_answers", None)
        if answers is None:
            return
        for name, value, help_text in (
            ("hits", answers.hits, "Recommendation answers served from memory since start"),
            ("misses", answers.misses, "Recommendation answers computed since start"),
            ("entries", len(answers), "Recommendation answers held"),
            ("listening", int(answers.listening), "1 while the change listener is connected"),
        ):
            gauge = GaugeMetricFamily(f"api_recommendation_answers_{name}", help_text)
            gauge.add_metric([], float(value))
            yield gauge


class Metrics:
    """The app's own registry (one per app, so several apps in one process do not collide)."""

    def __init__(self, app: Any) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "http_requests_total",
            "HTTP requests by route template, method and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "http_request_duration_seconds",
            "HTTP request latency by route template and method",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.registry.register(PoolCollector(app))


class ObservabilityMiddleware:
    """Times, counts and logs each HTTP request and tags it with a request id."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = _request_id(scope)
        token = request_id_var.set(request_id)
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message).append("X-Request-ID", request_id)
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            template = _route_template(scope)
            method = scope["method"]
            self.metrics.requests.labels(method, template, str(status)).inc()
            self.metrics.latency.labels(method, template).observe(elapsed)
            access_log.info(
                "request",
                extra={
                    "fields": {
                        "method": method,
                        "path": scope["path"],
                        "route": template,
                        "status": status,
                        "duration_ms": round(elapsed * 1000, 2),
                    }
                },
            )
            request_id_var.reset(token)


def _route_template(scope: Scope) -> str:
    """The matched route's template; mounted apps (static files) count as their mount point."""
    path = getattr(scope.get("route"), "path", None)
    if path:
        return path
    root = scope.get("root_path") or ""
    return f"{root}/{{path}}" if root else "unmatched"


def _request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            candidate = value.decode("latin-1")
            if _SANE_REQUEST_ID.match(candidate):
                return candidate
            break
    return uuid.uuid4().hex
