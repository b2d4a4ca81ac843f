"""The one ASGI app of `pathwarden serve` and `demo`: the REST API and the dashboard."""

from __future__ import annotations

from fastapi import FastAPI

from .api import create_api
from .context import AppContext
from .dashboard import dashboard_router


def create_app(ctx: AppContext) -> FastAPI:
    app = create_api(ctx)
    app.include_router(dashboard_router(ctx))
    return app
