"""The remote OPA backend, against a loopback stand-in of OPA's REST API (no `opa` binary).

Design choice documented here: the backend pushes every module when it is built, so an OPA
that cannot be reached at load time is a `BackendError` from `load_policies`; one that goes
away later gives `error` findings for the Rego policies while Python policies still judge.
"""

from __future__ import annotations

import re
import socket
from pathlib import Path
from typing import Any

import pytest
from pathwarden.engine import PolicyLoadError, Status, evaluate, load_policies, testing
from pathwarden.engine.errors import BackendError, ConfigError
from pathwarden.engine.k8s import build_inventory, make_target
from pathwarden.engine.rego import embedded_backend, remote_opa_backend
from pathwarden.engine.testing import pod, workload

pytest_plugins = ("tests.standins.opa_server",)  # opa_server, start_opa_server

PROBES = """\
# METADATA
# title: Probes
# description: Containers need probes.
# custom:
#   id: test-probes
#   severity: high
#   kinds: [Pod]
#   remediation: Add probes.
#   tags: [golden-path:run]
package test.probes

import rego.v1

deny contains v if {
	some i, c in input.review.object.spec.containers
	not c.livenessProbe
	v := {"msg": sprintf("container %s has no livenessProbe", [c.name]),
		"path": sprintf("spec.containers[%d].livenessProbe", [i])}
}
"""
LATEST = """\
# METADATA
# title: No latest
# custom:
#   id: test-latest
#   severity: low
#   kinds: [Pod]
package test.latest

import rego.v1

warn contains msg if {
	some c in input.review.object.spec.containers
	endswith(c.image, ":latest")
	msg := sprintf("container %s uses :latest", [c.name])
}
"""
NAMESPACE = """\
# METADATA
# title: Namespace exists
# custom:
#   id: test-namespace-exists
#   severity: medium
#   kinds: [Pod]
#   inventory: true
package test.namespace

import rego.v1

deny contains msg if {
	ns := input.review.object.metadata.namespace
	not data.inventory.cluster.v1.Namespace[ns]
	msg := sprintf("namespace %s is not in the inventory", [ns])
}
"""
PYTHON = '''\
from pathwarden.engine.rules import rule


@rule(id="test-py-host-network", kinds=["Pod"], severity="high")
def no_host_network(doc):
    if doc["review"]["object"]["spec"].get("hostNetwork"):
        yield {"msg": "hostNetwork is true", "path": "spec.hostNetwork"}
'''
PROBE = {"httpGet": {"path": "/healthz", "port": 8080}}
GOOD_CONTAINER = {
    "name": "app", "image": "registry.example/app:1.0",
    "livenessProbe": PROBE, "readinessProbe": PROBE,
    "resources": {"requests": {"cpu": "100m", "memory": "64Mi"},
                  "limits": {"cpu": "1", "memory": "64Mi"}},
    "securityContext": {"allowPrivilegeEscalation": False, "runAsNonRoot": True,
                        "capabilities": {"drop": ["ALL"]},
                        "seccompProfile": {"type": "RuntimeDefault"}},
}
BAD_CONTAINER = {"name": "web", "image": "nginx:latest",
                 "securityContext": {"privileged": True}}
INVENTORY = build_inventory([{"apiVersion": "v1", "kind": "Namespace",
                              "metadata": {"name": "default"}}])


def manifests() -> list[dict[str, Any]]:
    good = pod({"automountServiceAccountToken": False}, containers=[GOOD_CONTAINER])
    bad = pod({"hostNetwork": True}, name="bad", containers=[BAD_CONTAINER, GOOD_CONTAINER])
    elsewhere = pod(name="far", namespace="other", containers=[GOOD_CONTAINER])
    return [good, bad, elsewhere, workload("Deployment", good, replicas=2),
            workload("Deployment", bad, replicas=1), workload("StatefulSet", elsewhere)]


def policy_dir(root: Path, files: dict[str, str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (root / name).write_text(text, encoding="utf-8")
    return root


def summary(findings: list[Any]) -> list[tuple[Any, ...]]:
    return [(f.policy_id, f.target.id, f.status, f.violations, f.warnings, f.error)
            for f in findings]


def run(dirs: list[Path], backend: Any, inventory: dict[str, Any] | None = None) -> list[Any]:
    policy_set = load_policies(dirs, builtin=True, backend=backend)
    if inventory is not None:
        policy_set = policy_set.with_inventory(inventory)
    return evaluate([make_target(m) for m in manifests()], policy_set)


@pytest.mark.parametrize("inventory", [None, INVENTORY], ids=["no-inventory", "inventory"])
def test_both_backends_give_identical_findings(opa_server, tmp_path, inventory):
    mine = policy_dir(tmp_path / "p", {"probes.rego": PROBES, "latest.rego": LATEST,
                                       "namespace.rego": NAMESPACE})
    embedded = run([mine], embedded_backend, inventory)
    remote = run([mine], remote_opa_backend(opa_server.url), inventory)

    assert summary(remote) == summary(embedded)
    statuses = {(f.policy_id, f.status) for f in remote}
    assert {("test-probes", "fail"), ("test-probes", "pass"), ("test-latest", "warn"),
            ("test-namespace-exists", "fail")} <= statuses
    assert not [f for f in remote if f.status == "error"]
    pushed = [p for m, p in opa_server.requests if m == "PUT" and "/policies/" in p]
    assert any(p.endswith("/ingress_tls.rego") and "/golden/" in p for p in pushed)  # built-ins
    assert ("POST", "/v1/data/test/probes") in opa_server.requests


def test_a_policy_that_does_not_compile_names_file_and_line(opa_server, tmp_path):
    broken = PROBES.replace("\tnot c.livenessProbe\n", "\tnot c.livenessProbe\n\tx := )\n")
    mine = policy_dir(tmp_path / "p", {"broken.rego": broken, "latest.rego": LATEST})
    with pytest.raises(PolicyLoadError) as caught:
        load_policies([mine], builtin=False, backend=remote_opa_backend(opa_server.url))
    [problem] = caught.value.problems
    assert problem.location is not None
    assert problem.location.file == str(mine / "broken.rego")
    assert problem.location.line == broken.splitlines().index("\tx := )") + 1
    assert problem.message.startswith("rego_parse_error: ")  # OPA's errors[].code
    assert all("broken" not in pid for pid in opa_server.modules)


def test_an_unknown_function_is_refused_by_opa_at_load(opa_server, tmp_path):
    text = LATEST.replace('endswith(c.image, ":latest")', 'ends_with(c.image, ":latest")')
    mine = policy_dir(tmp_path / "p", {"latest.rego": text})
    with pytest.raises(PolicyLoadError) as caught:
        load_policies([mine], builtin=False, backend=remote_opa_backend(opa_server.url))
    [problem] = caught.value.problems
    assert problem.message.startswith("rego_type_error: ") and "ends_with" in problem.message
    line = text.splitlines().index('\tends_with(c.image, ":latest")') + 1
    assert str(problem.location) == f"{mine / 'latest.rego'}:{line}"


def test_modules_live_under_the_pathwarden_namespace_and_stale_copies_go(opa_server, tmp_path):
    foreign = "package org.authz\n\nimport rego.v1\n\nallow if input.user == \"admin\"\n"
    assert opa_server.handle("PUT", "/v1/policies/org/authz", foreign.encode())[0] == 200
    old = policy_dir(tmp_path / "old", {"probes.rego": PROBES, "latest.rego": LATEST})
    load_policies([old], builtin=False, backend=remote_opa_backend(opa_server.url))
    moved = policy_dir(tmp_path / "new", {"moved-probes.rego": PROBES})
    load_policies([moved], builtin=False, backend=remote_opa_backend(opa_server.url))

    ids = set(opa_server.modules)
    assert "org/authz" in ids  # an organisation's own policy is never touched
    assert any(i.endswith("/new/moved-probes.rego") for i in ids)
    assert not any(i.endswith("/old/probes.rego") for i in ids)  # same package: replaced
    assert any(i.endswith("/old/latest.rego") for i in ids)  # another package: left alone
    assert all(i.startswith("pathwarden/") for i in ids - {"org/authz"})


def test_an_unreachable_opa_at_load_is_a_backend_error_naming_the_url(
    start_opa_server, tmp_path
):
    closed = start_opa_server()
    closed.stop()
    mine = policy_dir(tmp_path / "p", {"probes.rego": PROBES})
    with pytest.raises(BackendError, match=f"cannot reach OPA at {closed.url} .*refused"):
        load_policies([mine], builtin=False, backend=remote_opa_backend(closed.url))


def test_an_opa_that_never_answers_is_a_timeout_naming_the_url(tmp_path):
    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        mine = policy_dir(tmp_path / "p", {"probes.rego": PROBES})
        with pytest.raises(BackendError, match=f"OPA at {url} did not answer within 0.1s"):
            load_policies([mine], builtin=False, backend=remote_opa_backend(url, timeout=0.1))


@pytest.mark.parametrize(("failure", "expected"), [
    ("gone", "cannot reach OPA at {url} while evaluating policies: .*refused"),
    ("close", "cannot reach OPA at {url} while evaluating policies: Connection aborted"),
    ("500", "OPA at {url} answered HTTP 500 .*stand-in told to fail"),
])
def test_an_opa_failing_after_load_gives_rego_errors_and_python_still_judges(
    opa_server, tmp_path, failure, expected
):
    mine = policy_dir(tmp_path / "p", {"probes.rego": PROBES, "host.py": PYTHON})
    policy_set = load_policies([mine], builtin=False, backend=remote_opa_backend(opa_server.url))
    if failure == "gone":
        opa_server.stop()
    else:
        opa_server.fail = failure
    targets = [make_target(pod({"hostNetwork": True})), make_target(pod(name="quiet"))]
    found = {(f.policy_id, f.target.name): f for f in evaluate(targets, policy_set)}

    for name in ("app", "quiet"):
        rego = found["test-probes", name]
        assert rego.status == Status.ERROR
        assert rego.error is not None and rego.error.startswith("BackendError: ")
        assert re.search(expected.format(url=opa_server.url), rego.error)
    assert found["test-py-host-network", "app"].status == Status.FAIL
    assert found["test-py-host-network", "quiet"].status == Status.PASS


def test_a_runtime_error_in_one_package_is_only_that_policys_error(opa_server, tmp_path):
    conflict = LATEST.replace("test-latest", "test-conflict").replace(
        "package test.latest", "package test.conflict") + "\nx := 1 if true\nx := 2 if true\n"
    conflict = conflict.replace("\tsome c in", "\tx == 1\n\tsome c in")
    mine = policy_dir(tmp_path / "p", {"conflict.rego": conflict, "probes.rego": PROBES})
    policy_set = load_policies([mine], builtin=False, backend=remote_opa_backend(opa_server.url))
    found = {f.policy_id: f for f in evaluate([make_target(pod())], policy_set)}
    assert found["test-conflict"].status == Status.ERROR
    assert found["test-conflict"].error.startswith(
        f"test.conflict: OPA at {opa_server.url} answered internal_error while evaluating")
    assert found["test-probes"].status == Status.FAIL


def test_the_servers_inventory_is_what_referential_rules_read(opa_server, tmp_path):
    mine = policy_dir(tmp_path / "p", {"namespace.rego": NAMESPACE})
    base = load_policies([mine], builtin=False, backend=remote_opa_backend(opa_server.url))
    with_inventory = base.with_inventory(INVENTORY)
    targets = [make_target(pod()), make_target(pod(name="far", namespace="other"))]

    found = {f.target.namespace: f.status for f in evaluate(targets, with_inventory)}
    assert found == {"default": Status.PASS, "other": Status.FAIL}
    assert opa_server.data == {"inventory": INVENTORY}
    answer = opa_server.handle("POST", "/v1/data/inventory/cluster/v1/Namespace", b'{"input":{}}')
    assert answer == (200, {"result": {"default": INVENTORY["cluster"]["v1"]["Namespace"][
        "default"]}})
    # the set without inventory takes the server back to "no inventory", like embedded
    assert {f.status for f in evaluate(targets, base)} == {Status.FAIL}
    assert "inventory" not in opa_server.data


def test_a_bearer_token_is_sent_and_a_refusal_names_the_url(start_opa_server, tmp_path):
    server = start_opa_server(token="s3cret")
    mine = policy_dir(tmp_path / "p", {"probes.rego": PROBES})
    refused = f"OPA at {server.url} answered unauthorized while listing policies"
    with pytest.raises(BackendError, match=refused):
        load_policies([mine], builtin=False, backend=remote_opa_backend(server.url))
    backend = remote_opa_backend(server.url, token="s3cret")
    policy_set = load_policies([mine], builtin=False, backend=backend)
    [finding] = evaluate([make_target(pod())], policy_set)
    assert finding.status == Status.FAIL


@pytest.mark.parametrize("url", ["opa:8181", "ftp://opa:21", "http://opa:8181/v1",
                                 "http://user:pw@opa:8181", "http://opa:notaport"])
def test_a_malformed_url_is_a_config_error_at_once(url):
    with pytest.raises(ConfigError, match="http://host:port"):
        remote_opa_backend(url)


def test_judge_goes_through_opa_when_the_testing_backend_is_switched(
    opa_server, tmp_path, monkeypatch
):
    monkeypatch.setattr(testing, "BACKEND", remote_opa_backend(opa_server.url))
    monkeypatch.setattr(testing, "_sets", {})  # no set compiled for another backend or server
    ingress = {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
               "metadata": {"name": "shop", "namespace": "shop"},
               "spec": {"rules": [{"host": "shop.acme.example"}, {"host": "api.acme.example"}],
                        "tls": [{"hosts": ["shop.acme.example"]}]}}
    finding = testing.judge("golden-ingress-tls", ingress)
    assert finding.status == Status.FAIL
    assert finding.messages == ["host api.acme.example is served without TLS"]
    assert ("POST", "/v1/data/pathwarden/k8s/golden/ingress_tls") in opa_server.requests

    mine = policy_dir(tmp_path / "p", {"namespace.rego": NAMESPACE})
    inventory = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}}]
    assert testing.judge("test-namespace-exists", pod(), dirs=[mine],
                         inventory=inventory).status == Status.PASS
    assert testing.judge("test-namespace-exists", pod(), dirs=[mine]).status == Status.FAIL
