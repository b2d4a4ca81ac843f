"""Live reload of the configuration file (`pathwarden webhook --config FILE`).

In Kubernetes the file is a mounted ConfigMap: platform teams edit exemptions, enforcement
overrides or match and expect them to apply without a rollout, as with Gatekeeper or
Kyverno. The file is polled like the policy directories (and re-read on SIGHUP). A file
that does not load is logged and counted, shown in /readyz, and the old settings keep
serving. Settings the running process cannot change (the listening address, the
certificate paths, the decision log, the poll interval) are logged as needing a restart
and kept; the rest is applied, the inventory sync included (a new one replaces the old).

The `webhook:` settings are swapped in together with the serving policies (one assignment
in the PolicyHolder), so a request sees the old configuration or the new one, never a mix.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..engine.errors import ConfigError
from ..engine.settings import Settings

if TYPE_CHECKING:
    from .governance import AdmissionGovernance
    from .server import WebhookServer

log = logging.getLogger("pathwarden.webhook")

RESTART_ONLY = ("host", "port", "cert_file", "key_file", "decision_log",
                "decision_queue_size", "reload_interval_seconds")
"""`webhook:` fields bound at start (socket, TLS files, threads); a change is logged."""


@dataclass
class ConfigFile:
    """The configuration file and how to derive the webhook's parts from its settings."""

    path: Path
    load: Callable[[], Settings]
    """Reads the file again, with the same command-line overrides as at start."""
    settings: Settings
    """The settings in force; replaced by each applied reload (policy loaders read it)."""
    policy_paths: Callable[[Settings], list[Path]] = lambda settings: []
    governance_paths: Callable[[Settings], list[Path]] = lambda settings: []
    governance_loader: Callable[[Settings], Callable[..., AdmissionGovernance]] | None = None
    """Builds the governance loader for a configuration (governance dirs, time zone,
    catalog); None: the governance view is not rebuilt."""


@dataclass
class ConfigStatus:
    """What /readyz reports about configuration reloads."""

    generation: int = 1
    last_error: str | None = None
    restart_required: list[str] = field(default_factory=list)
    """`webhook.<field>` changed in the file but not applied until the next start."""

    def as_json(self) -> dict[str, Any]:
        return {"config_generation": self.generation, "last_config_error": self.last_error,
                "config_restart_required": list(self.restart_required)}


class ConfigReloader:
    """`reload()` re-reads the file and applies what changed (the Watcher calls it)."""

    def __init__(self, config: ConfigFile, server: WebhookServer) -> None:
        self.config = config
        self.server = server
        self.status = ConfigStatus()
        self._lock = threading.Lock()

    def reload(self) -> bool:
        with self._lock:
            try:
                new = self.config.load()
            except ConfigError as exc:
                return self._failed(str(exc))
            except Exception as exc:  # a loader bug must not take the webhook down
                log.exception("configuration reload failed")
                return self._failed(f"{type(exc).__name__}: {exc}")
            self._apply(self.config.settings, new)
            return True

    def _failed(self, reason: str) -> bool:
        self.status.last_error = reason
        log.error("configuration %s not reloaded; still serving generation %d: %s",
                  self.config.path, self.status.generation, reason)
        self.server.metrics.config_reloads.labels("failure").inc()
        return False

    def _apply(self, old: Settings, new: Settings) -> None:
        server = self.server
        serving = server.holder.current.settings
        restart = [name for name in RESTART_ONLY
                   if getattr(new.webhook, name) != getattr(serving, name)]
        if restart:
            log.warning("configuration %s: webhook.%s changed and needs a restart; the other "
                        "changes are applied", self.config.path, ", webhook.".join(restart))
            kept = {name: getattr(serving, name) for name in restart}
            new = dataclasses.replace(new, webhook=dataclasses.replace(new.webhook, **kept))
        self.config.settings = new  # before a policy reload: the loader reads it
        # One assignment: exemptions, deadline, failure mode, match and enforcement.
        server.holder.set_settings(new.webhook)
        server.state.settings = new.webhook
        if new.webhook.inventory != serving.inventory:
            server.replace_inventory(new.webhook.inventory)
        governance = server.state.governance
        if governance is not None and self.config.governance_loader is not None and (
                new.governance != old.governance or new.scan.catalog != old.scan.catalog
                or new.policies.dirs != old.policies.dirs or new.store != old.store
                or new.webhook.enforcement != old.webhook.enforcement):
            if server.governance_watcher is not None:
                server.governance_watcher.set_paths(self.config.governance_paths(new))
            governance.set_loader(self.config.governance_loader(new))
        if new.policies != old.policies or new.rego != old.rego:
            server.policy_watcher.set_paths(self.config.policy_paths(new))
            server.holder.reload()
        self.status.generation += 1
        self.status.last_error = None
        self.status.restart_required = restart
        server.metrics.config_reloads.labels("success").inc()
        log.info("configuration %s reloaded (config generation %d)", self.config.path,
                 self.status.generation)
