"""Rego backends: embedded rego-cpp (default) and a remote OPA server."""

from __future__ import annotations

from typing import Any

from .results import RegoBackend, RegoModule


def embedded_backend(modules: list[RegoModule], data: dict[str, Any] | None) -> RegoBackend:
    from .embedded import EmbeddedRego

    return EmbeddedRego(modules, data)


__all__ = ["RegoBackend", "RegoModule", "embedded_backend"]
