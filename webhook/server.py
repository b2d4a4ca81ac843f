"""Serving the webhook: TLS only, certificate and policy hot reload, the decision log.

uvicorn builds one `SSLContext` at start; loading a new chain into that same context makes
every new handshake use the new certificate while open keep-alive connections carry on, so
a cert-manager rotation drops nothing.
"""

from __future__ import annotations

import logging
import signal
import ssl
import threading
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import uvicorn

from ..engine.errors import ConfigError
from ..engine.inventory_config import InventorySettings
from ..engine.policyset import PolicySet
from ..engine.settings import WebhookSettings
from .app import WebhookState, create_app
from .config_reload import ConfigFile, ConfigReloader
from .decision_log import DecisionLog, Record, Sink
from .governance import GovernanceHolder, utc_now
from .inventory import Collect, InventorySync
from .inventory_watch import InventoryWatch
from .metrics import WebhookMetrics
from .policies import PolicyHolder, Watcher

log = logging.getLogger("pathwarden.webhook")


class WebhookServer:
    """The webhook process's parts, startable in a thread (tests, benchmarks) or in main."""

    def __init__(
        self,
        settings: WebhookSettings,
        loader: Callable[[], PolicySet],
        policy_paths: Sequence[Path],
        *,
        sink_factory: Callable[[], Sink] | None = None,
        governance: GovernanceHolder | None = None,
        governance_paths: Sequence[Path] = (),
        clock: Callable[[], datetime] = utc_now,
        collect: Collect | None = None,
        config: ConfigFile | None = None,
    ):
        """`collect`: how the inventory is listed (default: the cluster source); only
        used when `settings.inventory` is configured. `config`: the configuration file,
        watched and reloaded live (None: the settings stay as given)."""
        for path, what in ((settings.cert_file, "certificate"), (settings.key_file, "key")):
            if not path.is_file():
                raise ConfigError(f"TLS {what} {path} not found; the webhook serves HTTPS "
                                  "only (create one with `pathwarden certs`)")
        self.settings = settings
        self.metrics = WebhookMetrics()
        self.holder = PolicyHolder(loader, settings, self._count_reload)
        decision_log = None
        if settings.decision_log and sink_factory is not None:
            decision_log = DecisionLog(
                sink_factory, settings.decision_queue_size,
                on_drop=lambda reason, n: self.metrics.log_dropped.labels(reason).inc(n),
                on_written=self.metrics.log_written.inc,
            ).start()
        self._collect = collect
        self._running = False
        self.inventory = self._inventory_sync(settings.inventory)
        self.state = WebhookState(settings, self.holder, self.metrics, decision_log,
                                  governance=governance, clock=clock,
                                  inventory=self.inventory)
        self.config = uvicorn.Config(
            create_app(self.state), host=settings.host, port=settings.port,
            ssl_certfile=str(settings.cert_file), ssl_keyfile=str(settings.key_file),
            http="httptools", loop="auto", access_log=False, log_level="warning",
            timeout_graceful_shutdown=10, server_header=False,
        )
        self.config.load()
        self.server = uvicorn.Server(self.config)
        interval = settings.reload_interval_seconds
        self.policy_watcher = Watcher(list(policy_paths), interval, self.holder.reload,
                                      "policy-watcher")
        self.cert_watcher = Watcher([settings.cert_file, settings.key_file], interval,
                                    self.reload_certificate, "cert-watcher",
                                    retry_on_failure=True)
        self.config_reloader: ConfigReloader | None = None
        self.config_watcher: Watcher | None = None
        if config is not None:
            self.config_reloader = ConfigReloader(config, self)
            self.state.config = self.config_reloader.status
            self.config_watcher = Watcher([config.path], interval,
                                          self.config_reloader.reload, "config-watcher")
        self.governance_watcher = None
        if governance is not None:
            self.governance_watcher = Watcher(list(governance_paths),
                                              interval, governance.reload,
                                              "governance-watcher")

    @property
    def ssl_context(self) -> ssl.SSLContext:
        assert self.config.ssl is not None
        return self.config.ssl

    def _count_reload(self, ok: bool) -> None:
        self.metrics.reloads.labels("success" if ok else "failure").inc()

    def reload_certificate(self) -> bool:
        try:
            self.ssl_context.load_cert_chain(str(self.settings.cert_file),
                                             str(self.settings.key_file))
        except (OSError, ssl.SSLError) as exc:  # half-rotated: the watcher retries
            log.warning("serving certificate not reloaded (%s); keeping the current one", exc)
            self.metrics.cert_reloads.labels("failure").inc()
            return False
        log.info("serving certificate reloaded from %s", self.settings.cert_file)
        self.metrics.cert_reloads.labels("success").inc()
        return True

    def run(self) -> None:
        """Serve until stopped (SIGTERM / SIGINT in the main thread, or `stop()`)."""
        self.policy_watcher.start()
        self.cert_watcher.start()
        if self.config_watcher is not None:
            self.config_watcher.start()
        self._running = True
        if self.inventory is not None:
            self.inventory.start()  # serving starts now; referential policies follow
        governance = self.state.governance
        if governance is not None and self.governance_watcher is not None:
            self.governance_watcher.start()
            governance.start()
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGHUP, lambda *_: self._poke())
        try:
            self.server.run()
        finally:
            self.state.ready = False
            self.policy_watcher.stop()
            self.cert_watcher.stop()
            if self.config_watcher is not None:
                self.config_watcher.stop()
            if self.inventory is not None:
                self.inventory.stop()
            if self.governance_watcher is not None:
                self.governance_watcher.stop()
            if governance is not None:
                governance.stop()
            self.state.executor.shutdown(wait=False, cancel_futures=True)
            if self.state.decision_log is not None:
                self.state.decision_log.close()

    def _inventory_sync(self, settings: InventorySettings | None
                        ) -> InventorySync | None:
        if settings is None:
            return None
        sync: InventorySync | None = None

        def apply(inventory: dict[str, Any]) -> object:
            # A sync replaced by a configuration reload may still finish a list: what it
            # found must not overwrite the new sync's inventory.
            return self.holder.set_inventory(inventory) if self.inventory is sync else False

        kind = InventoryWatch if settings.watch else InventorySync
        sync = kind(settings, apply, self.metrics, collect=self._collect)
        return sync

    def replace_inventory(self, settings: InventorySettings | None) -> None:
        """`webhook.inventory` changed in a reloaded configuration: the old sync stops and
        a new one starts. For another cluster, referential policies are held back until
        its first inventory (the old cluster's objects would judge wrongly); for other
        changes (kinds, namespaces, periods, watch) the last inventory serves meanwhile."""
        old = self.inventory
        if old is not None:
            old.stop()
        self.inventory = self._inventory_sync(settings)
        self.state.inventory = self.inventory
        if settings is None or old is None or _cluster(old.settings) != _cluster(settings):
            self.holder.set_inventory(None)
        if self.inventory is not None and self._running:
            self.inventory.start()

    def _poke(self) -> None:
        """SIGHUP: reload the configuration, policies and governance, and relist the
        inventory, now."""
        if self.config_watcher is not None:
            self.config_watcher.poke()
        self.policy_watcher.poke()
        if self.inventory is not None:
            self.inventory.poke()
        if self.governance_watcher is not None:
            self.governance_watcher.poke()

    def start_in_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self.run, name="webhook", daemon=True)
        thread.start()
        while not self.server.started and thread.is_alive():
            threading.Event().wait(0.02)
        if not self.server.started:
            raise RuntimeError(f"webhook did not start on port {self.settings.port}")
        return thread

    def stop(self) -> None:
        self.server.should_exit = True


def store_sink_factory(url: str) -> Callable[[], Sink]:
    """Opens the store lazily in the writer thread, so a database that is down at start
    delays the decision log, never admission."""

    def factory() -> Sink:
        from ..engine.store import DecisionLogEntry, Store

        store = Store.open(url)

        def write(batch: Sequence[Record]) -> None:
            store.add_decisions([DecisionLogEntry(**entry) for entry in batch])

        return write

    return factory


def _cluster(settings: InventorySettings) -> tuple[object, ...]:
    return (settings.in_cluster, settings.kubeconfig, settings.context, settings.name)
