"""Rego backends: embedded rego-cpp (default) and a remote OPA server."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .results import RegoBackend, RegoModule

if TYPE_CHECKING:
    from ..policyset import BackendFactory


def embedded_backend(modules: list[RegoModule], data: dict[str, Any] | None) -> RegoBackend:
    from .embedded import EmbeddedRego

    return EmbeddedRego(modules, data)


def remote_opa_backend(
    url: str, token: str | None = None, timeout: float = 5.0
) -> BackendFactory:
    """Compile and evaluate in the OPA server at `url` (`http(s)://host:port`)."""
    from .remote_opa import remote_opa_backend as factory

    return factory(url, token, timeout)


__all__ = ["RegoBackend", "RegoModule", "embedded_backend", "remote_opa_backend"]
