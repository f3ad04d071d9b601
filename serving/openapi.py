"""The OpenAPI document, completed with what FastAPI cannot infer from the handlers.

Handlers read the bearer token themselves (:mod:`serving.security`), so the security each
operation needs is stated here, from the dependency the route uses: a required token, an
optional one (public reads that show more to their owner), or none.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts

from serving.common import dependency_tree
from serving.security import (
    BEARER_OPTIONAL,
    BEARER_REQUIRED,
    SECURITY_SCHEMES,
    optional_principal,
    require_authenticated,
    require_principal,
)


def _security(route: RouteContext) -> list[dict[str, list[str]]] | None:
    calls = {node.call for node in dependency_tree(route.dependant)}
    if calls & {require_principal, require_authenticated}:
        return BEARER_REQUIRED
    if optional_principal in calls:
        return BEARER_OPTIONAL
    return None


def install_openapi(app: FastAPI) -> None:
    """Serve the completed document at ``/openapi.json`` (built once per app)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
        )
        schema.setdefault("components", {})["securitySchemes"] = SECURITY_SCHEMES
        for route in iter_route_contexts(app.routes):
            original = route.original_route
            if not isinstance(original, APIRoute) or not original.include_in_schema:
                continue
            security = _security(route)
            for method in route.methods or ():
                operation = schema["paths"][route.path_format].get(method.lower())
                if operation is not None and security is not None:
                    operation.setdefault("security", security)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
