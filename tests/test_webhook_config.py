"""`pathwarden webhook-config`: the API server calls the webhook for what policies judge.

Every printed object is also validated against the Kubernetes OpenAPI schemas, so a
configuration that `kubectl apply` would reject fails here first.
"""

from __future__ import annotations

import base64
from typing import Any

import kubernetes_validate
import pytest
import yaml
from pathwarden.engine import load_policies
from pathwarden.engine.cli.main import main
from pathwarden.engine.k8s import TEMPLATE_PATHS
from pathwarden.engine.settings import Settings, WebhookSettings
from pathwarden.webhook.wiring import (
    INJECT_CA_ANNOTATION,
    KIND_RESOURCES,
    validating_webhook_configuration,
)

K8S_VERSIONS = ("1.30.0", kubernetes_validate.latest_version())
WORKLOAD_KINDS = sorted(TEMPLATE_PATHS)


@pytest.fixture(autouse=True)
def _no_pod_namespace(monkeypatch):
    """POD_NAMESPACE overrides webhook.namespace; a developer's shell must not change results."""
    monkeypatch.delenv("POD_NAMESPACE", raising=False)


def policy(policy_id: str, kinds: str, **custom: str) -> str:
    extra = "".join(f"#   {k}: {v}\n" for k, v in custom.items())
    return (f"# METADATA\n# title: T\n# custom:\n#   id: {policy_id}\n#   kinds: {kinds}\n{extra}"
            f"package t.{policy_id.replace('-', '_')}\n\nimport rego.v1\n\n"
            'deny contains "x" if false\n')


def run(capsys, *args: str) -> tuple[int, dict[str, Any] | None, str]:
    code = main(["webhook-config", *args])
    captured = capsys.readouterr()
    obj = yaml.safe_load(captured.out) if code == 0 else None
    if obj is not None:
        for version in K8S_VERSIONS:
            kubernetes_validate.validate(obj, version, strict=True)
    return code, obj, captured.err


def hook(obj: dict[str, Any]) -> dict[str, Any]:
    assert obj["apiVersion"] == "admissionregistration.k8s.io/v1"
    assert obj["kind"] == "ValidatingWebhookConfiguration"
    (webhook,) = obj["webhooks"]
    return webhook


def wired(obj: dict[str, Any]) -> dict[str, list[str]]:
    """Kind -> operations, read back from the rules through the kind table."""
    by_resource = {(r.group, r.plural): kind for kind, r in KIND_RESOURCES.items()}
    kinds: dict[str, list[str]] = {}
    for rule in hook(obj)["rules"]:
        assert rule["scope"] == "*"
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                kind = by_resource.get((group, resource), f"{group}/{resource}")
                kinds.setdefault(kind, []).extend(rule["operations"])
    return kinds


def test_pod_policies_wire_pods_and_the_workloads_whose_templates_they_judge(capsys):
    code, obj, err = run(capsys, "--select", "pss:restricted")
    assert code == 0
    assert wired(obj) == {k: ["CREATE", "UPDATE"] for k in ["Pod", *WORKLOAD_KINDS]}
    webhook = hook(obj)
    assert webhook["clientConfig"]["service"] == {
        "name": "pathwarden-webhook", "namespace": "pathwarden", "path": "/validate",
        "port": 443}
    assert webhook["failurePolicy"] == "Fail"
    assert webhook["sideEffects"] == "None"
    assert webhook["admissionReviewVersions"] == ["v1"]
    assert webhook["matchPolicy"] == "Equivalent"
    assert webhook["timeoutSeconds"] == 5
    assert webhook["namespaceSelector"] == {"matchExpressions": [{
        "key": "kubernetes.io/metadata.name", "operator": "NotIn",
        "values": ["kube-system", "pathwarden"]}]}
    # No CA on this machine: cert-manager is asked to inject it.
    assert "caBundle" not in webhook["clientConfig"]
    assert obj["metadata"]["annotations"] == {
        INJECT_CA_ANNOTATION: "pathwarden/pathwarden-webhook"}
    assert "cert-manager" in err


def test_only_the_kinds_and_operations_of_the_selected_policies(write, tmp_path, capsys):
    write("p/ns.rego", policy("ns-delete", "[Namespace]",
                              operations="[CREATE, UPDATE, DELETE]"))
    write("p/svc.rego", policy("svc", "[Service, Ingress]"))
    write("p/pod.rego", policy("pod-only", "[Pod]", autogen="false"))
    write("p/deploy.rego", policy("deploy", "[Deployment]", tags="[apps]"))
    base = ["--no-builtin", "--policies", str(tmp_path / "p")]

    code, obj, _ = run(capsys, *base)
    assert code == 0
    assert wired(obj) == {
        "Namespace": ["CREATE", "UPDATE", "DELETE"], "Service": ["CREATE", "UPDATE"],
        "Ingress": ["CREATE", "UPDATE"], "Pod": ["CREATE", "UPDATE"],
        "Deployment": ["CREATE", "UPDATE"]}

    code, obj, _ = run(capsys, *base, "--select", "svc", "--select", "apps")
    assert code == 0
    assert wired(obj) == {"Service": ["CREATE", "UPDATE"], "Ingress": ["CREATE", "UPDATE"],
                          "Deployment": ["CREATE", "UPDATE"]}


def test_connect_is_wired_on_the_subresources_where_it_happens(write, tmp_path, capsys):
    write("p/exec.rego", policy("no-exec", "[Pod]", operations="[CONNECT]", autogen="false"))
    code, obj, _ = run(capsys, "--no-builtin", "--policies", str(tmp_path / "p"))
    assert code == 0
    assert hook(obj)["rules"] == [{
        "apiGroups": [""], "apiVersions": ["v1"], "operations": ["CONNECT"],
        "resources": ["pods/attach", "pods/exec", "pods/portforward", "pods/proxy"],
        "scope": "*"}]


def test_a_policy_for_all_kinds_gives_a_wildcard_rule(write, tmp_path, capsys):
    write("p/all.rego", policy("labels-everywhere", "[]"))
    write("p/ns.rego", policy("ns-delete", "[Namespace]", operations="[DELETE]"))
    code, obj, err = run(capsys, "--no-builtin", "--policies", str(tmp_path / "p"))
    assert code == 0
    rules = hook(obj)["rules"]
    assert rules[0] == {"apiGroups": ["*"], "apiVersions": ["*"],
                        "operations": ["CREATE", "UPDATE"], "resources": ["*"], "scope": "*"}
    assert rules[1]["resources"] == ["namespaces"]
    assert rules[1]["operations"] == ["CREATE", "UPDATE", "DELETE"]
    assert "all kinds" in err


def test_an_unknown_kind_is_named_on_stderr_and_left_out(write, tmp_path, capsys):
    write("p/w.rego", policy("widgets", "[Widget, Service]"))
    code, obj, err = run(capsys, "--no-builtin", "--policies", str(tmp_path / "p"))
    assert code == 0
    assert "policy widgets" in err and "Widget" in err
    assert wired(obj) == {"Service": ["CREATE", "UPDATE"]}


def test_settings_decide_failure_policy_timeout_and_exemptions(write, tmp_path, capsys):
    config = write("pathwarden.yaml", """
        webhook:
          failure_mode: open
          timeout_seconds: 9
          service: guard
          namespace: policy-system
          exempt_namespaces: [monitoring, kube-system, monitoring, policy-system]
    """)
    code, obj, _ = run(capsys, "--config", str(config), "--select", "golden-replicas")
    assert code == 0
    webhook = hook(obj)
    assert webhook["failurePolicy"] == "Ignore"
    assert webhook["timeoutSeconds"] == 9
    assert webhook["clientConfig"]["service"]["name"] == "guard"
    assert webhook["clientConfig"]["service"]["namespace"] == "policy-system"
    assert webhook["namespaceSelector"]["matchExpressions"][0]["values"] == [
        "kube-system", "monitoring", "policy-system"]
    assert obj["metadata"]["annotations"][INJECT_CA_ANNOTATION] == (
        "policy-system/pathwarden-webhook")


def test_ca_bundle_is_the_ca_file(tmp_path, capsys):
    assert main(["certs", "--service", "pathwarden-webhook", "--namespace", "pathwarden",
                 "--out", str(tmp_path / "tls")]) == 0
    capsys.readouterr()
    ca_file = tmp_path / "tls" / "ca.crt"
    code, obj, _ = run(capsys, "--select", "pss:baseline", "--ca-file", str(ca_file))
    assert code == 0
    assert base64.b64decode(hook(obj)["clientConfig"]["caBundle"]) == ca_file.read_bytes()
    assert "annotations" not in obj["metadata"]


def test_ca_bundle_defaults_to_ca_crt_next_to_the_serving_certificate(write, tmp_path, capsys):
    assert main(["certs", "--service", "pathwarden-webhook", "--namespace", "pathwarden",
                 "--out", str(tmp_path / "tls")]) == 0
    config = write("pathwarden.yaml", """
        webhook:
          cert_file: tls/tls.crt
          key_file: tls/tls.key
    """)
    capsys.readouterr()
    code, obj, err = run(capsys, "--config", str(config), "--select", "pss:baseline")
    assert code == 0
    ca_pem = (tmp_path / "tls" / "ca.crt").read_bytes()
    assert base64.b64decode(hook(obj)["clientConfig"]["caBundle"]) == ca_pem
    assert "caBundle from" in err


@pytest.mark.parametrize("content", [b"not a certificate\n", None])
def test_a_ca_file_that_is_not_a_certificate_exits_2(tmp_path, capsys, content):
    path = tmp_path / "ca.crt"
    if content is not None:
        path.write_bytes(content)
    code, _, err = run(capsys, "--select", "pss:baseline", "--ca-file", str(path))
    assert code == 2 and "error: webhook-config" in err


def test_a_ca_file_with_a_private_key_is_refused(tmp_path, capsys):
    assert main(["certs", "--service", "s", "--namespace", "n", "--out", str(tmp_path)]) == 0
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes((tmp_path / "ca.crt").read_bytes() + (tmp_path / "ca.key").read_bytes())
    capsys.readouterr()
    code, _, err = run(capsys, "--select", "pss:baseline", "--ca-file", str(bundle))
    assert code == 2 and "private key" in err


def test_url_replaces_the_service_for_a_webhook_outside_the_cluster(capsys):
    code, obj, _ = run(capsys, "--select", "pss:baseline",
                       "--url", "https://10.0.0.5:8443/validate")
    assert code == 0
    assert hook(obj)["clientConfig"] == {"url": "https://10.0.0.5:8443/validate"}


@pytest.mark.parametrize("url", ["http://10.0.0.5/validate", "https://h/validate?x=1"])
def test_a_url_the_api_server_would_reject_exits_2(capsys, url):
    code, _, err = run(capsys, "--select", "pss:baseline", "--url", url)
    assert code == 2 and "URL" in err


def test_policy_load_errors_exit_2(write, tmp_path, capsys):
    write("p/bad.rego", "package broken\n\ndeny contains x if {\n")
    code, _, _ = run(capsys, "--no-builtin", "--policies", str(tmp_path / "p"))
    assert code == 2


def test_the_builder_is_pure_and_matches_the_cli(capsys):
    settings = Settings(webhook=WebhookSettings(exempt_namespaces=("kube-system", "x")))
    policy_set = load_policies().select(["pss:*", "golden-replicas"])
    ca = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
    first = validating_webhook_configuration(settings, policy_set, ca, None)
    assert first == validating_webhook_configuration(settings, policy_set, ca, None)
    webhook = hook(first)
    assert base64.b64decode(webhook["clientConfig"]["caBundle"]) == ca
    assert webhook["namespaceSelector"]["matchExpressions"][0]["values"] == [
        "kube-system", "pathwarden", "x"]
    assert wired(first) == {k: ["CREATE", "UPDATE"] for k in ["Pod", *WORKLOAD_KINDS]}
    for version in K8S_VERSIONS:
        kubernetes_validate.validate(first, version, strict=True)


def test_policies_for_repositories_do_not_reach_admission(write, tmp_path, capsys):
    write("p/repo.rego", policy("readme", "[]").replace(
        "#   kinds: []\n", "#   targets: [repo]\n"))
    code, obj, err = run(capsys, "--no-builtin", "--policies", str(tmp_path / "p"))
    assert code == 0
    assert hook(obj)["rules"] == []
    assert "never be called" in err
