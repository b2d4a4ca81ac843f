"""deploy/: the plain manifests are valid Kubernetes, consistent with each other and with
the generator, and the webhook's own pod passes pathwarden's policies.

helm is not available where these tests run, so the chart is not rendered: its plain YAML
files are parsed, every `.Values.x.y` a template uses must exist in values.yaml, template
blocks must be balanced, and its default webhook rules must equal the generator's.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from pathwarden.engine import Status, evaluate, load_policies
from pathwarden.engine.k8s import build_inventory, make_target
from pathwarden.engine.settings import WebhookSettings, load_settings
from pathwarden.engine.sources.kube_kinds import kind_info
from pathwarden.webhook.certs import service_dns_names
from pathwarden.webhook.wiring import (
    INJECT_CA_ANNOTATION,
    admission_needs,
    validating_webhook_configuration,
    webhook_rules,
)

ROOT = Path(__file__).resolve().parents[1]
MANIFESTS = ROOT / "deploy" / "manifests"
CHART = ROOT / "deploy" / "helm" / "pathwarden"
K8S_VERSIONS = ("1.30.0", kubernetes_validate.latest_version())
CERT_MANAGER = "cert-manager.io/v1"


@cache
def documents() -> tuple[tuple[str, dict[str, Any]], ...]:
    found = []
    for path in sorted(MANIFESTS.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if doc:
                found.append((path.name, doc))
    return tuple(found)


def one(kind: str, name: str | None = None) -> dict[str, Any]:
    matches = [d for _, d in documents()
               if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]
    assert len(matches) == 1, f"expected one {kind} {name or ''}, found {len(matches)}"
    return matches[0]


def config_text() -> str:
    return one("ConfigMap")["data"]["config.yaml"]


@pytest.fixture(scope="module")
def builtin():
    return load_policies()


def test_the_manifests_hold_every_part_of_the_deployment():
    kinds = sorted({(d["apiVersion"], d["kind"]) for _, d in documents()})
    assert kinds == sorted([
        ("v1", "Namespace"), ("v1", "ServiceAccount"), ("v1", "ConfigMap"), ("v1", "Service"),
        ("rbac.authorization.k8s.io/v1", "ClusterRole"),
        ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"), ("apps/v1", "Deployment"),
        ("policy/v1", "PodDisruptionBudget"),
        ("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration"),
        (CERT_MANAGER, "Issuer"), (CERT_MANAGER, "Certificate")])


@pytest.mark.parametrize(("file", "doc"), [
    pytest.param(f, d, id=f"{f}:{d['kind']}/{d['metadata']['name']}")
    for f, d in documents() if d["apiVersion"] != CERT_MANAGER])
def test_every_kubernetes_object_validates_against_the_openapi_schema(file, doc):
    for version in K8S_VERSIONS:
        kubernetes_validate.validate(doc, version, strict=True)


def test_cert_manager_objects_have_their_required_fields_and_chain_up():
    """No cert-manager schemas ship with kubernetes-validate: check what it requires."""
    issuers = {d["metadata"]["name"]: d for _, d in documents()
               if d["apiVersion"] == CERT_MANAGER and d["kind"] == "Issuer"}
    certificates = {d["metadata"]["name"]: d for _, d in documents()
                    if d["apiVersion"] == CERT_MANAGER and d["kind"] == "Certificate"}
    for issuer in issuers.values():
        assert issuer["metadata"]["namespace"] == "pathwarden"
        types = [k for k in issuer["spec"] if k in ("selfSigned", "ca", "acme", "vault",
                                                     "venafi")]
        assert len(types) == 1, issuer["metadata"]["name"]
    for cert in certificates.values():
        spec = cert["spec"]
        assert cert["metadata"]["namespace"] == "pathwarden"
        assert spec["secretName"] and (spec.get("dnsNames") or spec.get("commonName"))
        assert spec["issuerRef"]["kind"] == "Issuer"
        assert spec["issuerRef"]["name"] in issuers
    ca_cert = certificates["pathwarden-webhook-ca"]["spec"]
    assert ca_cert["isCA"] is True
    assert "selfSigned" in issuers[ca_cert["issuerRef"]["name"]]["spec"]
    serving = certificates["pathwarden-webhook"]["spec"]
    ca_issuer = issuers[serving["issuerRef"]["name"]]["spec"]
    assert ca_issuer["ca"]["secretName"] == ca_cert["secretName"]
    assert "server auth" in serving["usages"]
    assert serving["dnsNames"] == service_dns_names("pathwarden-webhook", "pathwarden")


def test_the_webhook_configuration_is_what_the_generator_prints(builtin, tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text(config_text(), encoding="utf-8")
    settings = load_settings(config, {})
    expected = validating_webhook_configuration(settings, builtin, None, None)
    assert one("ValidatingWebhookConfiguration") == expected, (
        "deploy/manifests/50-validatingwebhookconfiguration.yaml is stale: regenerate it with "
        "`pathwarden webhook-config --config <config.yaml of 20-config.yaml>`")


def test_the_parts_refer_to_each_other(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text(config_text(), encoding="utf-8")
    hook_settings = load_settings(config, {}).webhook
    deployment, service = one("Deployment"), one("Service")
    namespace = one("Namespace")["metadata"]["name"]
    pod = deployment["spec"]["template"]
    labels = pod["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert service["spec"]["selector"].items() <= labels.items()
    assert one("PodDisruptionBudget")["spec"]["selector"]["matchLabels"].items() <= labels.items()
    for _, doc in documents():
        if doc["kind"] not in ("Namespace", "ClusterRole", "ClusterRoleBinding",
                               "ValidatingWebhookConfiguration"):
            assert doc["metadata"]["namespace"] == namespace, doc["metadata"]["name"]

    assert (hook_settings.service, hook_settings.namespace) == (
        service["metadata"]["name"], namespace)
    (port,) = service["spec"]["ports"]
    (container,) = pod["spec"]["containers"]
    assert port["port"] == 443
    assert {"name": port["targetPort"], "containerPort": hook_settings.port,
            "protocol": "TCP"} in container["ports"]

    webhook = one("ValidatingWebhookConfiguration")
    assert webhook["metadata"]["annotations"][INJECT_CA_ANNOTATION] == f"{namespace}/" + one(
        "Certificate", "pathwarden-webhook")["metadata"]["name"]
    client = webhook["webhooks"][0]["clientConfig"]["service"]
    assert (client["name"], client["namespace"]) == (service["metadata"]["name"], namespace)

    account = pod["spec"]["serviceAccountName"]
    assert one("ServiceAccount")["metadata"]["name"] == account
    binding = one("ClusterRoleBinding")
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": account,
                                    "namespace": namespace}]
    assert binding["roleRef"]["name"] == one("ClusterRole")["metadata"]["name"]

    (etc,) = [v for v in pod["spec"]["volumes"] if v["name"] == "etc"]
    sources = etc["projected"]["sources"]
    config_source = next(s["configMap"] for s in sources if "configMap" in s)
    secret_source = next(s["secret"] for s in sources if "secret" in s)
    assert config_source["name"] == one("ConfigMap")["metadata"]["name"]
    assert secret_source["name"] == one("Certificate", "pathwarden-webhook")["spec"]["secretName"]
    mount = next(m for m in container["volumeMounts"] if m["name"] == "etc")["mountPath"]
    files = {f"{mount}/{item['path']}" for s in (config_source, secret_source)
             for item in s["items"]}
    assert files == {"/etc/pathwarden/config.yaml", str(hook_settings.cert_file),
                     str(hook_settings.key_file), "/etc/pathwarden/tls/ca.crt"}
    assert container["command"] == ["pathwarden", "webhook", "--config",
                                    "/etc/pathwarden/config.yaml"]


def test_the_deployment_is_highly_available_probed_and_bounded():
    deployment = one("Deployment")
    spec = deployment["spec"]
    assert spec["replicas"] >= 2
    assert spec["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    pod = spec["template"]["spec"]
    assert pod["affinity"]["podAntiAffinity"] or pod["topologySpreadConstraints"]
    assert one("PodDisruptionBudget")["spec"]["minAvailable"] == 1
    (container,) = pod["containers"]
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "https",
                                                     "scheme": "HTTPS"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "https",
                                                      "scheme": "HTTPS"}
    resources = container["resources"]
    assert {"cpu", "memory"} <= set(resources["limits"])
    assert {"cpu", "memory"} <= set(resources["requests"])
    env = {e["name"]: e for e in container["env"]}
    assert env["POD_NAMESPACE"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.namespace"}}
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}


def test_rbac_reads_the_inventory_and_nothing_else():
    rules = one("ClusterRole")["rules"]
    resources = {r for rule in rules for r in rule["resources"]}
    assert {"namespaces", "pods", "services", "ingresses", "deployments",
            "poddisruptionbudgets", "networkpolicies"} <= resources
    assert "secrets" not in resources and "*" not in resources
    assert all(rule["verbs"] == ["get", "list", "watch"] for rule in rules)


def test_rbac_lets_the_webhook_list_every_kind_it_syncs(tmp_path):
    """webhook.inventory is on in the shipped configuration, and the ClusterRole bound to
    the webhook's account covers each of its kinds: a kind it may not list would fail
    every resync and hold the referential policies back."""
    config = tmp_path / "config.yaml"
    config.write_text(config_text(), encoding="utf-8")
    inventory = load_settings(config, {}).webhook.inventory
    assert inventory is not None and inventory.in_cluster
    assert "Secret" not in inventory.kinds
    granted = {(group, resource) for rule in one("ClusterRole")["rules"] if "list" in rule["verbs"]
               for group in rule["apiGroups"] for resource in rule["resources"]}
    for kind in inventory.kinds:
        info = kind_info(kind)
        assert (info.group, info.plural) in granted, kind
    chart = chart_values()["config"]["webhook"]["inventory"]
    assert tuple(chart["kinds"]) == inventory.kinds and chart["in_cluster"] is True


def test_own_namespace_is_exempt_and_enforces_restricted():
    namespace = one("Namespace")
    name = namespace["metadata"]["name"]
    assert namespace["metadata"]["labels"]["kubernetes.io/metadata.name"] == name
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    selector = one("ValidatingWebhookConfiguration")["webhooks"][0]["namespaceSelector"]
    (expression,) = selector["matchExpressions"]
    assert expression["key"] == "kubernetes.io/metadata.name"
    assert expression["operator"] == "NotIn"
    assert {name, "kube-system"} <= set(expression["values"])


def test_the_webhook_pod_passes_the_pod_security_standards(builtin):
    findings = evaluate([make_target(one("Deployment"))], builtin.select(["pss:*"]))
    assert len(findings) == len(builtin.select(["pss:*"]))
    assert {f.status for f in findings} == {Status.PASS}, [
        (f.policy_id, f.messages) for f in findings if f.status is not Status.PASS]


def test_the_webhook_follows_the_golden_paths_it_enforces(builtin):
    """Dogfood: the whole built-in library, with the manifests as inventory (for the PDB)."""
    objects = [d for _, d in documents()]
    policy_set = builtin.with_inventory(build_inventory(objects))
    targets = [make_target(d) for d in objects]
    bad = [(f.target.id, f.policy_id, f.messages) for f in evaluate(targets, policy_set)
           if f.status in (Status.FAIL, Status.WARN, Status.ERROR)]
    assert bad == []


# --- the Helm chart (not rendered: no helm here) ---

VALUE_REF = re.compile(r"\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)")
BLOCK_OPEN = re.compile(r"\{\{-?\s*(if|with|range|define)\b")
BLOCK_END = re.compile(r"\{\{-?\s*end\s*-?\}\}")


def chart_values() -> dict[str, Any]:
    return yaml.safe_load((CHART / "values.yaml").read_text(encoding="utf-8"))


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
