"""The waiver, campaign and catalog ConfigMaps, laid out the way the kubelet mounts them
and loaded with the shipped configuration, as the webhook pod would."""

from __future__ import annotations

import dataclasses
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pathwarden.engine.catalog import read_catalog
from pathwarden.engine.catalog.reading import is_catalog_file
from pathwarden.engine.cli.main import main
from pathwarden.engine.governance import load_governance
from pathwarden.engine.k8s import make_target
from pathwarden.engine.settings import load_settings
from pathwarden.engine.sources.manifests import SUFFIXES
from pathwarden.webhook.governance import GovernanceHolder, governance_loader, utc_now
from pathwarden.webhook.policies import Watcher, fingerprint

from .deploy_support import (
    CATALOG_CONFIGMAP,
    EXAMPLE_CAMPAIGN,
    EXAMPLE_WAIVER,
    GOVERNANCE_CONFIGMAP,
    MANIFESTS,
    config_text,
    deployed_webhook,
    one,
    pod_spec,
    update_configmap,
)

# --- waivers, campaigns and the catalog, as the webhook pod reads them ---

def test_the_webhook_mounts_the_governance_and_catalog_configmaps_its_config_names(tmp_path):
    """governance.dirs and scan.catalog are mount points of whole ConfigMaps, read-only and
    without subPath (a subPath mount never sees the kubelet's updates, so hot reload would
    silently stop)."""
    config = tmp_path / "config.yaml"
    config.write_text(config_text(), encoding="utf-8")
    settings = load_settings(config, {})
    pod = pod_spec(one("Deployment"))
    (container,) = pod["containers"]
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    wanted = {str(p): GOVERNANCE_CONFIGMAP for p in settings.governance.dirs}
    wanted |= {str(p): CATALOG_CONFIGMAP for p in settings.scan.catalog}
    assert wanted == {"/etc/pathwarden/governance": GOVERNANCE_CONFIGMAP,
                      "/etc/pathwarden/catalog": CATALOG_CONFIGMAP}
    for path, name in wanted.items():
        mount = mounts[path]
        assert mount.get("readOnly") is True and "subPath" not in mount, path
        source = volumes[mount["name"]]["configMap"]
        assert source["name"] == name and "items" not in source, path
        assert not source.get("optional"), "the webhook must not start without them"
        one("ConfigMap", name)


def test_the_example_files_are_named_so_that_pathwarden_reads_them():
    for key in one("ConfigMap", GOVERNANCE_CONFIGMAP)["data"]:
        assert Path(key).suffix in SUFFIXES, key
    for key in one("ConfigMap", CATALOG_CONFIGMAP)["data"]:
        assert is_catalog_file(Path(key)), key


def test_the_deployed_waivers_campaigns_and_catalog_load_as_in_the_webhook_pod(tmp_path):
    """The ConfigMaps laid out as the kubelet mounts them (symlinks through `..data`), the
    configuration as shipped with its paths moved under tmp: every file loads once, with no
    problem. The examples change nothing today: the waiver has expired, the campaign only
    covers pathwarden's own service."""
    config, _ = deployed_webhook(tmp_path)
    settings = load_settings(config, {})
    now = datetime.now(UTC)
    governance, problems = load_governance(settings, now)
    assert [str(p) for p in problems] == []
    (waiver,) = governance.waivers
    (campaign,) = governance.campaigns
    assert (waiver.id, campaign.id) == (EXAMPLE_WAIVER, EXAMPLE_CAMPAIGN)
    assert not waiver.active(now), "the example waiver must excuse nothing"
    assert waiver.location.startswith(str(tmp_path / "etc/pathwarden/governance/example-"))

    catalog = read_catalog(list(settings.scan.catalog))
    assert [str(p) for p in catalog.problems] == []
    assert set(catalog.services) == {"component:default/pathwarden"}

    # What the webhook builds at start (webhook/governance.py): files and catalog, and the
    # service of an admitted object, which the example campaign's filter selects.
    view = governance_loader(settings, store_url=settings.store.url, clock=utc_now)()
    webhook = make_target(one("Deployment"))
    service = view.service_of(webhook)
    assert service is not None and service["name"] == "pathwarden"
    (campaign,) = view.governance.campaigns
    assert campaign.covers_service(service)
    # Had it not expired, the waiver would cover the webhook in the sandbox, not this one.
    owned = dataclasses.replace(webhook.ref, service=service["ref"])
    assert waiver.covers(dataclasses.replace(owned, namespace="pathwarden-sandbox"),
                         service["name"])
    assert not waiver.covers(owned, service["name"])


def test_pathwarden_eval_with_the_deployed_configuration_passes_the_manifests(tmp_path, capsys):
    config, _ = deployed_webhook(tmp_path)
    code = main(["eval", str(MANIFESTS), "--config", str(config), "--format", "json"])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "governance" not in err and "catalog" not in err, err


def test_a_configmap_update_reaches_the_webhook_without_a_restart(tmp_path):
    """The webhook polls the mounted directories (webhook/policies.py Watcher): the
    kubelet's symlink swap is seen, and the reloaded view holds the new waiver."""
    config, mounts = deployed_webhook(tmp_path)
    settings = load_settings(config, {})
    holder = GovernanceHolder(governance_loader(settings, store_url=None, clock=utc_now),
                              refresh_seconds=0)
    paths = [*settings.governance.dirs, *settings.scan.catalog]
    before = fingerprint(paths)
    watcher = Watcher(paths, 0.05, holder.reload, "test-governance-watcher")
    watcher.start()
    try:
        today = datetime.now(UTC).date()
        data = dict(one("ConfigMap", GOVERNANCE_CONFIGMAP)["data"])
        data["shop-cart.yaml"] = (
            "apiVersion: pathwarden.dev/v1\nkind: Waiver\nmetadata: {name: shop-cart}\n"
            "spec: {policies: [golden-replicas], services: [shop-cart], reason: r,\n"
            f"       requestedBy: a, approvedBy: b, expires: {today + timedelta(days=30)}}}\n")
        update_configmap(mounts["/etc/pathwarden/governance"], data,
                         "..2026_01_02_00_00_00.000000002")
        assert fingerprint(paths) != before
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and len(holder.current.governance.waivers) < 2:
            time.sleep(0.05)
    finally:
        watcher.stop()
        watcher.join(10)
    assert {w.id for w in holder.current.governance.waivers} == {EXAMPLE_WAIVER, "shop-cart"}
    assert holder.last_error is None


