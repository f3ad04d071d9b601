"""Interactive API docs served from this process, so ``/docs`` works without internet access.

Swagger UI's assets are looked up locally: the ``swagger_ui_bundle`` package when installed,
else a copy under ``serving/static/swagger-ui``. Without either, ``/docs`` still answers with a
self-contained page listing every operation from ``/openapi.json``.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.staticfiles import StaticFiles
from starlette.responses import HTMLResponse

STATIC_SWAGGER = Path(__file__).parent / "static" / "swagger-ui"
ASSETS_URL = "/docs-assets"


def swagger_assets_dir() -> Path | None:
    """Where the Swagger UI bundle lives on this machine, if anywhere."""
    try:
        import swagger_ui_bundle  # type: ignore[import-not-found]

        return Path(swagger_ui_bundle.swagger_ui_path)
    except ImportError:
        pass
    if (STATIC_SWAGGER / "swagger-ui-bundle.js").exists():
        return STATIC_SWAGGER
    return None


FALLBACK_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>{title} - docs</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:60em}}code{{background:#eee}}
.op{{margin:.4em 0}}.m{{display:inline-block;width:5em;font-weight:bold}}</style></head>
<body><h1>{title}</h1><p>The OpenAPI document is at <a href="{openapi}">{openapi}</a>.</p>
<div id="ops">loading…</div>
<script>
fetch("{openapi}").then(r => r.json()).then(spec => {{
  const out = [];
  for (const [path, ops] of Object.entries(spec.paths)) {{
    for (const [method, op] of Object.entries(ops)) {{
      const params = (op.parameters || []).map(p => p.name).join(", ");
      out.push(`<div class="op"><span class="m">${{method.toUpperCase()}}</span>`
        + `<code>${{path}}</code> ${{op.summary || ""}} <small>${{params}}</small></div>`);
    }}
  }}
  document.getElementById("ops").innerHTML = out.join("");
}});
</script></body></html>"""


def install_docs(app: FastAPI) -> None:
    """Add ``/docs`` backed by local assets only."""
    assets = swagger_assets_dir()
    openapi_url = app.openapi_url or "/openapi.json"
    if assets is not None:
        app.mount(ASSETS_URL, StaticFiles(directory=assets), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        if assets is None:
            return HTMLResponse(FALLBACK_PAGE.format(title=app.title, openapi=openapi_url))
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} - docs",
            swagger_js_url=f"{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS_URL}/favicon-32x32.png",
            # The default validator badge calls a public service; offline means no such calls.
            swagger_ui_parameters={"validatorUrl": None},
        )
