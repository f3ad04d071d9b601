"""The application factory: routers, error handlers, middleware and the database pool.

``create_app()`` builds a fresh app (tests build their own); ``app`` is the one uvicorn serves
(``uvicorn serving.app:app``). Nothing here touches the database at import time, and the app does
not apply migrations: ``python -m core.migrate`` does, before the API starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hmac
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import psycopg
from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.middleware.gzip import GZipMiddleware
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from psycopg_pool import PoolTimeout
from starlette.requests import Request
from starlette.responses import Response

from core.settings import Settings, get_settings
from serving.account_cache import AccountCache
from serving.answer_cache import AnswerCache
from serving.cache import ResponseCache
from serving.changes import listen_for_changes
from serving.common import reject_unknown_query
from serving.db import create_pool
from serving.docs import install_docs
from serving.errors import ApiError, BodySizeGuard, install_error_handlers
from serving.fragment_cache import EventFragments
from serving.headers import SecurityHeaders
from serving.observability import Metrics, ObservabilityMiddleware, configure_logging
from serving.openapi import install_openapi
from serving.responses import OrjsonResponse
from serving.routers import (
    admin,
    auth,
    check_ins,
    events,
    health,
    interactions,
    organizers,
    recommendations,
    registrations,
    search,
    series,
    users,
)
from serving.search_vocabulary import KnownWords
from serving.security import bearer_token, secret_problems
from serving.suggestions import SuggestionIndex
from serving.throttle import LoginThrottle, parse_networks

log = logging.getLogger("serving.app")

API_TITLE = "Events Platform API"
# The largest legitimate body is a batch of 1000 interactions with small contexts.
MAX_BODY_BYTES = 4 * 1024 * 1024


async def _warm_caches(app: FastAPI) -> None:
    """Render the recommendable events and read the autocomplete index once the database
    answers (in the background: the API serves meanwhile, and a failure only leaves them cold)."""
    try:
        async with app.state.pool.connection() as conn:
            count = await app.state.event_fragments.warm(conn)
        log.info("rendered %d recommendable events", count)
        await app.state.suggestions.warm(app.state.pool.connection)
    except (psycopg.Error, PoolTimeout) as error:
        log.warning("caches not warmed: %s", error)


def create_app(settings: Settings | None = None) -> FastAPI:
    """A new, unstarted app; its lifespan opens the pool and closes it on shutdown."""
    settings = settings or get_settings()
    configure_logging()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        problems = secret_problems(settings)
        if problems:
            raise RuntimeError("refusing to start: " + "; ".join(problems))
        pool = create_pool(settings)
        # Not waiting for the first connection: the API starts (and /health says why it is
        # unhealthy) even while the database is still coming up.
        await pool.open(wait=False)
        app.state.pool = pool
        caches = [app.state.recommendation_answers, app.state.accounts]
        listener = asyncio.create_task(listen_for_changes(caches, settings.app_database_url))
        warming = asyncio.create_task(_warm_caches(app))
        # Everything loaded so far (the framework, the schemas, the routes) lives as long as
        # the process: out of the collector's sight, full collections under load scan only
        # what requests and caches create, which shortens the pauses that make up the p99.
        gc.freeze()
        try:
            yield
        finally:
            for task in (warming, listener):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await app.state.suggestions.close()
            await pool.close()

    app = FastAPI(
        title=API_TITLE,
        version="1.0.0",
        description="CRUD, search and recommendations of the events marketplace.",
        lifespan=lifespan,
        default_response_class=OrjsonResponse,
        docs_url=None,
        redoc_url=None,
        dependencies=[Depends(reject_unknown_query)],
    )
    # The worker's caches, side by side: public listings, recommendation answers, rendered
    # events, accounts (the last three kept honest by the change listener).
    app.state.response_cache = ResponseCache(ttl=2.0)
    app.state.known_search_words = KnownWords()
    app.state.suggestions = SuggestionIndex()
    app.state.recommendation_answers = AnswerCache(ttl=settings.recommendation_answers_ttl_seconds)
    app.state.event_fragments = EventFragments()
    app.state.accounts = AccountCache()
    app.state.login_throttle = LoginThrottle()
    app.state.trusted_proxies = parse_networks(settings.trusted_proxies)
    install_error_handlers(app)
    # Routes are matched in order, each candidate at a cost: the hottest reads come first.
    for module in (
        health,
        recommendations,
        events,
        series,
        organizers,
        search,
        auth,
        users,
        registrations,
        check_ins,
        interactions,
        admin,
    ):
        app.include_router(module.router)

    metrics = Metrics(app)
    metrics_token = settings.metrics_token

    @app.get("/metrics", include_in_schema=False)
    async def prometheus_metrics(request: Request) -> Response:
        """Prometheus text format: request counts, latency histograms and pool gauges.

        With ``METRICS_TOKEN`` set, scrapers send it as a bearer token.
        """
        if metrics_token is not None:
            token = bearer_token(request) or ""
            if not hmac.compare_digest(token.encode(), metrics_token.get_secret_value().encode()):
                raise ApiError(
                    401,
                    "unauthorized",
                    "the metrics token is required",
                    headers={"WWW-Authenticate": "Bearer"},
                )
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    install_docs(app)
    install_openapi(app)
    # Added innermost first: gzip and CORS run inside the observability middleware so the
    # request id and timing cover everything.
    app.add_middleware(GZipMiddleware, minimum_size=settings.gzip_min_bytes)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["*"],
            allow_headers=["*"],
            expose_headers=["ETag", "X-Request-ID"],
        )
    app.add_middleware(BodySizeGuard, max_bytes=MAX_BODY_BYTES)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(ObservabilityMiddleware, metrics=metrics)
    return app


app = create_app()
