"""The webhook's answers over real HTTPS to real AdmissionReview v1 requests.

One webhook per configuration is started from the product's own server with TLS
certificates made by `pathwarden certs`; the tests read the AdmissionReview responses
(allowed, status code and message, warnings) the way the API server would.
"""

from __future__ import annotations

import copy
from pathlib import Path

import httpx
import pytest
from pathwarden.engine.settings import PolicyMatch

from .webhook_support import (
    MemorySink,
    deployment,
    make_certs,
    pod,
    review,
    running_webhook,
)

ORG_POLICIES = {
    "immutable_team.py": '''
from pathwarden.engine.rules import rule

@rule(id="acme-immutable-team", title="Team label is immutable", kinds=["Deployment"],
      remediation="Create a new Deployment to move it to another team.", autogen=False)
def immutable_team(doc):
    review = doc["review"]
    old = review.get("oldObject")
    if review["operation"] != "UPDATE" or not old:
        return
    before = (old.get("metadata") or {}).get("labels", {}).get("team")
    after = (review["object"].get("metadata") or {}).get("labels", {}).get("team")
    if before != after:
        yield {"msg": f"label team changed from {before!r} to {after!r} by "
                      f"{review['userInfo']['username']}", "path": "metadata.labels.team"}
''',
    "no_delete_prod.py": '''
from pathwarden.engine.rules import rule

@rule(id="acme-keep-prod-namespaces", title="Production namespaces are not deleted",
      kinds=["Namespace"], operations=["DELETE"], remediation="Ask the platform team.")
def keep_prod(doc):
    obj = doc["review"]["object"]
    if (obj.get("metadata") or {}).get("labels", {}).get("tier") == "prod":
        yield f"namespace {obj['metadata']['name']} is labelled tier=prod"
''',
    "secret_echo.py": '''
from pathwarden.engine.rules import rule

@rule(id="acme-secret-echo", title="Echoes secret data (a careless policy)",
      kinds=["Secret"], enforcement="deny")
def echo(doc):
    for key, value in (doc["review"]["object"].get("data") or {}).items():
        yield f"secret key {key} has value {value}"
''',
}


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_certs(tmp_path_factory.mktemp("certs"))


@pytest.fixture(scope="module")
def org_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("org-policies")
    for name, text in ORG_POLICIES.items():
        (root / name).write_text(text.lstrip(), encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def sink() -> MemorySink:
    return MemorySink()


@pytest.fixture(scope="module")
def webhook(certs: Path, org_dir: Path, sink: MemorySink):
    with running_webhook(
        certs, policy_dirs=[org_dir], sink_factory=sink.factory,
        exempt_users=["system:serviceaccount:kube-system:*"],
        exempt_groups=["break-glass"],
        exempt_service_accounts=["argocd/argocd-application-controller"],
        enforcement={"golden-image-tag": "audit"},
        match={"golden-resources": PolicyMatch(exclude_namespaces=["sandbox-*"])},
    ) as running:
        yield running


def privileged_pod(**kw) -> dict:
    return pod(securityContext={"privileged": True}, **kw)


def test_a_compliant_pod_is_allowed_without_status_or_warnings(webhook):
    answer = webhook.admit(review(pod()))
    assert answer == {"uid": answer["uid"], "allowed": True}


def test_a_privileged_pod_is_denied_with_403_policy_ids_messages_and_remediation(webhook):
    answer = webhook.admit(review(privileged_pod()))
    assert answer["allowed"] is False
    status = answer["status"]
    assert status["code"] == 403 and status["reason"] == "Forbidden"
    message = status["message"]
    assert message.startswith("Pod shop/web violates")
    assert '[pss-baseline-privileged] container "app" sets securityContext.privileged: true' \
        in message
    assert "fix: Remove securityContext.privileged" in message


def test_a_deployment_is_judged_on_its_pod_template(webhook):
    bad = deployment(privileged_pod(name="cart"))
    answer = webhook.admit(review(bad))
    assert answer["allowed"] is False
    assert answer["status"]["message"].startswith("Deployment shop/cart violates")
    assert "[pss-baseline-privileged]" in answer["status"]["message"]
    assert webhook.admit(review(deployment(pod(name="cart"))))["allowed"] is True


def test_warn_policies_allow_with_kubectl_warnings(webhook):
    unprobed = pod()
    del unprobed["spec"]["containers"][0]["livenessProbe"]
    answer = webhook.admit(review(unprobed))
    assert answer["allowed"] is True
    assert answer["warnings"] == [
        '[golden-probes] container "app" has no livenessProbe (fix: Add readinessProbe and '
        "livenessProbe (httpGet, tcpSocket, grpc or exec) to every container of the service.)"
    ]


def test_audit_enforcement_only_records(webhook, sink):
    latest = pod(name="latest", image="registry.acme.example/shop/web:latest")
    body = review(latest)
    answer = webhook.admit(body)
    assert answer == {"uid": body["request"]["uid"], "allowed": True}
    entry = _logged(webhook, sink, body)
    assert entry["audited"] == ["golden-image-tag"] and entry["allowed"] is True


def test_update_rules_see_the_old_object_and_the_user(webhook):
    before = deployment(pod(name="api", labels={"app.kubernetes.io/name": "api",
                                                "backstage.io/kubernetes-id": "api",
                                                "team": "payments"}))
    after = copy.deepcopy(before)
    after["metadata"]["labels"]["team"] = "shop"
    answer = webhook.admit(review(after, operation="UPDATE", old=before, user="mallory"))
    assert answer["allowed"] is False
    assert "[acme-immutable-team] label team changed from 'payments' to 'shop' by mallory" \
        in answer["status"]["message"]
    same = webhook.admit(review(before, operation="UPDATE", old=before))
    assert same["allowed"] is True
    # On CREATE there is no oldObject and the rule has nothing to compare.
    assert webhook.admit(review(after))["allowed"] is True


def test_dry_run_is_answered_the_same_and_logged_as_dry_run(webhook, sink):
    body = review(privileged_pod(name="dry"), dry_run=True)
    answer = webhook.admit(body)
    assert answer["allowed"] is False
    assert "[pss-baseline-privileged]" in answer["status"]["message"]
    entry = _logged(webhook, sink, body)
    assert entry["dry_run"] is True and entry["allowed"] is False
    assert "pss-baseline-privileged" in entry["denied"]


@pytest.mark.parametrize("namespace", ["kube-system", "pathwarden"])
def test_exempt_namespaces_are_allowed_without_evaluation(webhook, sink, namespace):
    body = review(privileged_pod(namespace=namespace))
    assert webhook.admit(body)["allowed"] is True
    entry = _logged(webhook, sink, body)
    assert entry["reason"] == f"namespace {namespace} is exempt"
    assert entry["denied"] == []


def test_a_namespace_object_counts_as_its_own_namespace(webhook):
    ns = {"apiVersion": "v1", "kind": "Namespace",
          "metadata": {"name": "kube-system", "labels": {"tier": "prod"}}}
    assert webhook.admit(review(None, old=ns, operation="DELETE"))["allowed"] is True


@pytest.mark.parametrize(("user", "groups"), [
    ("system:serviceaccount:kube-system:replicaset-controller", ()),
    ("system:serviceaccount:argocd:argocd-application-controller", ()),
    ("bob", ("system:authenticated", "break-glass")),
])
def test_exempt_users_groups_and_service_accounts(webhook, user, groups):
    answer = webhook.admit(review(privileged_pod(), user=user, groups=groups))
    assert answer["allowed"] is True


def test_a_service_account_that_is_not_exempt_is_judged(webhook):
    answer = webhook.admit(review(privileged_pod(),
                                  user="system:serviceaccount:argocd:other-controller"))
    assert answer["allowed"] is False


def test_per_policy_match_excludes_namespaces(webhook):
    greedy = pod(namespace="sandbox-alice", resources={})
    assert webhook.admit(review(greedy))["allowed"] is True
    denied = webhook.admit(review(pod(namespace="shop", resources={})))
    assert denied["allowed"] is False
    assert "[golden-resources]" in denied["status"]["message"]


def test_delete_is_allowed_unevaluated_unless_a_policy_asks(webhook, sink):
    body = review(None, old=privileged_pod(), operation="DELETE")
    assert webhook.admit(body)["allowed"] is True
    assert _logged(webhook, sink, body)["denied"] == []
    prod = {"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": "payments", "labels": {"tier": "prod"}}}
    answer = webhook.admit(review(None, old=prod, operation="DELETE"))
    assert answer["allowed"] is False
    assert "[acme-keep-prod-namespaces] namespace payments is labelled tier=prod" in \
        answer["status"]["message"]
    dev = copy.deepcopy(prod)
    dev["metadata"]["labels"]["tier"] = "dev"
    assert webhook.admit(review(None, old=dev, operation="DELETE"))["allowed"] is True


def test_connect_is_allowed_without_evaluation(webhook):
    body = review(privileged_pod(), operation="CONNECT")
    assert webhook.admit(body)["allowed"] is True


def test_secret_values_never_reach_policies_or_the_log(webhook, sink):
    secret = {"apiVersion": "v1", "kind": "Secret",
              "metadata": {"name": "db", "namespace": "shop"},
              "data": {"password": "aHVudGVyMg=="}, "stringData": {"token": "s3cr3t"}}
    body = review(secret)
    answer = webhook.admit(body)
    assert answer["allowed"] is False
    message = answer["status"]["message"]
    assert "secret key password has value <redacted by pathwarden>" in message
    assert "aHVudGVyMg==" not in message and "s3cr3t" not in str(answer)
    entry = _logged(webhook, sink, body)
    assert "aHVudGVyMg==" not in str(entry) and "s3cr3t" not in str(entry)


@pytest.mark.parametrize(("body", "reason"), [
    (b"this is not json", "body is not JSON"),
    (b"[1, 2]", "body is not a JSON object"),
    (b'{"apiVersion": "v1", "kind": "Pod"}', "kind is 'Pod', expected 'AdmissionReview'"),
    (b'{"apiVersion": "admission.k8s.io/v1beta1", "kind": "AdmissionReview", "request": {}}',
     "apiVersion is 'admission.k8s.io/v1beta1'"),
    (b'{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview"}',
     "request is missing"),
    (b'{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": '
     b'{"kind": {"kind": "Pod"}, "operation": "CREATE", "object": {}}}',
     "request.uid is missing"),
    (b'{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": '
     b'{"uid": "1", "kind": {"kind": "Pod"}, "operation": "PATCH", "object": {}}}',
     "request.operation is 'PATCH'"),
    (b'{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": '
     b'{"uid": "1", "kind": {"kind": "Pod"}, "operation": "CREATE"}}',
     "request.object is missing for CREATE"),
])
def test_a_body_that_is_not_an_admission_review_gets_400_with_the_reason(
        webhook, body, reason):
    answer = webhook.client.post("/validate", content=body,
                                 headers={"content-type": "application/json"})
    assert answer.status_code == 400
    assert reason in answer.json()["error"]


def test_the_webhook_serves_https_only(webhook):
    plain = webhook.base_url.replace("https://", "http://")
    with pytest.raises(httpx.HTTPError):
        httpx.post(plain + "/validate", json=review(pod()), timeout=5)


def test_health_readiness_and_metrics(webhook):
    assert webhook.client.get("/healthz").text == "ok"
    ready = webhook.client.get("/readyz").json()
    assert ready["ready"] is True and ready["generation"] == 1 and ready["policies"] > 20
    webhook.admit(review(privileged_pod(name="metrics")))
    text = webhook.metrics()
    assert 'pathwarden_webhook_requests_total{operation="CREATE",outcome="denied"}' in text
    assert ('pathwarden_webhook_policy_decisions_total{policy="pss-baseline-privileged",'
            'result="deny"}') in text
    assert 'pathwarden_webhook_request_seconds_bucket{le="0.0001"}' in text
    assert 'pathwarden_webhook_evaluation_seconds_bucket{le="0.00025"}' in text
    assert "pathwarden_webhook_policy_generation 1.0" in text


def _logged(webhook, sink: MemorySink, body: dict) -> dict:
    from .webhook_support import wait_for

    uid = body["request"]["uid"]
    return wait_for(lambda: next((r for r in sink.records if r["uid"] == uid), None),
                    f"decision {uid} in the log")
