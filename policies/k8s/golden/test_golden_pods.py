"""Tests of the golden-path resource, probe (Rego) and image-tag policies, through the engine.

They are pytest cases rather than Rego `test_` rules because rego-cpp 1.5.2 aborts on
`with input as …` when the policy under test calls sprintf on local variables.
"""

from __future__ import annotations

import pytest
from pathwarden.engine.testing import judge, pod, workload

FULL = {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "1", "memory": "1Gi"}}
PROBE = {"httpGet": {"path": "/healthz", "port": 8080}}


def _container(**fields):
    return {"name": "app", "image": "app:1.0", **fields}


def test_resources_pass_with_requests_and_limits():
    finding = judge("golden-resources", pod(containers=[_container(resources=FULL)]))
    assert finding.status == "pass"


def test_resources_fail_once_per_missing_field_with_its_path():
    finding = judge("golden-resources", pod(containers=[_container()]))
    assert finding.status == "fail"
    assert {v.path for v in finding.violations} == {
        "spec.containers[0].resources.requests.cpu",
        "spec.containers[0].resources.requests.memory",
        "spec.containers[0].resources.limits.memory",
    }


def test_resources_missing_cpu_limit_is_only_a_warning():
    resources = {"requests": FULL["requests"], "limits": {"memory": "1Gi"}}
    finding = judge("golden-resources", pod(containers=[_container(resources=resources)]))
    assert finding.status == "warn"
    assert finding.warnings[0].msg == 'container "app" has no resources.limits.cpu'


def test_resources_of_init_containers_are_checked_in_the_deployment_template():
    spec = {"initContainers": [_container(name="init")]}
    manifest = workload("Deployment", pod(spec, containers=[_container(resources=FULL)]))
    finding = judge("golden-resources", manifest)
    assert finding.violations[0].path.startswith("spec.template.spec.initContainers[0]")


def test_probes_pass_with_liveness_and_readiness():
    manifest = pod(containers=[_container(livenessProbe=PROBE, readinessProbe=PROBE)])
    assert judge("golden-probes", manifest).status == "pass"


def test_probes_name_the_missing_probe():
    finding = judge("golden-probes", pod(containers=[_container(livenessProbe=PROBE)]))
    assert finding.status == "fail"
    assert [v.msg for v in finding.violations] == ['container "app" has no readinessProbe']


@pytest.mark.parametrize("kind", ["Job", "CronJob"])
def test_probes_are_not_required_for_pods_that_run_to_completion(kind):
    manifest = workload(kind, pod({"restartPolicy": "OnFailure"}))
    assert judge("golden-probes", manifest).status == "pass"


@pytest.mark.parametrize(("image", "status"), [
    ("ghcr.io/acme/api:1.4.2", "pass"),
    ("ghcr.io/acme/api@sha256:" + "a" * 64, "pass"),
    ("registry.local:5000/team/api:2.0", "pass"),
    ("nginx:latest", "fail"),
    ("nginx", "fail"),
    ("registry.local:5000/team/api", "fail"),
])
def test_image_tag_judges_each_reference(image, status):
    assert judge("golden-image-tag", pod(containers=[_container(image=image)])).status == status


def test_image_tag_checks_ephemeral_containers():
    spec = {"ephemeralContainers": [_container(name="debug", image="busybox")]}
    finding = judge("golden-image-tag", pod(spec))
    assert finding.violations[0].path == "spec.ephemeralContainers[0].image"
