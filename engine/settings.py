"""Typed settings, one dataclass per concern, read from one YAML file.

Only entry points (the CLI) read the file and the environment; everything below them
receives these objects explicitly.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError

ENV_PREFIX = "PATHWARDEN_"


@dataclass(frozen=True, slots=True)
class RegoSettings:
    backend: str = "embedded"
    """`embedded` (rego-cpp in process, the default) or `opa` (a remote OPA server)."""
    opa_url: str | None = None
    """Base URL of the OPA server, e.g. http://opa.policy.svc:8181 (backend `opa`)."""
    opa_token: str | None = None
    """Bearer token for the OPA server; prefer the PATHWARDEN_OPA_TOKEN variable."""


@dataclass(frozen=True, slots=True)
class PolicySettings:
    dirs: tuple[Path, ...] = ()
    """The organisation's policy directories, loaded after the built-in library."""
    builtin: bool = True
    """Load the built-in library (policies/)."""
    select: tuple[str, ...] = ()
    """Only these policy ids or tags (globs allowed); empty means all."""
    parameters: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """Per policy id, parameters that override the policy's defaults."""


@dataclass(frozen=True, slots=True)
class Settings:
    policies: PolicySettings = field(default_factory=PolicySettings)
    rego: RegoSettings = field(default_factory=RegoSettings)


def load_settings(path: Path | None, environ: Mapping[str, str]) -> Settings:
    raw: dict[str, Any] = {}
    if path is not None:
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"config {path}: {exc}") from exc
        if not isinstance(raw, dict):
            raise ConfigError(f"config {path}: expected a mapping at the top level")
    base = path.parent if path else Path.cwd()
    return Settings(
        policies=_policies(raw.get("policies") or {}, base, path),
        rego=_rego(raw.get("rego") or {}, environ, path),
    )


def _policies(raw: Any, base: Path, path: Path | None) -> PolicySettings:
    _expect_keys(raw, "policies", {"dirs", "builtin", "select", "parameters"}, path)
    params = raw.get("parameters") or {}
    if not isinstance(params, dict) or not all(isinstance(v, dict) for v in params.values()):
        raise ConfigError(f"config {path}: policies.parameters maps policy id to a mapping")
    return PolicySettings(
        dirs=tuple(base / d for d in _strings(raw, "dirs", path)),
        builtin=bool(raw.get("builtin", True)),
        select=tuple(_strings(raw, "select", path)),
        parameters=params,
    )


def _rego(raw: Any, environ: Mapping[str, str], path: Path | None) -> RegoSettings:
    _expect_keys(raw, "rego", {"backend", "opa_url", "opa_token"}, path)
    backend = environ.get(ENV_PREFIX + "REGO_BACKEND", raw.get("backend", "embedded"))
    if backend not in ("embedded", "opa"):
        raise ConfigError(f"config {path}: rego.backend is {backend!r}; use embedded or opa")
    url = environ.get(ENV_PREFIX + "OPA_URL", raw.get("opa_url"))
    if backend == "opa" and not url:
        raise ConfigError("rego.backend is opa but no rego.opa_url / PATHWARDEN_OPA_URL is set")
    return RegoSettings(backend, url, environ.get(ENV_PREFIX + "OPA_TOKEN", raw.get("opa_token")))


def _expect_keys(raw: Any, section: str, known: set[str], path: Path | None) -> None:
    if not isinstance(raw, dict):
        raise ConfigError(f"config {path}: {section} must be a mapping")
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ConfigError(f"config {path}: unknown key(s) {unknown} in {section}; "
                          f"known: {sorted(known)}")


def _strings(raw: dict[str, Any], key: str, path: Path | None) -> list[str]:
    value = raw.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"config {path}: {key} must be a list of strings")
    return value
