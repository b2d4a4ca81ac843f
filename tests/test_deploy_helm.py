"""The Helm chart. helm is not available where these tests run, so the chart is not
rendered: its plain YAML files are parsed, every `.Values.x.y` a template uses must exist
in values.yaml, template blocks must be balanced, and its default webhook rules must equal
the generator's. Where the helm-python-sdk package (`helm_python`, Helm's Go engine) is
installed, the chart is also rendered and validated."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from pathwarden.engine import load_policies
from pathwarden.engine.catalog.reading import is_catalog_file
from pathwarden.engine.settings import WebhookSettings, load_settings
from pathwarden.engine.sources.manifests import SUFFIXES
from pathwarden.webhook.wiring import admission_needs, webhook_rules

from .deploy_support import (
    CATALOG_CONFIGMAP,
    CERT_MANAGER,
    CHART,
    GOVERNANCE_CONFIGMAP,
    K8S_VERSIONS,
    chart_values,
    config_text,
    one,
    pod_spec,
)


@pytest.fixture(scope="module")
def builtin():
    return load_policies()


# --- the Helm chart (not rendered: no helm here) ---

VALUE_REF = re.compile(r"\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)")
BLOCK_OPEN = re.compile(r"\{\{-?\s*(if|with|range|define)\b")
BLOCK_END = re.compile(r"\{\{-?\s*end\s*-?\}\}")


def templates() -> list[Path]:
    return sorted(p for p in (CHART / "templates").iterdir() if p.is_file())


def test_chart_yaml_and_values_parse():
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text(encoding="utf-8"))
    assert chart["apiVersion"] == "v2" and chart["name"] == "pathwarden"
    assert chart["version"] and chart["appVersion"]
    values = chart_values()
    assert values["replicaCount"] >= 2
    assert values["podDisruptionBudget"]["minAvailable"] == 1
    assert {"cpu", "memory"} <= set(values["resources"]["limits"])


@pytest.mark.parametrize("template", templates(), ids=lambda p: p.name)
def test_chart_templates_use_only_values_that_exist(template):
    values = chart_values()
    text = template.read_text(encoding="utf-8")
    for match in VALUE_REF.finditer(text):
        node: Any = values
        for key in match.group(1).strip(".").split("."):
            assert isinstance(node, dict) and key in node, (
                f"{template.name}: .Values{match.group(1)} is not in values.yaml")
            node = node[key]


@pytest.mark.parametrize("template", templates(), ids=lambda p: p.name)
def test_chart_template_actions_are_balanced(template):
    text = template.read_text(encoding="utf-8")
    assert text.count("{{") == text.count("}}")
    assert len(BLOCK_OPEN.findall(text)) == len(BLOCK_END.findall(text))


def test_chart_has_a_template_for_every_part():
    text = "\n".join(p.read_text(encoding="utf-8") for p in templates())
    for kind in ("Deployment", "Service", "PodDisruptionBudget", "ServiceAccount", "ClusterRole",
                 "ClusterRoleBinding", "ConfigMap", "ValidatingWebhookConfiguration", "Secret",
                 "Issuer", "Certificate"):
        assert f"kind: {kind}\n" in text, kind
    for needle in ("genCA", "genSignedCert", "cert-manager.io/inject-ca-from", "/healthz",
                   "/readyz", "POD_NAMESPACE", "readOnlyRootFilesystem: true",
                   "kubernetes.io/metadata.name", "--config, /etc/pathwarden/config.yaml"):
        assert needle in text, needle


def test_chart_default_rules_are_what_the_generator_prints(builtin):
    rules = webhook_rules(admission_needs(builtin.policies))
    assert chart_values()["webhook"]["rules"] == rules, (
        "deploy/helm/pathwarden/values.yaml webhook.rules is stale: paste the rules of "
        "`pathwarden webhook-config`")


def test_chart_config_values_are_a_valid_pathwarden_configuration(tmp_path):
    values = chart_values()["config"]
    fields = set(WebhookSettings.__dataclass_fields__)
    chart_owned = {"host", "port", "cert_file", "key_file", "service", "namespace"}
    assert set(values["webhook"]) <= fields - chart_owned
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({**values, "webhook": {
        **values["webhook"], "service": "pathwarden-webhook", "namespace": "pathwarden"}}))
    settings = load_settings(config, {})
    assert settings.webhook.failure_mode == "closed"
    # The plain manifests are the chart's defaults rendered: same webhook settings.
    manifests = tmp_path / "manifests.yaml"
    manifests.write_text(config_text(), encoding="utf-8")
    assert load_settings(manifests, {}).webhook == settings.webhook


# --- the chart: waivers, campaigns, catalog and the notification URL ---

CHART_EXAMPLES = CHART / "ci" / "governance-values.yaml"
CHART_PATHS = {"governance": "/etc/pathwarden/governance", "catalog": "/etc/pathwarden/catalog"}


def plain_mount_paths() -> dict[str, str]:
    (container,) = pod_spec(one("Deployment"))["containers"]
    return {m["name"]: m["mountPath"] for m in container["volumeMounts"]
            if m["name"] in CHART_PATHS}


def test_chart_values_for_governance_catalog_and_notifications():
    """Off by default (Helm merges maps, so default files could not be removed by a values
    file that sets others); the examples live in ci/governance-values.yaml."""
    values = chart_values()
    for section in ("governance", "catalog"):
        assert values[section] == {"files": {}, "existingConfigMap": ""}, section
    assert values["notifications"] == {"existingSecret": "", "secretKey": "url"}


def test_chart_examples_are_the_plain_manifests_examples():
    examples = yaml.safe_load(CHART_EXAMPLES.read_text(encoding="utf-8"))
    assert examples["governance"]["files"] == one("ConfigMap", GOVERNANCE_CONFIGMAP)["data"]
    assert examples["catalog"]["files"] == one("ConfigMap", CATALOG_CONFIGMAP)["data"]


def test_chart_mounts_and_points_the_config_where_the_plain_manifests_do():
    deployment = (CHART / "templates" / "deployment.yaml").read_text(encoding="utf-8")
    helpers = (CHART / "templates" / "_helpers.tpl").read_text(encoding="utf-8")
    mounts = dict(re.findall(r"- name: (governance|catalog)\s+mountPath: (\S+)\s+readOnly: true",
                             deployment))
    assert mounts == plain_mount_paths() == CHART_PATHS
    for name in CHART_PATHS:
        # Whole ConfigMaps, never subPath (hot reload), named by the helper.
        assert re.search(rf'with include "pathwarden\.{name}ConfigMap" \. }}}}\s+- name: {name}\s+'
                         r"configMap:\s+name: \{\{ \. \}\}", deployment), name
    config_paths = {
        "governance": re.search(r'set \$governance "dirs" \(append .* "(/[^"]+)"', helpers)[1],
        "catalog": re.search(r'set \$scan "catalog" \(append .* "(/[^"]+)"', helpers)[1]}
    assert config_paths == CHART_PATHS
    # Waiver changes reload in place: only the config file restarts the pods.
    assert re.findall(r"checksum/[\w.-]+", deployment) == ["checksum/config"]
    assert "subPath:" not in deployment


def test_chart_and_manifests_read_the_notify_url_from_an_optional_secret():
    from pathwarden.engine.governance.config import ENV_NOTIFY_URL

    deployment = (CHART / "templates" / "deployment.yaml").read_text(encoding="utf-8")
    assert re.search(
        rf"- name: {ENV_NOTIFY_URL}\s+valueFrom:\s+secretKeyRef:\s+"
        r"name: \{\{ \. \}\}\s+key: \{\{ \$\.Values\.notifications\.secretKey \}\}\s+"
        r"optional: true", deployment)
    # The plain webhook does not send notifications and has no such variable.
    (container,) = pod_spec(one("Deployment"))["containers"]
    assert ENV_NOTIFY_URL not in {e["name"] for e in container["env"]}


def go_patterns(template: str) -> list[re.Pattern[str]]:
    text = (CHART / "templates" / template).read_text(encoding="utf-8")
    return [re.compile(p.replace("\\\\", "\\"))
            for p in re.findall(r'regexMatch "((?:[^"\\]|\\.)*)" \$name', text)]


def test_chart_refuses_file_names_that_pathwarden_would_not_read():
    """The chart's guards (Go regexps in templates/governance.yaml) agree with the loaders:
    a governance file must have a manifest suffix, a catalog file a catalog name."""
    governance, catalog = go_patterns("governance.yaml")
    names = ["w.yaml", "w.yml", "w.json", "w.txt", "README", "w.yaml.bak", "catalog-info.yaml",
             "catalog-info.yml", "team-shop.catalog.yaml", "shop.yaml", "catalog-info.json",
             "x.catalog.yml", ".hidden.yaml"]
    for name in names:
        assert bool(governance.match(name)) == (Path(name).suffix in SUFFIXES), name
        assert bool(catalog.match(name)) == is_catalog_file(Path(name)), name
    for key in one("ConfigMap", GOVERNANCE_CONFIGMAP)["data"]:
        assert governance.match(key), key
    for key in one("ConfigMap", CATALOG_CONFIGMAP)["data"]:
        assert catalog.match(key), key


def test_chart_renders_valid_objects_like_the_plain_manifests(tmp_path):
    """Only where Helm's engine is installed (pip install helm-python-sdk); CI has none."""
    helm = pytest.importorskip("helm_python", reason="helm-python-sdk is not installed")

    def render(values: dict[str, Any]) -> list[dict[str, Any]]:
        with helm.Chart.load(str(CHART)) as chart:
            out = chart.render(values, name="pathwarden", namespace="pathwarden")
        return [d for name, text in sorted(out.items()) if name.endswith(".yaml")
                for d in yaml.safe_load_all(text) if d]

    def named(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
        (doc,) = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
        return doc

    examples = yaml.safe_load(CHART_EXAMPLES.read_text(encoding="utf-8"))
    docs = render({**examples, "certManager": {"enabled": True},
                   "notifications": {"existingSecret": "pathwarden-notify"}})
    for doc in docs:
        if doc["apiVersion"] != CERT_MANAGER:
            for version in K8S_VERSIONS:
                kubernetes_validate.validate(doc, version, strict=True)
    assert named(docs, "ConfigMap", "pathwarden-webhook-governance")["data"] == one(
        "ConfigMap", GOVERNANCE_CONFIGMAP)["data"]
    assert named(docs, "ConfigMap", "pathwarden-webhook-catalog")["data"] == one(
        "ConfigMap", CATALOG_CONFIGMAP)["data"]
    chart_config = tmp_path / "chart.yaml"
    chart_config.write_text(named(docs, "ConfigMap", "pathwarden-webhook-config")["data"][
        "config.yaml"], encoding="utf-8")
    plain_config = tmp_path / "plain.yaml"
    plain_config.write_text(config_text(), encoding="utf-8")
    chart_settings, plain = load_settings(chart_config, {}), load_settings(plain_config, {})
    assert chart_settings.governance.dirs == plain.governance.dirs
    assert chart_settings.scan.catalog == plain.scan.catalog
    (container,) = pod_spec(named(docs, "Deployment", "pathwarden-webhook"))["containers"]
    assert {m["name"]: m["mountPath"] for m in container["volumeMounts"]
            if m["name"] in CHART_PATHS} == plain_mount_paths()
    env = {e["name"]: e for e in container["env"]}
    assert env["PATHWARDEN_NOTIFY_URL"]["valueFrom"]["secretKeyRef"] == {
        "name": "pathwarden-notify", "key": "url", "optional": True}

    # Defaults: nothing mounted, nothing added to the configuration.
    docs = render({})
    assert {d["metadata"]["name"] for d in docs if d["kind"] == "ConfigMap"} == {
        "pathwarden-webhook-config"}
    (container,) = pod_spec(named(docs, "Deployment", "pathwarden-webhook"))["containers"]
    assert not {m["name"] for m in container["volumeMounts"]} & set(CHART_PATHS)
    assert "PATHWARDEN_NOTIFY_URL" not in {e["name"] for e in container["env"]}
    config = yaml.safe_load(named(docs, "ConfigMap", "pathwarden-webhook-config")["data"][
        "config.yaml"])
    assert "governance" not in config and "scan" not in config

    # A user's ConfigMaps, merged with their own governance settings.
    docs = render({"governance": {"existingConfigMap": "acme-waivers"},
                   "catalog": {"existingConfigMap": "acme-catalog"},
                   "config": {"governance": {"timezone": "Europe/Berlin"}}})
    volumes = {v["name"]: v for v in pod_spec(named(docs, "Deployment",
                                                    "pathwarden-webhook"))["volumes"]}
    assert volumes["governance"]["configMap"]["name"] == "acme-waivers"
    assert volumes["catalog"]["configMap"]["name"] == "acme-catalog"
    config = yaml.safe_load(named(docs, "ConfigMap", "pathwarden-webhook-config")["data"][
        "config.yaml"])
    assert config["governance"] == {"timezone": "Europe/Berlin",
                                    "dirs": ["/etc/pathwarden/governance"]}
    with pytest.raises(Exception, match="not both"):
        render({"governance": {"existingConfigMap": "x", "files": {"w.yaml": "a: 1"}}})
    with pytest.raises(Exception, match="is not read by pathwarden"):
        render({"catalog": {"files": {"shop.yaml": "a: 1"}}})
