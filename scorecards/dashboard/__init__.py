"""The dashboard for engineering leads: server-rendered pages over the stored scorecards,
findings and admission decisions (`pathwarden serve` mounts it at `/`)."""

from .routes import dashboard_router

__all__ = ["dashboard_router"]
