"""deploy/scanner/: the nightly CronJob and the sharded Indexed Job validate against the
Kubernetes schemas, pass pathwarden's own Pod policies, and carry a valid configuration.
They mount the webhook's waiver/campaign and catalog ConfigMaps (deploy/manifests/), which
load from the scan pods' files as they do in the webhook's, and take the notification URL
from an optional Secret."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from pathwarden.engine import evaluate, load_policies
from pathwarden.engine.catalog import read_catalog
from pathwarden.engine.governance import load_governance
from pathwarden.engine.governance.config import ENV_NOTIFY_URL
from pathwarden.engine.k8s import make_target
from pathwarden.engine.settings import load_settings

from .deploy_support import (
    CATALOG_CONFIGMAP,
    EXAMPLE_CAMPAIGN,
    EXAMPLE_WAIVER,
    GOVERNANCE_CONFIGMAP,
    config_text,
    lay_out_pod,
    manifest_configmaps,
    pod_spec,
    rerooted,
)

SCANNER = Path(__file__).resolve().parents[1] / "deploy" / "scanner"
DOCS = [(p.name, d) for p in sorted(SCANNER.glob("*.yaml"))
        for d in yaml.safe_load_all(p.read_text(encoding="utf-8")) if d]


def one(kind: str) -> dict:
    [doc] = [d for _, d in DOCS if d["kind"] == kind]
    return doc


@pytest.mark.parametrize(("file", "doc"), DOCS, ids=[f"{f}:{d['kind']}" for f, d in DOCS])
def test_every_object_validates(file, doc):
    for version in ("1.30.0", kubernetes_validate.latest_version()):
        kubernetes_validate.validate(doc, version, strict=True)


@pytest.mark.parametrize("kind", ["CronJob", "Job"])
def test_the_scan_pods_pass_the_pod_security_standards_and_golden_paths(kind):
    findings = evaluate([make_target(one(kind))], load_policies().select(["pss:*", "golden-*"]))
    assert findings
    assert [(f.policy_id, f.messages) for f in findings if f.status.value in ("fail", "error")] \
        == []


def test_the_indexed_job_shards_match_its_completions():
    job = one("Job")
    args = job["spec"]["template"]["spec"]["containers"][0]["args"]
    shard = args[args.index("--shard") + 1]
    assert re.fullmatch(r"\$\(JOB_COMPLETION_INDEX\)/(\d+)", shard)
    assert int(shard.split("/")[1]) == job["spec"]["completions"] == job["spec"]["parallelism"]
    assert job["spec"]["completionMode"] == "Indexed"


def test_the_cronjob_never_overlaps():
    assert one("CronJob")["spec"]["concurrencyPolicy"] == "Forbid"


def test_the_configuration_is_valid_and_the_scanner_cannot_read_secrets(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text(one("ConfigMap")["data"]["config.yaml"], encoding="utf-8")
    settings = load_settings(config, {})
    [cluster] = settings.scan.clusters
    assert cluster.in_cluster and "Secret" not in cluster.kinds
    rules = one("ClusterRole")["rules"]
    assert all("secrets" not in r["resources"] for r in rules)
    assert all(set(r["verbs"]) <= {"get", "list", "watch"} for r in rules)
    granted = {res for r in rules for res in r["resources"]}
    plural = {k.lower() + ("es" if k.endswith("s") else "s") for k in cluster.kinds}
    plural = {p.replace("policys", "policies") for p in plural}
    assert plural <= granted


def scanner_settings(tmp_path: Path, environ: dict[str, str] | None = None):
    config = tmp_path / "scanner.yaml"
    config.write_text(one("ConfigMap")["data"]["config.yaml"], encoding="utf-8")
    return load_settings(config, environ or {})


@pytest.mark.parametrize("kind", ["CronJob", "Job"])
def test_the_scan_pods_mount_the_webhooks_governance_and_catalog_configmaps(kind, tmp_path):
    """Whole ConfigMaps (no subPath), read-only, at the paths the configuration names, and
    they exist in deploy/manifests/."""
    settings = scanner_settings(tmp_path)
    spec = pod_spec(one(kind))
    (container,) = spec["containers"]
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in spec["volumes"]}
    wanted = {str(p): GOVERNANCE_CONFIGMAP for p in settings.governance.dirs}
    wanted |= {str(p): CATALOG_CONFIGMAP for p in settings.scan.catalog}
    assert len(wanted) == 2
    for path, name in wanted.items():
        mount = mounts[path]
        assert mount.get("readOnly") is True and "subPath" not in mount, path
        assert volumes[mount["name"]]["configMap"]["name"] == name, path
        assert name in manifest_configmaps()
    configmaps = {v["configMap"]["name"] for v in spec["volumes"] if "configMap" in v}
    assert configmaps <= {one("ConfigMap")["metadata"]["name"], *manifest_configmaps()}


@pytest.mark.parametrize("kind", ["CronJob", "Job"])
def test_the_notify_url_comes_from_an_optional_secret(kind):
    (container,) = pod_spec(one(kind))["containers"]
    env = {e["name"]: e for e in container["env"]}
    assert env[ENV_NOTIFY_URL]["valueFrom"] == {"secretKeyRef": {
        "name": "pathwarden-notify", "key": "url", "optional": True}}
    # The database is not optional: a scan without its store fails at once.
    assert "optional" not in env["PATHWARDEN_DATABASE_URL"]["valueFrom"]["secretKeyRef"]


def test_the_scanner_and_the_webhook_agree_on_waivers_and_the_catalog(tmp_path):
    """Same directories, time zone and expiry cap: a waiver valid at admission is valid in
    the audit. Notifications are the scanner's alone, with no URL in the file."""
    scanner = scanner_settings(tmp_path)
    webhook_config = tmp_path / "webhook.yaml"
    webhook_config.write_text(config_text(), encoding="utf-8")
    webhook = load_settings(webhook_config, {})
    assert scanner.governance.dirs == webhook.governance.dirs
    assert scanner.governance.timezone == webhook.governance.timezone
    assert scanner.governance.waivers == webhook.governance.waivers
    assert scanner.scan.catalog == webhook.scan.catalog
    assert scanner.governance.notifications.url is None
    url = "https://hooks.example/T0/B0/x"
    assert scanner_settings(tmp_path, {ENV_NOTIFY_URL: url}).governance.notifications.url == url


@pytest.mark.parametrize("kind", ["CronJob", "Job"])
def test_the_scan_pod_loads_the_deployed_waivers_campaigns_and_catalog(kind, tmp_path):
    configmaps = {**manifest_configmaps(), one("ConfigMap")["metadata"]["name"]:
                  one("ConfigMap")["data"]}
    mounts = lay_out_pod(tmp_path, one(kind), configmaps)
    (container,) = pod_spec(one(kind))["containers"]
    args = container["args"]
    config = tmp_path / args[args.index("--config") + 1].lstrip("/")
    config.write_text(rerooted(config.read_text(encoding="utf-8"), tmp_path, mounts),
                      encoding="utf-8")
    settings = load_settings(config, {ENV_NOTIFY_URL: "https://hooks.example/T0/B0/x"})
    governance, problems = load_governance(settings, datetime.now(UTC))
    assert [str(p) for p in problems] == []
    assert [w.id for w in governance.waivers] == [EXAMPLE_WAIVER]
    assert [c.id for c in governance.campaigns] == [EXAMPLE_CAMPAIGN]
    catalog = read_catalog(list(settings.scan.catalog))
    assert [str(p) for p in catalog.problems] == []
    assert catalog.service("pathwarden") is not None
