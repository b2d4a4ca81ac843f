"""Pod Security Standards, baseline level (part 1: host access, privileged, capabilities)
against upstream's allowed values.

Each case is a Pod that Kubernetes' pod-security admission (policy version `latest`, v1.37)
admits or rejects at `baseline`; the rule must agree. Cases cover pod-level fields, every
container list upstream visits (containers, initContainers, ephemeralContainers) and the
workload pod templates the engine lifts out (autogen).
"""

from __future__ import annotations

import pytest
from pathwarden.engine.model import Status
from pathwarden.engine.testing import check, pod, pod_sc, with_sc
from pathwarden.engine.testing import container as ctr

PASS, FAIL = Status.PASS, Status.FAIL
C0 = "spec.containers[0]"
I0 = "spec.initContainers[0]"
E0 = "spec.ephemeralContainers[0]"


# --- HostProcess -----------------------------------------------------------------------

@pytest.mark.parametrize(("manifest", "expected", "path"), [
    pytest.param(pod(), PASS, None, id="unset"),
    pytest.param(pod_sc(windowsOptions={"hostProcess": False}), PASS, None, id="pod-false"),
    pytest.param(with_sc({"windowsOptions": {"hostProcess": False}}), PASS, None,
                 id="container-false"),
    pytest.param(with_sc({"windowsOptions": {"runAsUserName": "app"}}), PASS, None,
                 id="other-windows-options"),
    pytest.param(pod_sc(windowsOptions={"hostProcess": True}), FAIL,
                 "spec.securityContext.windowsOptions.hostProcess", id="pod-true"),
    pytest.param(with_sc({"windowsOptions": {"hostProcess": True}}), FAIL,
                 f"{C0}.securityContext.windowsOptions.hostProcess", id="container-true"),
    pytest.param(with_sc({"windowsOptions": {"hostProcess": True}}, "initContainers"), FAIL,
                 f"{I0}.securityContext.windowsOptions.hostProcess", id="init-container-true"),
    pytest.param(with_sc({"windowsOptions": {"hostProcess": True}}, "ephemeralContainers"),
                 FAIL, f"{E0}.securityContext.windowsOptions.hostProcess",
                 id="ephemeral-container-true"),
])
def test_host_process(manifest, expected, path):
    check("pss-baseline-host-process", manifest, expected, path)


# --- Host namespaces -------------------------------------------------------------------

@pytest.mark.parametrize(("spec", "expected", "path"), [
    pytest.param({}, PASS, None, id="unset"),
    pytest.param({"hostNetwork": False, "hostPID": False, "hostIPC": False}, PASS, None,
                 id="all-false"),
    pytest.param({"hostNetwork": True}, FAIL, "spec.hostNetwork", id="hostNetwork-true"),
    pytest.param({"hostPID": True}, FAIL, "spec.hostPID", id="hostPID-true"),
    pytest.param({"hostIPC": True}, FAIL, "spec.hostIPC", id="hostIPC-true"),
])
def test_host_namespaces(spec, expected, path):
    check("pss-baseline-host-namespaces", pod(spec), expected, path)


def test_host_namespaces_reports_each_namespace():
    finding = check("pss-baseline-host-namespaces",
                    pod({"hostNetwork": True, "hostPID": True, "hostIPC": True}), FAIL)
    assert [v.path for v in finding.violations] == ["spec.hostNetwork", "spec.hostPID",
                                                    "spec.hostIPC"]
    assert finding.violations[0].msg == "pod sets hostNetwork: true"


# --- Privileged ------------------------------------------------------------------------

@pytest.mark.parametrize(("manifest", "expected", "path"), [
    pytest.param(pod(), PASS, None, id="no-security-context"),
    pytest.param(with_sc({}), PASS, None, id="empty-security-context"),
    pytest.param(with_sc({"privileged": False}), PASS, None, id="false"),
    pytest.param(with_sc({"privileged": True}), FAIL, f"{C0}.securityContext.privileged",
                 id="container-true"),
    pytest.param(with_sc({"privileged": True}, "initContainers"), FAIL,
                 f"{I0}.securityContext.privileged", id="init-container-true"),
    pytest.param(with_sc({"privileged": True}, "ephemeralContainers"), FAIL,
                 f"{E0}.securityContext.privileged", id="ephemeral-container-true"),
])
def test_privileged(manifest, expected, path):
    check("pss-baseline-privileged", manifest, expected, path)


def test_privileged_message_names_container_and_value():
    finding = check("pss-baseline-privileged", with_sc({"privileged": True}), FAIL)
    assert finding.violations[0].msg == 'container "app" sets securityContext.privileged: true'


# --- Capabilities ----------------------------------------------------------------------

BASELINE_CAPABILITIES = ["AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL",
                         "MKNOD", "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID",
                         "SYS_CHROOT"]


@pytest.mark.parametrize("cap", BASELINE_CAPABILITIES)
def test_capabilities_allowed_value_passes(cap):
    check("pss-baseline-capabilities", with_sc({"capabilities": {"add": [cap]}}), PASS)


@pytest.mark.parametrize("cap", ["NET_RAW", "SYS_ADMIN", "SYS_PTRACE", "NET_ADMIN", "SYS_MODULE",
                                 "BPF", "ALL", "CAP_CHOWN", "chown"])
def test_capabilities_disallowed_value_fails(cap):
    check("pss-baseline-capabilities", with_sc({"capabilities": {"add": ["CHOWN", cap]}}), FAIL,
          f"{C0}.securityContext.capabilities.add[1]")


@pytest.mark.parametrize(("manifest", "expected", "path"), [
    pytest.param(pod(), PASS, None, id="unset"),
    pytest.param(with_sc({"capabilities": {"add": []}}), PASS, None, id="empty-add"),
    pytest.param(with_sc({"capabilities": {"drop": ["ALL"]}}), PASS, None, id="drop-only"),
    pytest.param(with_sc({"capabilities": {"add": BASELINE_CAPABILITIES}}), PASS, None,
                 id="all-defaults-at-once"),
    pytest.param(with_sc({"capabilities": {"add": ["SYS_ADMIN"]}}, "initContainers"), FAIL,
                 f"{I0}.securityContext.capabilities.add[0]", id="init-container-sys-admin"),
    pytest.param(with_sc({"capabilities": {"add": ["NET_RAW"]}}, "ephemeralContainers"), FAIL,
                 f"{E0}.securityContext.capabilities.add[0]", id="ephemeral-container-net-raw"),
])
def test_capabilities(manifest, expected, path):
    check("pss-baseline-capabilities", manifest, expected, path)


# --- HostPath volumes ------------------------------------------------------------------

@pytest.mark.parametrize(("volumes", "expected", "path"), [
    pytest.param([], PASS, None, id="no-volumes"),
    pytest.param([{"name": "tmp", "emptyDir": {}}], PASS, None, id="emptyDir"),
    pytest.param([{"name": "cfg", "configMap": {"name": "cfg"}}], PASS, None, id="configMap"),
    pytest.param([{"name": "data", "nfs": {"server": "nfs", "path": "/"}}], PASS, None,
                 id="nfs-is-restricted-not-baseline"),
    pytest.param([{"name": "tmp", "emptyDir": {}},
                  {"name": "host", "hostPath": {"path": "/var/run/docker.sock"}}], FAIL,
                 "spec.volumes[1].hostPath", id="hostPath"),
    pytest.param([{"name": "host", "hostPath": {}}], FAIL, "spec.volumes[0].hostPath",
                 id="hostPath-empty-object"),
])
def test_host_path_volumes(volumes, expected, path):
    check("pss-baseline-host-path-volumes", pod({"volumes": volumes}), expected, path)


# --- Host ports ------------------------------------------------------------------------

@pytest.mark.parametrize(("manifest", "expected", "path"), [
    pytest.param(pod(), PASS, None, id="no-ports"),
    pytest.param(pod(containers=[ctr(ports=[{"containerPort": 8080}])]), PASS, None,
                 id="containerPort-only"),
    pytest.param(pod(containers=[ctr(ports=[{"containerPort": 80, "hostPort": 0}])]), PASS,
                 None, id="hostPort-0"),
    pytest.param(pod(containers=[ctr(ports=[{"containerPort": 80},
                                            {"containerPort": 81, "hostPort": 8081}])]),
                 FAIL, f"{C0}.ports[1].hostPort", id="container-hostPort"),
    pytest.param(pod({"initContainers": [ctr("init", ports=[{"containerPort": 9,
                                                              "hostPort": 9}])]}),
                 FAIL, f"{I0}.ports[0].hostPort", id="init-container-hostPort"),
    pytest.param(pod({"ephemeralContainers": [ctr("dbg", ports=[{"containerPort": 9,
                                                                  "hostPort": 9}])]}),
                 FAIL, f"{E0}.ports[0].hostPort", id="ephemeral-container-hostPort"),
])
def test_host_ports(manifest, expected, path):
    check("pss-baseline-host-ports", manifest, expected, path)


# --- Host probes / lifecycle hooks -----------------------------------------------------

HOST_FIELDS = [(probe, action) for probe in ("livenessProbe", "readinessProbe", "startupProbe")
               for action in ("httpGet", "tcpSocket")]
HOOK_FIELDS = [(f"lifecycle.{hook}", action) for hook in ("postStart", "preStop")
               for action in ("httpGet", "tcpSocket")]


def handler_container(where, action, host, name="app"):
    handler = {action: {"port": 8080, **({"host": host} if host is not None else {})}}
    if where.startswith("lifecycle."):
        return ctr(name, lifecycle={where.split(".", 1)[1]: handler})
    return ctr(name, **{where: handler})


@pytest.mark.parametrize(("where", "action"), HOST_FIELDS + HOOK_FIELDS,
                         ids=[f"{w}.{a}" for w, a in HOST_FIELDS + HOOK_FIELDS])
def test_host_probes_host_set_fails(where, action):
    manifest = pod(containers=[handler_container(where, action, "169.254.169.254")])
    finding = check("pss-baseline-host-probes", manifest, FAIL, f"{C0}.{where}.{action}.host")
    assert "169.254.169.254" in finding.violations[0].msg


@pytest.mark.parametrize(("where", "action"), HOST_FIELDS + HOOK_FIELDS,
                         ids=[f"{w}.{a}" for w, a in HOST_FIELDS + HOOK_FIELDS])
@pytest.mark.parametrize("host", [None, ""], ids=["unset", "empty"])
def test_host_probes_host_unset_or_empty_passes(where, action, host):
    check("pss-baseline-host-probes", pod(containers=[handler_container(where, action, host)]),
          PASS)


@pytest.mark.parametrize(("manifest", "expected", "path"), [
    pytest.param(pod(containers=[ctr(livenessProbe={"exec": {"command": ["true"]}},
                                     readinessProbe={"grpc": {"port": 9000}})]), PASS, None,
                 id="exec-and-grpc-probes"),
    pytest.param(pod({"initContainers": [handler_container("startupProbe", "httpGet",
                                                           "localhost", "init")]}),
                 FAIL, f"{I0}.startupProbe.httpGet.host", id="init-container"),
    pytest.param(pod({"ephemeralContainers": [handler_container("lifecycle.preStop",
                                                                "tcpSocket", "10.0.0.1",
                                                                "dbg")]}),
                 FAIL, f"{E0}.lifecycle.preStop.tcpSocket.host", id="ephemeral-container"),
])
def test_host_probes(manifest, expected, path):
    check("pss-baseline-host-probes", manifest, expected, path)
