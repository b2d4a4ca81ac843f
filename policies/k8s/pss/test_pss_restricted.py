"""Pod Security Standards, restricted level: every restricted-only control, and the level.

Cases start from a Pod that the pod-security admission plugin (policy version `latest`,
v1.37) admits at `restricted` and change one thing. The level tests run every policy tagged
`pss:restricted` (baseline's controls included) the way `--select pss:restricted` does.
"""

from __future__ import annotations

import copy

import pytest
from pathwarden.engine import evaluate
from pathwarden.engine.k8s import make_target
from pathwarden.engine.model import Status
from pathwarden.engine.testing import check, pod, policy_set, workload
from pathwarden.engine.testing import container as ctr

PASS, FAIL = Status.PASS, Status.FAIL
C0 = "spec.containers[0]"
I0 = "spec.initContainers[0]"
E0 = "spec.ephemeralContainers[0]"

RESTRICTED_SC = {
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "runAsNonRoot": True,
    "seccompProfile": {"type": "RuntimeDefault"},
}


def good_sc(**changes):
    """RESTRICTED_SC with keys changed; a value of None removes the key."""
    sc = copy.deepcopy(RESTRICTED_SC)
    for key, value in changes.items():
        if value is None:
            sc.pop(key, None)
        else:
            sc[key] = value
    return sc


def restricted_pod(sc=None, where="containers", pod_sc=None, **spec):
    """A restricted-compliant Pod; `sc` replaces the securityContext of the one container in
    `where` (containers, initContainers or ephemeralContainers), whose siblings stay good."""
    spec = dict(spec)
    if pod_sc is not None:
        spec["securityContext"] = pod_sc
    containers = [ctr(sc=good_sc())]
    if where == "containers":
        containers = [ctr(sc=good_sc() if sc is None else sc)]
    else:
        spec[where] = [ctr(name="extra", sc=good_sc() if sc is None else sc)]
    return pod(spec, containers=containers)


WINDOWS = {"os": {"name": "windows"}}
LINUX = {"os": {"name": "linux"}}


# --- Volume types ----------------------------------------------------------------------

ALLOWED_VOLUMES = {
    "configMap": {"name": "cfg"},
    "csi": {"driver": "secrets-store.csi.k8s.io"},
    "downwardAPI": {"items": []},
    "emptyDir": {},
    "ephemeral": {"volumeClaimTemplate": {"spec": {"accessModes": ["ReadWriteOnce"]}}},
    "image": {"reference": "registry.example/data:1.0"},
    "persistentVolumeClaim": {"claimName": "data"},
    "projected": {"sources": []},
    "secret": {"secretName": "tls"},
}
RESTRICTED_VOLUMES = ["hostPath", "gcePersistentDisk", "awsElasticBlockStore", "gitRepo", "nfs",
                      "iscsi", "glusterfs", "rbd", "flexVolume", "cinder", "cephfs", "flocker",
                      "fc", "azureFile", "vsphereVolume", "quobyte", "azureDisk",
                      "portworxVolume", "photonPersistentDisk", "scaleIO", "storageos"]


@pytest.mark.parametrize("kind", sorted(ALLOWED_VOLUMES))
def test_volume_types_allowed_value_passes(kind):
    volumes = [{"name": "v", kind: ALLOWED_VOLUMES[kind]}]
    check("pss-restricted-volume-types", restricted_pod(volumes=volumes), PASS)


@pytest.mark.parametrize("kind", RESTRICTED_VOLUMES)
def test_volume_types_disallowed_value_fails(kind):
    volumes = [{"name": "ok", "emptyDir": {}}, {"name": "bad", kind: {}}]
    finding = check("pss-restricted-volume-types", restricted_pod(volumes=volumes), FAIL,
                    f"spec.volumes[1].{kind}")
    assert finding.violations[0].msg == f'volume "bad" uses restricted volume type {kind}'


@pytest.mark.parametrize(("volumes", "expected"), [
    pytest.param([], PASS, id="no-volumes"),
    pytest.param([{"name": "scratch"}], PASS, id="no-source-defaults-to-emptyDir"),
    pytest.param([{"name": "v", "hostPath": None, "emptyDir": {}}], PASS, id="null-source"),
    pytest.param([{"name": "v", "someFutureSource": {}}], FAIL, id="unknown-source"),
])
def test_volume_types(volumes, expected):
    check("pss-restricted-volume-types", restricted_pod(volumes=volumes), expected)


def test_volume_types_apply_to_windows_pods_too():
    check("pss-restricted-volume-types",
          restricted_pod(volumes=[{"name": "v", "hostPath": {"path": "C:\\"}}], **WINDOWS),
          FAIL, "spec.volumes[0].hostPath")


# --- Privilege escalation --------------------------------------------------------------

@pytest.mark.parametrize(("manifest", "expected", "path"), [
    pytest.param(restricted_pod(), PASS, None, id="false"),
    pytest.param(restricted_pod(good_sc(allowPrivilegeEscalation=True)), FAIL,
                 f"{C0}.securityContext.allowPrivilegeEscalation", id="true"),
    pytest.param(restricted_pod(good_sc(allowPrivilegeEscalation=None)), FAIL,
                 f"{C0}.securityContext.allowPrivilegeEscalation", id="unset"),
    pytest.param(pod(containers=[ctr()]), FAIL,
                 f"{C0}.securityContext.allowPrivilegeEscalation", id="no-security-context"),
    pytest.param(restricted_pod(good_sc(allowPrivilegeEscalation=None), "initContainers"),
                 FAIL, f"{I0}.securityContext.allowPrivilegeEscalation",
                 id="init-container-unset"),
    pytest.param(restricted_pod(good_sc(allowPrivilegeEscalation=True),
                                "ephemeralContainers"),
                 FAIL, f"{E0}.securityContext.allowPrivilegeEscalation",
                 id="ephemeral-container-true"),
    pytest.param(pod(WINDOWS, containers=[ctr()]), PASS, None, id="windows-pod-exempt"),
    pytest.param(pod(LINUX, containers=[ctr()]), FAIL,
                 f"{C0}.securityContext.allowPrivilegeEscalation", id="linux-pod-not-exempt"),
])
def test_privilege_escalation(manifest, expected, path):
    check("pss-restricted-privilege-escalation", manifest, expected, path)


# --- Running as non-root ---------------------------------------------------------------

@pytest.mark.parametrize(("manifest", "expected", "path"), [
    pytest.param(restricted_pod(), PASS, None, id="every-container-true"),
    pytest.param(restricted_pod(good_sc(runAsNonRoot=None), pod_sc={"runAsNonRoot": True}),
                 PASS, None, id="pod-true-container-unset"),
    pytest.param(restricted_pod(pod_sc={"runAsNonRoot": True}), PASS, None, id="both-true"),
    pytest.param(restricted_pod(good_sc(runAsNonRoot=None)), FAIL,
                 f"{C0}.securityContext.runAsNonRoot", id="neither-set"),
    pytest.param(restricted_pod(good_sc(runAsNonRoot=None), pod_sc={"runAsNonRoot": False}),
                 FAIL, "spec.securityContext.runAsNonRoot", id="pod-false"),
    pytest.param(restricted_pod(pod_sc={"runAsNonRoot": False}), FAIL,
                 "spec.securityContext.runAsNonRoot", id="pod-false-containers-true"),
    pytest.param(restricted_pod(good_sc(runAsNonRoot=False), pod_sc={"runAsNonRoot": True}),
                 FAIL, f"{C0}.securityContext.runAsNonRoot", id="container-false-pod-true"),
    pytest.param(restricted_pod(good_sc(runAsNonRoot=None), "initContainers"), FAIL,
                 f"{I0}.securityContext.runAsNonRoot", id="init-container-unset"),
    pytest.param(restricted_pod(good_sc(runAsNonRoot=None), "ephemeralContainers"), FAIL,
                 f"{E0}.securityContext.runAsNonRoot", id="ephemeral-container-unset"),
    pytest.param(restricted_pod(good_sc(runAsNonRoot=None), "initContainers",
                                pod_sc={"runAsNonRoot": True}), PASS, None,
                 id="init-container-covered-by-pod"),
    pytest.param(restricted_pod(good_sc(runAsNonRoot=False), hostUsers=False), PASS, None,
                 id="user-namespace-exempt"),
    pytest.param(restricted_pod(good_sc(runAsNonRoot=None), hostUsers=True), FAIL,
                 f"{C0}.securityContext.runAsNonRoot", id="hostUsers-true-not-exempt"),
    pytest.param(restricted_pod(good_sc(runAsNonRoot=None), **WINDOWS), FAIL,
                 f"{C0}.securityContext.runAsNonRoot", id="windows-not-exempt"),
])
def test_run_as_non_root(manifest, expected, path):
    check("pss-restricted-run-as-non-root", manifest, expected, path)


def test_run_as_non_root_message():
    finding = check("pss-restricted-run-as-non-root",
                    restricted_pod(good_sc(runAsNonRoot=None)), FAIL)
    assert finding.violations[0].msg == (
        'pod or container "app" must set securityContext.runAsNonRoot: true')


# --- Running as non-root user ----------------------------------------------------------

@pytest.mark.parametrize(("manifest", "expected", "path"), [
    pytest.param(restricted_pod(), PASS, None, id="unset"),
    pytest.param(restricted_pod(good_sc(runAsUser=1000), pod_sc={"runAsUser": 65534}), PASS,
                 None, id="non-zero"),
    pytest.param(restricted_pod(pod_sc={"runAsUser": 0}), FAIL,
                 "spec.securityContext.runAsUser", id="pod-0"),
    pytest.param(restricted_pod(good_sc(runAsUser=0)), FAIL, f"{C0}.securityContext.runAsUser",
                 id="container-0"),
    pytest.param(restricted_pod(good_sc(runAsUser=0), pod_sc={"runAsUser": 1000}), FAIL,
                 f"{C0}.securityContext.runAsUser", id="container-0-overrides-pod"),
    pytest.param(restricted_pod(good_sc(runAsUser=0), "initContainers"), FAIL,
                 f"{I0}.securityContext.runAsUser", id="init-container-0"),
    pytest.param(restricted_pod(good_sc(runAsUser=0), "ephemeralContainers"), FAIL,
                 f"{E0}.securityContext.runAsUser", id="ephemeral-container-0"),
    pytest.param(restricted_pod(good_sc(runAsUser=0), pod_sc={"runAsUser": 0},
                                hostUsers=False), PASS, None, id="user-namespace-exempt"),
])
def test_run_as_user(manifest, expected, path):
    check("pss-restricted-run-as-user", manifest, expected, path)


# --- Seccomp (required) ----------------------------------------------------------------

@pytest.mark.parametrize("profile", [{"type": "RuntimeDefault"},
                                     {"type": "Localhost", "localhostProfile": "p.json"}],
                         ids=["RuntimeDefault", "Localhost"])
def test_seccomp_allowed_value_passes(profile):
    no_container_profile = good_sc(seccompProfile=None)
    check("pss-restricted-seccomp",
          restricted_pod(no_container_profile, pod_sc={"seccompProfile": profile}), PASS)
    check("pss-restricted-seccomp", restricted_pod(good_sc(seccompProfile=profile)), PASS)


@pytest.mark.parametrize(("manifest", "expected", "path"), [
    pytest.param(restricted_pod(good_sc(seccompProfile=None)), FAIL,
                 f"{C0}.securityContext.seccompProfile.type", id="unset-everywhere"),
    pytest.param(restricted_pod(good_sc(seccompProfile=None),
                                pod_sc={"seccompProfile": {"type": "Unconfined"}}),
                 FAIL, "spec.securityContext.seccompProfile.type", id="pod-Unconfined"),
    pytest.param(restricted_pod(good_sc(seccompProfile={"type": "Unconfined"}),
                                pod_sc={"seccompProfile": {"type": "RuntimeDefault"}}),
                 FAIL, f"{C0}.securityContext.seccompProfile.type",
                 id="container-Unconfined-overrides-pod"),
    pytest.param(restricted_pod(good_sc(seccompProfile=None), "initContainers"), FAIL,
                 f"{I0}.securityContext.seccompProfile.type", id="init-container-unset"),
    pytest.param(restricted_pod(good_sc(seccompProfile=None), "ephemeralContainers"), FAIL,
                 f"{E0}.securityContext.seccompProfile.type", id="ephemeral-container-unset"),
    pytest.param(restricted_pod(good_sc(seccompProfile={"type": "Unconfined"}),
                                "ephemeralContainers"),
                 FAIL, f"{E0}.securityContext.seccompProfile.type",
                 id="ephemeral-container-Unconfined"),
    pytest.param(restricted_pod(good_sc(seccompProfile=None), "initContainers",
                                pod_sc={"seccompProfile": {"type": "RuntimeDefault"}}),
                 PASS, None, id="init-container-covered-by-pod"),
    pytest.param(pod(WINDOWS, containers=[ctr(sc={"runAsNonRoot": True})]), PASS, None,
                 id="windows-pod-exempt"),
])
def test_seccomp(manifest, expected, path):
    check("pss-restricted-seccomp", manifest, expected, path)


# --- Capabilities (drop ALL) -----------------------------------------------------------

@pytest.mark.parametrize(("caps", "expected", "path"), [
    pytest.param({"drop": ["ALL"]}, PASS, None, id="drop-ALL"),
    pytest.param({"drop": ["NET_RAW", "ALL"]}, PASS, None, id="drop-list-with-ALL"),
    pytest.param({"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}, PASS, None,
                 id="add-NET_BIND_SERVICE"),
    pytest.param({"drop": ["ALL"], "add": []}, PASS, None, id="add-empty"),
    pytest.param(None, FAIL, f"{C0}.securityContext.capabilities.drop", id="no-capabilities"),
    pytest.param({}, FAIL, f"{C0}.securityContext.capabilities.drop", id="empty-capabilities"),
    pytest.param({"drop": ["NET_RAW"]}, FAIL, f"{C0}.securityContext.capabilities.drop",
                 id="drop-without-ALL"),
    pytest.param({"drop": ["all"]}, FAIL, f"{C0}.securityContext.capabilities.drop",
                 id="drop-lowercase-all"),
    pytest.param({"drop": ["ALL"], "add": ["CHOWN"]}, FAIL,
                 f"{C0}.securityContext.capabilities.add[0]", id="add-baseline-default-CHOWN"),
    pytest.param({"drop": ["ALL"], "add": ["NET_BIND_SERVICE", "SYS_ADMIN"]}, FAIL,
                 f"{C0}.securityContext.capabilities.add[1]", id="add-SYS_ADMIN"),
])
def test_capabilities(caps, expected, path):
    sc = good_sc(capabilities=caps) if caps is not None else good_sc(capabilities=None)
    check("pss-restricted-capabilities", restricted_pod(sc), expected, path)


@pytest.mark.parametrize(("manifest", "expected", "path"), [
    pytest.param(restricted_pod(good_sc(capabilities=None), "initContainers"), FAIL,
                 f"{I0}.securityContext.capabilities.drop", id="init-container-missing"),
    pytest.param(restricted_pod(good_sc(capabilities={"drop": ["ALL"], "add": ["NET_RAW"]}),
                                "ephemeralContainers"),
                 FAIL, f"{E0}.securityContext.capabilities.add[0]",
                 id="ephemeral-container-net-raw"),
    pytest.param(pod(WINDOWS, containers=[ctr()]), PASS, None, id="windows-pod-exempt"),
])
def test_capabilities_other_containers(manifest, expected, path):
    check("pss-restricted-capabilities", manifest, expected, path)


# --- /proc mount type (restricted) -----------------------------------------------------

@pytest.mark.parametrize(("manifest", "expected", "path"), [
    pytest.param(restricted_pod(), PASS, None, id="unset"),
    pytest.param(restricted_pod(good_sc(procMount="Default")), PASS, None, id="Default"),
    pytest.param(restricted_pod(good_sc(procMount="Unmasked")), FAIL,
                 f"{C0}.securityContext.procMount", id="Unmasked"),
    pytest.param(restricted_pod(good_sc(procMount="Unmasked"), hostUsers=False), FAIL,
                 f"{C0}.securityContext.procMount", id="Unmasked-even-in-user-namespace"),
    pytest.param(restricted_pod(good_sc(procMount="Unmasked"), "ephemeralContainers",
                                hostUsers=False),
                 FAIL, f"{E0}.securityContext.procMount", id="ephemeral-container-Unmasked"),
])
def test_proc_mount_restricted(manifest, expected, path):
    check("pss-restricted-proc-mount", manifest, expected, path)


# --- autogen ---------------------------------------------------------------------------

@pytest.mark.parametrize(("policy_id", "manifest", "path"), [
    pytest.param("pss-restricted-run-as-non-root",
                 workload("Deployment", restricted_pod(good_sc(runAsNonRoot=None))),
                 "spec.template.spec.containers[0].securityContext.runAsNonRoot",
                 id="deployment-run-as-non-root"),
    pytest.param("pss-restricted-seccomp",
                 workload("CronJob", restricted_pod(good_sc(seccompProfile=None))),
                 "spec.jobTemplate.spec.template.spec.containers[0].securityContext"
                 ".seccompProfile.type", id="cronjob-seccomp"),
    pytest.param("pss-restricted-volume-types",
                 workload("StatefulSet", restricted_pod(volumes=[{"name": "d",
                                                                  "nfs": {"path": "/"}}])),
                 "spec.template.spec.volumes[0].nfs", id="statefulset-nfs"),
    pytest.param("pss-restricted-capabilities",
                 workload("Job", restricted_pod(good_sc(capabilities=None),
                                                "initContainers")),
                 "spec.template.spec.initContainers[0].securityContext.capabilities.drop",
                 id="job-init-container-capabilities"),
])
def test_workload_templates_are_judged(policy_id, manifest, path):
    check(policy_id, manifest, FAIL, path)


# --- the level as a whole --------------------------------------------------------------

RESTRICTED_IDS = {
    "pss-restricted-volume-types", "pss-restricted-privilege-escalation",
    "pss-restricted-run-as-non-root", "pss-restricted-run-as-user", "pss-restricted-seccomp",
    "pss-restricted-capabilities", "pss-restricted-proc-mount",
}


def evaluate_level(manifest, level="pss:restricted"):
    return evaluate([make_target(manifest)], policy_set().select([level]))


def statuses(manifest, level="pss:restricted"):
    return {f.policy_id: f.status for f in evaluate_level(manifest, level)}


def fully_restricted_pod():
    """Everything the restricted level permits, in every container list."""
    return pod(
        {
            "securityContext": {
                "runAsNonRoot": True, "runAsUser": 10001, "runAsGroup": 10001,
                "fsGroup": 10001, "seccompProfile": {"type": "RuntimeDefault"},
                "appArmorProfile": {"type": "RuntimeDefault"},
                "seLinuxOptions": {"type": "container_t", "level": "s0:c1,c2"},
                "sysctls": [{"name": "net.ipv4.ip_unprivileged_port_start", "value": "0"}],
            },
            "initContainers": [ctr("init", good_sc())],
            "ephemeralContainers": [ctr("debug", good_sc(procMount="Default"))],
            "volumes": [{"name": f"v{n}", k: v} for n, (k, v) in
                        enumerate(sorted(ALLOWED_VOLUMES.items()))],
        },
        containers=[ctr("app", good_sc(capabilities={"drop": ["ALL"],
                                                     "add": ["NET_BIND_SERVICE"]},
                                       readOnlyRootFilesystem=True),
                        ports=[{"containerPort": 8080}],
                        livenessProbe={"httpGet": {"path": "/healthz", "port": 8080}},
                        lifecycle={"preStop": {"httpGet": {"path": "/stop", "port": 8080}}})],
        annotations={"container.apparmor.security.beta.kubernetes.io/app": "runtime/default"},
    )


def test_fully_restricted_pod_passes_every_pss_policy():
    findings = evaluate_level(fully_restricted_pod(), "pss:*")
    assert len(findings) == 19
    assert {f.status for f in findings} == {PASS}, [
        (f.policy_id, f.violations) for f in findings if f.status != PASS]


@pytest.mark.parametrize("kind", ["Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob"])
def test_fully_restricted_workload_passes_every_pss_policy(kind):
    findings = evaluate_level(workload(kind, fully_restricted_pod()), "pss:*")
    assert len(findings) == 19
    assert {f.status for f in findings} == {PASS}


def test_default_pod_passes_baseline_but_fails_restricted():
    default = pod()
    assert set(statuses(default, "pss:baseline").values()) == {PASS}
    result = statuses(default)
    failed = {policy_id for policy_id, status in result.items() if status == FAIL}
    assert failed == {"pss-restricted-run-as-non-root", "pss-restricted-seccomp",
                      "pss-restricted-privilege-escalation", "pss-restricted-capabilities"}
    assert len(result) == 19


def test_default_windows_pod_needs_only_run_as_non_root():
    windows = pod(WINDOWS)
    failed = {p for p, s in statuses(windows).items() if s == FAIL}
    assert failed == {"pss-restricted-run-as-non-root"}
    windows["spec"]["securityContext"] = {"runAsNonRoot": True}
    assert set(statuses(windows).values()) == {PASS}


def test_user_namespace_pod_may_run_as_root_but_keeps_proc_masks():
    manifest = pod({"hostUsers": False,
                    "securityContext": {"runAsUser": 0,
                                        "seccompProfile": {"type": "RuntimeDefault"}}},
                   containers=[ctr(sc={"allowPrivilegeEscalation": False, "runAsUser": 0,
                                       "capabilities": {"drop": ["ALL"]},
                                       "procMount": "Unmasked"})])
    assert set(statuses(manifest, "pss:baseline").values()) == {PASS}
    failed = {p for p, s in statuses(manifest).items() if s == FAIL}
    assert failed == {"pss-restricted-proc-mount"}


def test_restricted_only_policies_are_tagged_restricted_only():
    restricted = {c.policy.id: c.policy for c in policy_set().select(["pss:restricted"]).compiled}
    assert len(restricted) == 19
    for policy_id in RESTRICTED_IDS:
        policy = restricted[policy_id]
        assert "pss:baseline" not in policy.tags
        assert {"pss:restricted", "golden-path:secure-workloads"} <= set(policy.tags)
        assert policy.severity in ("medium", "high")
        assert policy.enforcement == "deny"
        assert policy.url.endswith("#restricted")


def test_odd_input_never_errors():
    manifests = [
        {"apiVersion": "v1", "kind": "Pod", "spec": None},
        pod({"os": None, "securityContext": None, "volumes": [None, {"name": "x"}]},
            containers=[None, {"name": "c", "securityContext": None}]),
        pod({"os": "windows", "hostUsers": None, "securityContext": {"seccompProfile": "x"}},
            containers=[ctr(sc={"capabilities": {"drop": "ALL", "add": None},
                                "seccompProfile": {"type": ["x"]}, "runAsUser": "0"})]),
    ]
    for manifest in manifests:
        for finding in evaluate_level(manifest, "pss:*"):
            assert finding.status in (PASS, FAIL), (finding.policy_id, finding.error)
