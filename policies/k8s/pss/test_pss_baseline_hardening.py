"""Pod Security Standards, baseline level (part 2: AppArmor, SELinux, /proc, seccomp,
sysctls, workload templates and the level as a whole) against upstream's allowed values.

Each case is a Pod that Kubernetes' pod-security admission (policy version `latest`, v1.37)
admits or rejects at `baseline`; the rule must agree. Cases cover pod-level fields, every
container list upstream visits (containers, initContainers, ephemeralContainers) and the
workload pod templates the engine lifts out (autogen).
"""

from __future__ import annotations

import pytest
from pathwarden.engine import evaluate
from pathwarden.engine.k8s import make_target
from pathwarden.engine.model import Status
from pathwarden.engine.testing import check, pod, pod_sc, policy_set, with_sc, workload
from pathwarden.engine.testing import container as ctr

PASS, FAIL = Status.PASS, Status.FAIL
C0 = "spec.containers[0]"
I0 = "spec.initContainers[0]"
E0 = "spec.ephemeralContainers[0]"


# --- AppArmor --------------------------------------------------------------------------

ANNOTATION = "container.apparmor.security.beta.kubernetes.io/app"


@pytest.mark.parametrize(("manifest", "expected", "path"), [
    pytest.param(pod(), PASS, None, id="unset"),
    pytest.param(pod_sc(appArmorProfile={"type": "RuntimeDefault"}), PASS, None,
                 id="pod-RuntimeDefault"),
    pytest.param(pod_sc(appArmorProfile={"type": "Localhost", "localhostProfile": "k8s-app"}),
                 PASS, None, id="pod-Localhost"),
    pytest.param(with_sc({"appArmorProfile": {"type": "RuntimeDefault"}}), PASS, None,
                 id="container-RuntimeDefault"),
    pytest.param(with_sc({"appArmorProfile": {"type": "Localhost", "localhostProfile": "p"}}),
                 PASS, None, id="container-Localhost"),
    pytest.param(pod_sc(appArmorProfile={"type": "Unconfined"}), FAIL,
                 "spec.securityContext.appArmorProfile.type", id="pod-Unconfined"),
    pytest.param(with_sc({"appArmorProfile": {"type": "Unconfined"}}), FAIL,
                 f"{C0}.securityContext.appArmorProfile.type", id="container-Unconfined"),
    pytest.param(with_sc({"appArmorProfile": {"type": "Unconfined"}}, "initContainers"), FAIL,
                 f"{I0}.securityContext.appArmorProfile.type", id="init-container-Unconfined"),
    pytest.param(with_sc({"appArmorProfile": {"type": "Unconfined"}}, "ephemeralContainers"),
                 FAIL, f"{E0}.securityContext.appArmorProfile.type",
                 id="ephemeral-container-Unconfined"),
    pytest.param(with_sc({"appArmorProfile": {"type": "runtime/default"}}), FAIL,
                 f"{C0}.securityContext.appArmorProfile.type", id="container-annotation-syntax"),
    pytest.param(pod_sc(appArmorProfile={}), FAIL,
                 "spec.securityContext.appArmorProfile.type", id="pod-profile-without-type"),
])
def test_apparmor_fields(manifest, expected, path):
    check("pss-baseline-apparmor", manifest, expected, path)


@pytest.mark.parametrize(("value", "expected"), [
    pytest.param("runtime/default", PASS, id="runtime-default"),
    pytest.param("localhost/k8s-apparmor-example", PASS, id="localhost-profile"),
    pytest.param("", PASS, id="empty"),
    pytest.param("unconfined", FAIL, id="unconfined"),
    pytest.param("docker/default", FAIL, id="docker-default"),
    pytest.param("RuntimeDefault", FAIL, id="field-syntax"),
])
def test_apparmor_annotation(value, expected):
    finding = check("pss-baseline-apparmor", pod(annotations={ANNOTATION: value}), expected,
                    f'metadata.annotations["{ANNOTATION}"]')
    if expected == FAIL:
        assert value in finding.violations[0].msg


def test_apparmor_other_annotations_are_ignored():
    check("pss-baseline-apparmor",
          pod(annotations={"example.com/apparmor": "unconfined",
                           "seccomp.security.alpha.kubernetes.io/pod": "unconfined"}), PASS)


# --- SELinux ---------------------------------------------------------------------------

SELINUX_TYPES = ["container_t", "container_init_t", "container_kvm_t", "container_engine_t", ""]


@pytest.mark.parametrize("selinux_type", SELINUX_TYPES)
def test_selinux_allowed_type_passes(selinux_type):
    check("pss-baseline-selinux", pod_sc(seLinuxOptions={"type": selinux_type}), PASS)
    check("pss-baseline-selinux", with_sc({"seLinuxOptions": {"type": selinux_type}}), PASS)


@pytest.mark.parametrize("selinux_type", ["spc_t", "unconfined_t", "container_logreader_t",
                                          "Container_t"])
def test_selinux_disallowed_type_fails(selinux_type):
    check("pss-baseline-selinux", pod_sc(seLinuxOptions={"type": selinux_type}), FAIL,
          "spec.securityContext.seLinuxOptions.type")
    check("pss-baseline-selinux", with_sc({"seLinuxOptions": {"type": selinux_type}}), FAIL,
          f"{C0}.securityContext.seLinuxOptions.type")


@pytest.mark.parametrize(("manifest", "expected", "path"), [
    pytest.param(pod(), PASS, None, id="unset"),
    pytest.param(pod_sc(seLinuxOptions={"level": "s0:c123,c456"}), PASS, None,
                 id="level-only"),
    pytest.param(pod_sc(seLinuxOptions={"user": "", "role": ""}), PASS, None,
                 id="empty-user-and-role"),
    pytest.param(pod_sc(seLinuxOptions={"user": "system_u"}), FAIL,
                 "spec.securityContext.seLinuxOptions.user", id="pod-user"),
    pytest.param(pod_sc(seLinuxOptions={"role": "system_r"}), FAIL,
                 "spec.securityContext.seLinuxOptions.role", id="pod-role"),
    pytest.param(with_sc({"seLinuxOptions": {"user": "sysadm_u"}}), FAIL,
                 f"{C0}.securityContext.seLinuxOptions.user", id="container-user"),
    pytest.param(with_sc({"seLinuxOptions": {"type": "spc_t"}}, "initContainers"), FAIL,
                 f"{I0}.securityContext.seLinuxOptions.type", id="init-container-spc_t"),
    pytest.param(with_sc({"seLinuxOptions": {"role": "r"}}, "ephemeralContainers"), FAIL,
                 f"{E0}.securityContext.seLinuxOptions.role", id="ephemeral-container-role"),
])
def test_selinux(manifest, expected, path):
    check("pss-baseline-selinux", manifest, expected, path)


# --- /proc mount type ------------------------------------------------------------------

@pytest.mark.parametrize(("manifest", "expected", "path"), [
    pytest.param(pod(), PASS, None, id="unset"),
    pytest.param(with_sc({"procMount": "Default"}), PASS, None, id="Default"),
    pytest.param(with_sc({"procMount": "Unmasked"}), FAIL, f"{C0}.securityContext.procMount",
                 id="container-Unmasked"),
    pytest.param(with_sc({"procMount": "Unmasked"}, "initContainers"), FAIL,
                 f"{I0}.securityContext.procMount", id="init-container-Unmasked"),
    pytest.param(with_sc({"procMount": "Unmasked"}, "ephemeralContainers"), FAIL,
                 f"{E0}.securityContext.procMount", id="ephemeral-container-Unmasked"),
    pytest.param(with_sc({"procMount": "Unmasked"}, hostUsers=True), FAIL,
                 f"{C0}.securityContext.procMount", id="Unmasked-hostUsers-true"),
    pytest.param(with_sc({"procMount": "Unmasked"}, hostUsers=False), PASS, None,
                 id="Unmasked-in-user-namespace"),
])
def test_proc_mount(manifest, expected, path):
    check("pss-baseline-proc-mount", manifest, expected, path)


# --- Seccomp ---------------------------------------------------------------------------

@pytest.mark.parametrize(("manifest", "expected", "path"), [
    pytest.param(pod(), PASS, None, id="unset"),
    pytest.param(pod_sc(seccompProfile={"type": "RuntimeDefault"}), PASS, None,
                 id="pod-RuntimeDefault"),
    pytest.param(pod_sc(seccompProfile={"type": "Localhost", "localhostProfile": "p.json"}),
                 PASS, None, id="pod-Localhost"),
    pytest.param(with_sc({"seccompProfile": {"type": "RuntimeDefault"}}), PASS, None,
                 id="container-RuntimeDefault"),
    pytest.param(with_sc({"seccompProfile": {"type": "Localhost", "localhostProfile": "p"}}),
                 PASS, None, id="container-Localhost"),
    pytest.param(pod_sc(seccompProfile={"type": "Unconfined"}), FAIL,
                 "spec.securityContext.seccompProfile.type", id="pod-Unconfined"),
    pytest.param(with_sc({"seccompProfile": {"type": "Unconfined"}}), FAIL,
                 f"{C0}.securityContext.seccompProfile.type", id="container-Unconfined"),
    pytest.param(with_sc({"seccompProfile": {"type": "Unconfined"}}, "initContainers"), FAIL,
                 f"{I0}.securityContext.seccompProfile.type", id="init-container-Unconfined"),
    pytest.param(with_sc({"seccompProfile": {"type": "Unconfined"}}, "ephemeralContainers"),
                 FAIL, f"{E0}.securityContext.seccompProfile.type",
                 id="ephemeral-container-Unconfined"),
    pytest.param(pod({"securityContext": {"seccompProfile": {"type": "RuntimeDefault"}}},
                     containers=[ctr(sc={"seccompProfile": {"type": "Unconfined"}})]),
                 FAIL, f"{C0}.securityContext.seccompProfile.type",
                 id="container-Unconfined-overrides-pod-RuntimeDefault"),
])
def test_seccomp(manifest, expected, path):
    check("pss-baseline-seccomp", manifest, expected, path)


def test_seccomp_baseline_ignores_legacy_annotations():
    # Policy v1.19+ checks the field only; the alpha annotations are inert since v1.27.
    manifest = pod(annotations={"seccomp.security.alpha.kubernetes.io/pod": "unconfined"})
    check("pss-baseline-seccomp", manifest, PASS)


# --- Sysctls ---------------------------------------------------------------------------

SAFE_SYSCTLS = [
    "kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range", "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.ip_local_reserved_ports",                                          # v1.27
    "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout",                    # v1.29
    "net.ipv4.tcp_keepalive_intvl", "net.ipv4.tcp_keepalive_probes",              # v1.29
    "net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem",                                     # v1.32
    "net.ipv4.tcp_slow_start_after_idle", "net.ipv4.tcp_notsent_lowat",           # v1.37
]


def sysctl_pod(*names):
    return pod_sc(sysctls=[{"name": n, "value": "1"} for n in names])


@pytest.mark.parametrize("name", SAFE_SYSCTLS)
def test_sysctls_allowed_value_passes(name):
    check("pss-baseline-sysctls", sysctl_pod(name), PASS)


@pytest.mark.parametrize("name", ["kernel.msgmax", "net.core.somaxconn", "vm.swappiness",
                                  "kernel.sem", "net.ipv4.ip_forward",
                                  "net/ipv4/tcp_syncookies", "NET.IPV4.TCP_SYNCOOKIES", ""])
def test_sysctls_disallowed_value_fails(name):
    finding = check("pss-baseline-sysctls", sysctl_pod("kernel.shm_rmid_forced", name), FAIL,
                    "spec.securityContext.sysctls[1].name")
    assert len(finding.violations) == 1


def test_sysctls_all_safe_at_once_and_unset_pass():
    check("pss-baseline-sysctls", sysctl_pod(*SAFE_SYSCTLS), PASS)
    check("pss-baseline-sysctls", pod(), PASS)
    check("pss-baseline-sysctls", pod_sc(sysctls=[]), PASS)


# --- autogen: workload pod templates ---------------------------------------------------

@pytest.mark.parametrize(("policy_id", "manifest", "path"), [
    pytest.param("pss-baseline-privileged",
                 workload("Deployment", with_sc({"privileged": True})),
                 "spec.template.spec.containers[0].securityContext.privileged",
                 id="deployment-privileged"),
    pytest.param("pss-baseline-host-ports",
                 workload("CronJob", pod(containers=[ctr(ports=[{"containerPort": 80,
                                                                 "hostPort": 80}])])),
                 "spec.jobTemplate.spec.template.spec.containers[0].ports[0].hostPort",
                 id="cronjob-host-port"),
    pytest.param("pss-baseline-host-path-volumes",
                 workload("StatefulSet", pod({"volumes": [{"name": "h",
                                                          "hostPath": {"path": "/"}}]})),
                 "spec.template.spec.volumes[0].hostPath", id="statefulset-host-path"),
    pytest.param("pss-baseline-host-namespaces",
                 workload("DaemonSet", pod({"hostNetwork": True})),
                 "spec.template.spec.hostNetwork", id="daemonset-host-network"),
    pytest.param("pss-baseline-capabilities",
                 workload("Job", with_sc({"capabilities": {"add": ["SYS_ADMIN"]}},
                                         "initContainers")),
                 "spec.template.spec.initContainers[0].securityContext.capabilities.add[0]",
                 id="job-init-container-capability"),
    pytest.param("pss-baseline-apparmor",
                 workload("Deployment", pod(annotations={ANNOTATION: "unconfined"})),
                 f'spec.template.metadata.annotations["{ANNOTATION}"]',
                 id="deployment-apparmor-annotation"),
    pytest.param("pss-baseline-sysctls",
                 workload("ReplicaSet", sysctl_pod("kernel.msgmax")),
                 "spec.template.spec.securityContext.sysctls[0].name",
                 id="replicaset-sysctl"),
])
def test_workload_templates_are_judged(policy_id, manifest, path):
    check(policy_id, manifest, FAIL, path)


def test_compliant_workload_template_passes():
    check("pss-baseline-privileged", workload("Deployment", with_sc({"privileged": False})),
          PASS)


# --- the level as a whole --------------------------------------------------------------

def evaluate_level(manifest, level):
    return evaluate([make_target(manifest)], policy_set().select([level]))


def test_default_pod_passes_every_baseline_policy():
    findings = evaluate_level(pod(), "pss:baseline")
    assert len(findings) == 12
    assert {f.status for f in findings} == {PASS}


def test_privileged_pod_fails_the_baseline_controls_it_breaks():
    manifest = pod({"hostPID": True,
                    "volumes": [{"name": "root", "hostPath": {"path": "/"}}]},
                   containers=[ctr(sc={"privileged": True,
                                       "capabilities": {"add": ["SYS_ADMIN"]}},
                                   ports=[{"containerPort": 22, "hostPort": 22}])])
    failed = {f.policy_id for f in evaluate_level(manifest, "pss:baseline")
              if f.status == FAIL}
    assert failed == {"pss-baseline-host-namespaces", "pss-baseline-host-path-volumes",
                      "pss-baseline-privileged", "pss-baseline-capabilities",
                      "pss-baseline-host-ports"}


def test_baseline_policies_are_tagged_for_both_levels():
    baseline = [c.policy for c in policy_set().select(["pss:baseline"]).compiled]
    assert {p.id for p in baseline} == {
        "pss-baseline-host-process", "pss-baseline-host-namespaces", "pss-baseline-privileged",
        "pss-baseline-capabilities", "pss-baseline-host-path-volumes",
        "pss-baseline-host-ports", "pss-baseline-host-probes", "pss-baseline-apparmor",
        "pss-baseline-selinux", "pss-baseline-proc-mount", "pss-baseline-seccomp",
        "pss-baseline-sysctls",
    }
    for policy in baseline:
        assert {"pss:baseline", "pss:restricted", "golden-path:secure-workloads"} <= set(
            policy.tags)
        assert policy.severity in ("high", "critical")
        assert policy.enforcement == "deny"
        assert policy.kinds == ("Pod",)
        assert policy.url and policy.remediation and policy.description


ODD_MANIFESTS = [
    pytest.param({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"}}, id="no-spec"),
    pytest.param({"apiVersion": "v1", "kind": "Pod", "metadata": None, "spec": None},
                 id="null-spec-and-metadata"),
    pytest.param(pod({"securityContext": None, "volumes": None, "initContainers": None,
                      "ephemeralContainers": None}), id="null-lists"),
    pytest.param(pod({"volumes": [None, "x", {"name": "v"}]},
                     containers=[None, "x", {"name": "c", "securityContext": None,
                                             "ports": None, "lifecycle": None,
                                             "livenessProbe": None}]),
                 id="junk-list-items"),
    pytest.param(pod({"securityContext": {"sysctls": None, "seLinuxOptions": None,
                                          "seccompProfile": None, "appArmorProfile": None,
                                          "windowsOptions": None}},
                     containers=[ctr(sc={"capabilities": None, "seLinuxOptions": None,
                                         "seccompProfile": None, "windowsOptions": None,
                                         "appArmorProfile": None, "procMount": None})]),
                 id="null-security-fields"),
    pytest.param(pod({"securityContext": {"sysctls": "x"}},
                     containers=[ctr(sc={"capabilities": {"add": "NET_RAW"}},
                                     ports="80", livenessProbe="x",
                                     lifecycle={"preStop": "x"})],
                     annotations={ANNOTATION: None}),
                 id="wrong-types"),
]


@pytest.mark.parametrize("manifest", ODD_MANIFESTS)
def test_odd_input_never_errors_and_passes_baseline(manifest):
    findings = evaluate_level(manifest, "pss:baseline")
    assert findings
    assert {f.status for f in findings} == {PASS}, [
        (f.policy_id, f.status, f.error) for f in findings if f.status != PASS]


def test_unhashable_values_fail_without_error():
    manifest = pod({"securityContext": {"sysctls": [{"name": ["x"]}],
                                        "seccompProfile": {"type": {"x": 1}}}},
                   containers=[ctr(sc={"capabilities": {"add": [{"x": 1}]},
                                       "seLinuxOptions": {"type": ["x"]}})])
    findings = {f.policy_id: f for f in evaluate_level(manifest, "pss:baseline")}
    for policy_id in ("pss-baseline-sysctls", "pss-baseline-seccomp",
                      "pss-baseline-capabilities", "pss-baseline-selinux"):
        assert findings[policy_id].status == FAIL, findings[policy_id]
