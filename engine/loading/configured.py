"""The policy set a configuration describes: one builder for the CLI, webhook and scanner.

Every process that evaluates must load the same policies the same way, or admission and
audit would disagree; so directory order, selection and parameters are applied here only.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from ..policyset import BackendFactory, PolicySet
from ..rego import embedded_backend
from ..settings import Settings
from .loader import builtin_policy_dir, load_policy_set


def backend_factory(settings: Settings) -> BackendFactory:
    if settings.rego.backend == "opa":
        from ..rego import remote_opa_backend

        assert settings.rego.opa_url
        return remote_opa_backend(settings.rego.opa_url, settings.rego.opa_token)
    return embedded_backend


def configured_policy_dirs(
    settings: Settings, *, extra_dirs: Iterable[Path] = (), no_builtin: bool = False
) -> list[Path]:
    builtin = settings.policies.builtin and not no_builtin
    return ([builtin_policy_dir()] if builtin else []) + list(settings.policies.dirs) + list(
        extra_dirs)


def configured_policy_set(
    settings: Settings,
    *,
    extra_dirs: Iterable[Path] = (),
    no_builtin: bool = False,
    select: Iterable[str] = (),
) -> PolicySet:
    """Load, select and parameterise; raises PolicyLoadError / ConfigError."""
    dirs = configured_policy_dirs(settings, extra_dirs=extra_dirs, no_builtin=no_builtin)
    policy_set = load_policy_set(dirs, backend_factory(settings))
    policy_set = policy_set.select([*settings.policies.select, *select])
    overrides = {k: v for k, v in settings.policies.parameters.items() if policy_set.get(k)}
    return policy_set.with_parameters(overrides) if overrides else policy_set
