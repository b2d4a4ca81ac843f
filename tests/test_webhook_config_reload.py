"""The webhook reloads its configuration file live, as a mounted ConfigMap is edited.

Every test talks to a real webhook over HTTPS and edits the file it was started with.
Waiting loops poll behaviour or /readyz and only bound a broken run; no test asserts on
how long something took.
"""

from __future__ import annotations

import logging
import os
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml
from pathwarden.engine import load_policies
from pathwarden.engine.settings import load_settings
from pathwarden.webhook.config_reload import ConfigFile
from pathwarden.webhook.governance import GovernanceHolder, governance_loader, utc_now

from .webhook_support import Running, free_port, make_certs, pod, review, running_webhook, wait_for

pytest_plugins = ("tests.standins.kube_api",)  # kube_api, kubeconfig

LABEL_POLICY = '''
# METADATA
# title: Team label
# custom:
#   id: acme-team-label
#   kinds: [Pod]
#   remediation: Add metadata.labels.team.
package acme.team_label

import rego.v1

deny contains "pod has no team label" if not input.review.object.metadata.labels.team
'''

UNLABELLED = pod(namespace="legacy", labels={"app.kubernetes.io/name": "web"})


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_certs(tmp_path_factory.mktemp("certs"))


@pytest.fixture(autouse=True)
def _no_pod_namespace(monkeypatch: pytest.MonkeyPatch) -> None:
    """POD_NAMESPACE overrides webhook.namespace; a developer's shell must not change it."""
    monkeypatch.delenv("POD_NAMESPACE", raising=False)


class Config:
    """The configuration file of one webhook, rewritten the way a ConfigMap is updated
    (a new file swapped in whole), so the watcher never reads half an edit."""

    def __init__(self, tmp_path: Path, certs: Path) -> None:
        self.certs = certs
        self.path = tmp_path / "pathwarden.yaml"
        self.policies = tmp_path / "policies"
        self.policies.mkdir()
        (self.policies / "team_label.rego").write_text(textwrap.dedent(LABEL_POLICY).lstrip(),
                                                       encoding="utf-8")
        self.webhook: dict[str, Any] = {
            "host": "127.0.0.1", "port": free_port(), "cert_file": str(certs / "tls.crt"),
            "key_file": str(certs / "tls.key"), "reload_interval_seconds": 0.1,
            "decision_log": False, "exempt_namespaces": ["kube-system"]}
        self.write()

    def write(self, text: str | None = None, **webhook: Any) -> None:
        self.webhook.update(webhook)
        if text is None:
            text = yaml.safe_dump({"policies": {"builtin": False, "dirs": ["policies"]},
                                  "webhook": self.webhook})
        staged = self.path.with_suffix(".tmp")
        staged.write_text(text, encoding="utf-8")
        os.replace(staged, self.path)

    def file(self) -> ConfigFile:
        def load() -> Any:
            return load_settings(self.path, {})

        return ConfigFile(self.path, load, load(),
                          policy_paths=lambda s: list(s.policies.dirs),
                          governance_paths=lambda s: list(s.policies.dirs),
                          governance_loader=lambda s: governance_loader(
                              s, store_url=None, clock=utc_now))


def serve(config: Config, *, governance: bool = False) -> Any:
    file = config.file()
    holder = GovernanceHolder(governance_loader(file.settings, store_url=None, clock=utc_now),
                              refresh_seconds=0) if governance else None
    return running_webhook(
        config.certs, config=file, governance=holder, governance_paths=[config.policies],
        loader=lambda: load_policies(list(file.settings.policies.dirs), builtin=False))


def ready(webhook: Running) -> dict[str, Any]:
    return webhook.client.get("/readyz").json()


def test_an_exempted_namespace_applies_without_restart(certs, tmp_path):
    config = Config(tmp_path, certs)
    with serve(config) as webhook:
        assert ready(webhook)["config_generation"] == 1
        assert webhook.admit(review(UNLABELLED))["allowed"] is False

        config.write(exempt_namespaces=["kube-system", "legacy"])
        wait_for(lambda: ready(webhook)["config_generation"] == 2, "config generation 2")
        assert webhook.admit(review(UNLABELLED))["allowed"] is True
        assert 'pathwarden_webhook_config_reloads_total{result="success"} 1.0' in \
            webhook.metrics()
        # The policies were not reloaded: only the settings they are served with changed.
        assert ready(webhook)["generation"] == 1


@pytest.mark.parametrize("governance", [False, True], ids=["plain", "with-governance"])
def test_an_enforcement_override_turns_a_denial_into_a_warning(certs, tmp_path, governance):
    config = Config(tmp_path, certs)
    with serve(config, governance=governance) as webhook:
        assert webhook.admit(review(UNLABELLED))["allowed"] is False

        config.write(enforcement={"acme-team-label": "warn"})
        answer = wait_for(lambda: (a := webhook.admit(review(UNLABELLED)))["allowed"] and a,
                          "the override to apply")
        assert answer["warnings"] == [
            "[acme-team-label] pod has no team label (fix: Add metadata.labels.team.)"]
        assert ready(webhook)["last_config_error"] is None


def test_a_broken_file_keeps_the_old_settings_serving(certs, tmp_path):
    config = Config(tmp_path, certs)
    with serve(config) as webhook:
        config.write("webhook: [this is not: a mapping\n")
        wait_for(lambda: ready(webhook)["last_config_error"], "the rejected reload")
        status = ready(webhook)
        assert str(config.path) in status["last_config_error"]
        assert status["config_generation"] == 1
        assert 'pathwarden_webhook_config_reloads_total{result="failure"} 1.0' in \
            webhook.metrics()
        assert webhook.admit(review(UNLABELLED))["allowed"] is False

        # A setting the parser rejects is refused the same way.
        config.write(failure_mode="sideways")
        wait_for(lambda: "failure" in (ready(webhook)["last_config_error"] or ""),
                 "the invalid failure mode to be rejected")
        assert webhook.admit(review(UNLABELLED))["allowed"] is False

        # Fixed: the new settings apply and the error clears.
        config.write(failure_mode="closed", exempt_namespaces=["legacy"])
        wait_for(lambda: webhook.admit(review(UNLABELLED))["allowed"], "the fixed file")
        assert ready(webhook)["last_config_error"] is None


def test_a_new_port_needs_a_restart_and_the_rest_applies(certs, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="pathwarden.webhook")
    config = Config(tmp_path, certs)
    with serve(config) as webhook:
        config.write(port=free_port(), exempt_namespaces=["legacy"])
        wait_for(lambda: ready(webhook)["config_generation"] == 2, "config generation 2")
        assert ready(webhook)["config_restart_required"] == ["port"]
        assert any("webhook.port changed and needs a restart" in r.getMessage()
                   for r in caplog.records)
        # Still served on the old port (this client), with the new exemption applied.
        assert webhook.admit(review(UNLABELLED))["allowed"] is True
        assert webhook.server.holder.current.settings.port == webhook.server.settings.port


def test_the_inventory_sync_is_started_changed_and_stopped_by_the_file(
        certs, tmp_path, kube_api, kubeconfig, unreachable):
    kube_api.add({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}},
                 {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
                  "metadata": {"name": "web", "namespace": "shop"}, "spec": {}})
    path = kubeconfig(kube_api.context("prod"), unreachable("dr"))
    config = Config(tmp_path, certs)
    with serve(config) as webhook:
        assert ready(webhook)["inventory"] is None

        config.write(inventory={"kubeconfig": str(path), "context": "prod",
                                "kinds": ["Namespace"]})
        wait_for(lambda: (ready(webhook)["inventory"] or {}).get("objects") == 1,
                 "the new sync's first inventory")
        assert ready(webhook)["config_restart_required"] == []
        assert ready(webhook)["inventory"]["mode"] == "watch"

        # More kinds, same cluster: a new sync, and the budget is in its inventory.
        config.write(inventory={"kubeconfig": str(path), "context": "prod",
                                "kinds": ["Namespace", "PodDisruptionBudget"],
                                "watch": False})
        wait_for(lambda: (ready(webhook)["inventory"] or {}).get("objects") == 2,
                 "the budget in the new inventory")
        assert ready(webhook)["inventory"]["mode"] == "relist"
        assert webhook.server.holder.inventory["namespace"]["shop"]["policy/v1"][
            "PodDisruptionBudget"]["web"]["metadata"]["name"] == "web"

        # Another cluster, unreachable: the old cluster's objects are not served.
        config.write(inventory={"kubeconfig": str(path), "context": "dr", "name": "dr"})
        wait_for(lambda: (ready(webhook)["inventory"] or {}).get("last_error"),
                 "the other cluster's failure")
        status = ready(webhook)["inventory"]
        assert status["cluster"] == "dr" and status["synced_at"] is None
        assert "cannot connect" in status["last_error"]
        assert webhook.server.holder.inventory is None

        config.write(inventory=None)
        wait_for(lambda: ready(webhook)["inventory"] is None, "the sync to stop")
        assert webhook.server.holder.inventory is None
