"""Serving the dashboard: ``/`` is the page, ``/settlement`` the settlement view alone (the same panel
as the dashboard's, reading ``/mainjob/settlement``), ``/static/*`` their assets, ``/static/vendor/plotly.min.js``
the Plotly bundle shipped inside the installed ``plotly`` Python package. Nothing is fetched from
the network at run time."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).with_name("static")


def plotly_bundle() -> Path:
    """Path of ``plotly.min.js`` inside the installed plotly package."""
    spec = importlib.util.find_spec("plotly")
    if spec is None or spec.origin is None:
        raise FileNotFoundError("the plotly package is not installed (pip install plotly; see pyproject.toml)")
    path = Path(spec.origin).parent / "package_data" / "plotly.min.js"
    if not path.is_file():
        raise FileNotFoundError(f"plotly.min.js not found in the plotly package at {path}")
    return path


def mount_dashboard(app: Starlette) -> None:
    """Add the dashboard's routes to ``app`` (a FastAPI app is a Starlette app)."""
    bundle = plotly_bundle()

    async def index(request: Request) -> Response:
        return FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})

    async def settlement(request: Request) -> Response:
        return FileResponse(STATIC_DIR / "settlement.html", headers={"Cache-Control": "no-cache"})

    async def plotly_js(request: Request) -> Response:
        return FileResponse(bundle, media_type="text/javascript", headers={"Cache-Control": "max-age=86400"})

    app.add_route("/", index, methods=["GET"], include_in_schema=False)
    app.add_route("/settlement", settlement, methods=["GET"], include_in_schema=False)
    app.add_route("/static/vendor/plotly.min.js", plotly_js, methods=["GET"], include_in_schema=False)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="dashboard-static")
