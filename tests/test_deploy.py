"""deploy/manifests: valid Kubernetes, consistent with each other and with the
generator, and the webhook's own pod passes pathwarden's policies."""

from __future__ import annotations

import kubernetes_validate
import pytest
from pathwarden.engine import Status, evaluate, load_policies
from pathwarden.engine.k8s import build_inventory, make_target
from pathwarden.engine.settings import load_settings
from pathwarden.engine.sources.kube_kinds import kind_info
from pathwarden.webhook.certs import service_dns_names
from pathwarden.webhook.wiring import (
    INJECT_CA_ANNOTATION,
    validating_webhook_configuration,
)

from .deploy_support import CERT_MANAGER, K8S_VERSIONS, chart_values, config_text, documents, one


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
    assert config_source["name"] == one("ConfigMap", "pathwarden-config")["metadata"]["name"]
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


