"""Kubernetes Pod Security Standards, baseline level, as pathwarden rules.

The restricted level is in restricted.py.

A faithful port of the built-in pod-security admission plugin at its newest policy version
(`latest` on Kubernetes v1.37): `k8s.io/pod-security-admission/policy/check_*.go` in
kubernetes/kubernetes, cross-checked with the "Pod Security Standards" page of
kubernetes/website. A Pod the plugin rejects at a level fails the rules tagged with that
level (`pss:baseline` or `pss:restricted`); a Pod it admits passes them.

Upstream's check, level and version for each rule is named in its docstring. How the two
levels map onto tags:

* Every baseline check is tagged `pss:baseline` and `pss:restricted`: restricted is
  baseline plus its own checks.
* Upstream's restricted level *replaces* four baseline checks with stricter ones
  (`OverrideCheckIDs`): restrictedVolumes replaces hostPathVolumes, capabilities_restricted
  replaces capabilities_baseline, seccompProfile_restricted replaces seccompProfile_baseline
  and procMount_restricted replaces procMount. Here both run under `pss:restricted`; each
  replacement forbids everything the replaced check forbids, so the verdict is the same for
  every Pod the API server accepts. (Only API-invalid Windows Pods that set Linux-only
  fields could tell the difference; pod validation rejects those before admission runs.)

Rules read the Pod exactly as the API server stores it, so there is no coercion: values are
compared as upstream compares them (case-sensitive strings, `true`/`false` booleans). The
rules never raise on odd input: a missing or null field counts as unset, as in Go.
"""

from __future__ import annotations

from pathwarden.engine.podspec import (
    allowed,
    as_dict,
    as_list,
    container_security_contexts,
    containers,
    in_user_namespace,
    is_zero,
    non_default_proc_mounts,
    pod_metadata,
    pod_security_context,
    pod_spec,
    profile_type,
)
from pathwarden.engine.rules import rule

URL_BASELINE = "https://kubernetes.io/docs/concepts/security/pod-security-standards/#baseline"
BASELINE_TAGS = ["pss:baseline", "pss:restricted", "golden-path:secure-workloads"]
# check_capabilities_baseline.go, capabilities_allowed_1_0 (the only version).
BASELINE_CAPABILITIES = frozenset({
    "AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
    "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
})
# check_sysctls.go, sysctlsAllowedV1Dot37 (= V1Dot0 + V1Dot27 + V1Dot29 + V1Dot32 + V1Dot37).
SAFE_SYSCTLS = frozenset({
    # v1.0
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_unprivileged_port_start",
    # v1.27
    "net.ipv4.ip_local_reserved_ports",
    # v1.29
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
    # v1.32
    "net.ipv4.tcp_rmem",
    "net.ipv4.tcp_wmem",
    # v1.37
    "net.ipv4.tcp_slow_start_after_idle",
    "net.ipv4.tcp_notsent_lowat",
})
# check_seLinuxOptions.go, selinuxAllowedTypes1_31 ("" is undefined/empty).
SELINUX_TYPES = frozenset({
    "", "container_t", "container_init_t", "container_kvm_t", "container_engine_t",
})
# validSeccomp (check_seccompProfile_baseline.go) and allowedProfileType
# (check_appArmorProfile.go): the profile types both accept.
PROFILE_TYPES = frozenset({"RuntimeDefault", "Localhost"})
# check_appArmorProfile.go, allowedAnnotationValue.
APPARMOR_ANNOTATION_PREFIX = "container.apparmor.security.beta.kubernetes.io/"
APPARMOR_RUNTIME_DEFAULT = "runtime/default"
APPARMOR_LOCALHOST_PREFIX = "localhost/"
PROBES = ("livenessProbe", "readinessProbe", "startupProbe")
LIFECYCLE_HANDLERS = ("postStart", "preStop")
HOST_ACTIONS = ("httpGet", "tcpSocket")


@rule(
    id="pss-baseline-host-process",
    title="HostProcess",
    description="Windows Pods offer the ability to run HostProcess containers, which give "
    "privileged access to the Windows host; baseline forbids them. Restricted fields: "
    "spec.securityContext.windowsOptions.hostProcess and securityContext.windowsOptions."
    "hostProcess of every container, init container and ephemeral container. Allowed: "
    "undefined/null, false. Upstream: check_windowsHostProcess.go (windowsHostProcess, v1.0).",
    severity="critical",
    targets=["k8s"],
    kinds=["Pod"],
    enforcement="deny",
    remediation="Remove securityContext.windowsOptions.hostProcess from the pod and its "
    "containers (or set it to false); run node-level Windows work outside tenant namespaces.",
    url=URL_BASELINE,
    tags=BASELINE_TAGS,
)
def host_process(doc):
    spec = pod_spec(doc)
    options = as_dict((pod_security_context(spec) or {}).get("windowsOptions")) or {}
    if options.get("hostProcess") is True:
        yield {"msg": "pod sets securityContext.windowsOptions.hostProcess: true",
               "path": "spec.securityContext.windowsOptions.hostProcess"}
    for path, label, sc in container_security_contexts(spec):
        if (as_dict(sc.get("windowsOptions")) or {}).get("hostProcess") is True:
            yield {"msg": f"{label} sets securityContext.windowsOptions.hostProcess: true",
                   "path": f"{path}.windowsOptions.hostProcess"}


@rule(
    id="pss-baseline-host-namespaces",
    title="Host namespaces",
    description="Sharing the host namespaces must be disallowed. Restricted fields: "
    "spec.hostNetwork, spec.hostPID, spec.hostIPC. Allowed: undefined/null, false. "
    "Upstream: check_hostNamespaces.go (hostNamespaces, v1.0).",
    severity="high",
    targets=["k8s"],
    kinds=["Pod"],
    enforcement="deny",
    remediation="Remove spec.hostNetwork, spec.hostPID and spec.hostIPC (or set them to false).",
    url=URL_BASELINE,
    tags=BASELINE_TAGS,
)
def host_namespaces(doc):
    spec = pod_spec(doc)
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(field) is True:
            yield {"msg": f"pod sets {field}: true", "path": f"spec.{field}"}


@rule(
    id="pss-baseline-privileged",
    title="Privileged containers",
    description="Privileged Pods disable most security mechanisms and must be disallowed. "
    "Restricted field: securityContext.privileged of every container, init container and "
    "ephemeral container. Allowed: undefined/null, false. Upstream: check_privileged.go "
    "(privileged, v1.0).",
    severity="critical",
    targets=["k8s"],
    kinds=["Pod"],
    enforcement="deny",
    remediation="Remove securityContext.privileged (or set it to false); grant the specific "
    "capability the container needs instead, if baseline allows it.",
    url=URL_BASELINE,
    tags=BASELINE_TAGS,
)
def privileged(doc):
    for path, label, sc in container_security_contexts(pod_spec(doc)):
        if sc.get("privileged") is True:
            yield {"msg": f"{label} sets securityContext.privileged: true",
                   "path": f"{path}.privileged"}


@rule(
    id="pss-baseline-capabilities",
    title="Capabilities",
    description="Adding capabilities beyond the default set must be disallowed. Restricted "
    "field: securityContext.capabilities.add of every container, init container and "
    "ephemeral container. Allowed: undefined/empty, AUDIT_WRITE, CHOWN, DAC_OVERRIDE, FOWNER, "
    "FSETID, KILL, MKNOD, NET_BIND_SERVICE, SETFCAP, SETGID, SETPCAP, SETUID, SYS_CHROOT "
    "(exact, case-sensitive names). Upstream: check_capabilities_baseline.go "
    "(capabilities_baseline, v1.0).",
    severity="high",
    targets=["k8s"],
    kinds=["Pod"],
    enforcement="deny",
    remediation="Remove the capability from securityContext.capabilities.add; only the "
    "container runtime's default set (e.g. NET_BIND_SERVICE, CHOWN) may be added.",
    url=URL_BASELINE,
    tags=BASELINE_TAGS,
)
def capabilities_baseline(doc):
    for path, label, sc in container_security_contexts(pod_spec(doc)):
        caps = as_dict(sc.get("capabilities")) or {}
        for k, cap in enumerate(as_list(caps.get("add"))):
            if not allowed(cap, BASELINE_CAPABILITIES):
                yield {"msg": f"{label} adds forbidden capability {cap!r} in "
                              "securityContext.capabilities.add",
                       "path": f"{path}.capabilities.add[{k}]"}


@rule(
    id="pss-baseline-host-path-volumes",
    title="HostPath volumes",
    description="HostPath volumes must be forbidden. Restricted field: spec.volumes[*].hostPath. "
    "Allowed: undefined/null. Upstream: check_hostPathVolumes.go (hostPathVolumes, v1.0).",
    severity="high",
    targets=["k8s"],
    kinds=["Pod"],
    enforcement="deny",
    remediation="Replace the hostPath volume with an emptyDir, configMap, secret, projected or "
    "persistentVolumeClaim volume.",
    url=URL_BASELINE,
    tags=BASELINE_TAGS,
)
def host_path_volumes(doc):
    for i, volume in enumerate(as_list(pod_spec(doc).get("volumes"))):
        if isinstance(volume, dict) and volume.get("hostPath") is not None:
            host_path = as_dict(volume["hostPath"]) or {}
            yield {"msg": f'volume "{volume.get("name") or ""}" uses hostPath '
                          f"{host_path.get('path')!r}",
                   "path": f"spec.volumes[{i}].hostPath"}


@rule(
    id="pss-baseline-host-ports",
    title="Host ports",
    description="HostPorts should be disallowed entirely. Restricted field: ports[*].hostPort "
    "of every container, init container and ephemeral container. Allowed: undefined/null, 0. "
    "Upstream: check_hostPorts.go (hostPorts, v1.0).",
    severity="high",
    targets=["k8s"],
    kinds=["Pod"],
    enforcement="deny",
    remediation="Remove ports[*].hostPort; expose the port with a Service (or an Ingress/"
    "Gateway) instead.",
    url=URL_BASELINE,
    tags=BASELINE_TAGS,
)
def host_ports(doc):
    for path, label, container in containers(pod_spec(doc)):
        for j, port in enumerate(as_list(container.get("ports"))):
            if not isinstance(port, dict):
                continue
            host_port = port.get("hostPort")
            if host_port is not None and not is_zero(host_port):
                yield {"msg": f"{label} sets hostPort {host_port}",
                       "path": f"{path}.ports[{j}].hostPort"}


@rule(
    id="pss-baseline-host-probes",
    title="Host probes / lifecycle hooks",
    description="The host field in probes and lifecycle hooks must be disallowed: it lets the "
    "kubelet send requests to any address on the node's network. Restricted fields: "
    "livenessProbe/readinessProbe/startupProbe.httpGet.host and .tcpSocket.host, "
    "lifecycle.postStart/preStop.httpGet.host and .tcpSocket.host of every container, init "
    "container and ephemeral container. Allowed: undefined/null, \"\". Upstream: "
    "check_hostProbesAndhostLifecycle.go (hostProbesAndHostLifecycle, v1.34).",
    severity="high",
    targets=["k8s"],
    kinds=["Pod"],
    enforcement="deny",
    remediation="Remove the host field from the probe or lifecycle handler; the kubelet then "
    "targets the pod's own IP.",
    url=URL_BASELINE,
    tags=BASELINE_TAGS,
)
def host_probes(doc):
    for path, label, container in containers(pod_spec(doc)):
        handlers = [(probe, container.get(probe)) for probe in PROBES]
        lifecycle = as_dict(container.get("lifecycle")) or {}
        handlers += [(f"lifecycle.{hook}", lifecycle.get(hook)) for hook in LIFECYCLE_HANDLERS]
        for where, handler in handlers:
            handler = as_dict(handler)
            if handler is None:
                continue
            for action in HOST_ACTIONS:
                host = (as_dict(handler.get(action)) or {}).get("host")
                if host is not None and host != "":
                    yield {"msg": f"{label} sets {where}.{action}.host {host!r}",
                           "path": f"{path}.{where}.{action}.host"}


@rule(
    id="pss-baseline-apparmor",
    title="AppArmor",
    description="The default AppArmor profile must not be overridden or disabled. Restricted "
    "fields: spec.securityContext.appArmorProfile.type and securityContext.appArmorProfile."
    "type of every container, init container and ephemeral container (allowed: undefined/"
    "null, RuntimeDefault, Localhost); metadata.annotations[\"container.apparmor.security."
    "beta.kubernetes.io/*\"] (allowed: undefined, \"\", runtime/default, localhost/*). "
    "Upstream: check_appArmorProfile.go (appArmorProfile, v1.0; fields since v1.30).",
    severity="high",
    targets=["k8s"],
    kinds=["Pod"],
    enforcement="deny",
    remediation="Set appArmorProfile.type to RuntimeDefault or Localhost (or leave it unset), "
    "and drop any container.apparmor.security.beta.kubernetes.io annotation set to "
    "unconfined.",
    url=URL_BASELINE,
    tags=BASELINE_TAGS,
)
def apparmor(doc):
    spec = pod_spec(doc)
    pod_sc = pod_security_context(spec) or {}
    if pod_sc.get("appArmorProfile") is not None:
        kind = profile_type(pod_sc["appArmorProfile"])
        if not allowed(kind, PROFILE_TYPES):
            yield {"msg": f"pod sets securityContext.appArmorProfile.type {kind!r}",
                   "path": "spec.securityContext.appArmorProfile.type"}
    for path, label, sc in container_security_contexts(spec):
        if sc.get("appArmorProfile") is not None:
            kind = profile_type(sc["appArmorProfile"])
            if not allowed(kind, PROFILE_TYPES):
                yield {"msg": f"{label} sets securityContext.appArmorProfile.type {kind!r}",
                       "path": f"{path}.appArmorProfile.type"}
    annotations = as_dict(pod_metadata(doc).get("annotations")) or {}
    for key, value in annotations.items():
        if not (isinstance(key, str) and key.startswith(APPARMOR_ANNOTATION_PREFIX)):
            continue
        if value is None or value == "" or value == APPARMOR_RUNTIME_DEFAULT:
            continue  # a null annotation value decodes to "" in the API server
        if not (isinstance(value, str) and value.startswith(APPARMOR_LOCALHOST_PREFIX)):
            yield {"msg": f"annotation {key}={value!r} sets a forbidden AppArmor profile",
                   "path": f'metadata.annotations["{key}"]'}


@rule(
    id="pss-baseline-selinux",
    title="SELinux",
    description="Setting the SELinux type is restricted, and setting a custom SELinux user or "
    "role is forbidden. Restricted fields: seLinuxOptions.type of the pod and of every "
    "container, init container and ephemeral container (allowed: undefined/\"\", container_t, "
    "container_init_t, container_kvm_t, container_engine_t); seLinuxOptions.user and .role "
    "(allowed: undefined/\"\"). Upstream: check_seLinuxOptions.go (seLinuxOptions, v1.31).",
    severity="high",
    targets=["k8s"],
    kinds=["Pod"],
    enforcement="deny",
    remediation="Remove seLinuxOptions.user and .role, and use one of the container SELinux "
    "types (container_t, container_init_t, container_kvm_t, container_engine_t) or none.",
    url=URL_BASELINE,
    tags=BASELINE_TAGS,
)
def selinux(doc):
    spec = pod_spec(doc)
    sources = [("pod", "spec.securityContext", pod_security_context(spec))]
    sources += [(label, path, sc) for path, label, sc in container_security_contexts(spec)]
    for who, path, sc in sources:
        options = as_dict((sc or {}).get("seLinuxOptions"))
        if options is None:
            continue
        kind = options.get("type")
        if not allowed("" if kind is None else kind, SELINUX_TYPES):
            yield {"msg": f"{who} sets forbidden securityContext.seLinuxOptions.type {kind!r}",
                   "path": f"{path}.seLinuxOptions.type"}
        for field in ("user", "role"):
            value = options.get(field)
            if value is not None and value != "":
                yield {"msg": f"{who} sets securityContext.seLinuxOptions.{field} {value!r}; "
                              f"{field} may not be set",
                       "path": f"{path}.seLinuxOptions.{field}"}


@rule(
    id="pss-baseline-proc-mount",
    title="/proc mount type",
    description="The default /proc masks are set up to reduce attack surface, and should be "
    "required. Restricted field: securityContext.procMount of every container, init container "
    "and ephemeral container. Allowed: undefined/null, Default; any value when the pod runs in "
    "a user namespace (spec.hostUsers: false). Upstream: check_procMount_baseline.go "
    "(procMount, v1.35).",
    severity="high",
    targets=["k8s"],
    kinds=["Pod"],
    enforcement="deny",
    remediation="Remove securityContext.procMount (or set it to Default), or run the pod in "
    "a user namespace (spec.hostUsers: false).",
    url=URL_BASELINE,
    tags=BASELINE_TAGS,
)
def proc_mount_baseline(doc):
    spec = pod_spec(doc)
    if in_user_namespace(spec):
        return
    yield from non_default_proc_mounts(spec)


@rule(
    id="pss-baseline-seccomp",
    title="Seccomp",
    description="The seccomp profile must not be explicitly set to Unconfined. Restricted "
    "fields: spec.securityContext.seccompProfile.type and securityContext.seccompProfile.type "
    "of every container, init container and ephemeral container. Allowed: undefined/null, "
    "RuntimeDefault, Localhost. Upstream: check_seccompProfile_baseline.go "
    "(seccompProfile_baseline, v1.19).",
    severity="high",
    targets=["k8s"],
    kinds=["Pod"],
    enforcement="deny",
    remediation="Set seccompProfile.type to RuntimeDefault (or Localhost with a profile), or "
    "remove the seccompProfile that sets Unconfined.",
    url=URL_BASELINE,
    tags=BASELINE_TAGS,
)
def seccomp_baseline(doc):
    spec = pod_spec(doc)
    pod_sc = pod_security_context(spec) or {}
    if pod_sc.get("seccompProfile") is not None:
        kind = profile_type(pod_sc["seccompProfile"])
        if not allowed(kind, PROFILE_TYPES):
            yield {"msg": f"pod sets securityContext.seccompProfile.type {kind!r}",
                   "path": "spec.securityContext.seccompProfile.type"}
    for path, label, sc in container_security_contexts(spec):
        if sc.get("seccompProfile") is not None:
            kind = profile_type(sc["seccompProfile"])
            if not allowed(kind, PROFILE_TYPES):
                yield {"msg": f"{label} sets securityContext.seccompProfile.type {kind!r}",
                       "path": f"{path}.seccompProfile.type"}


@rule(
    id="pss-baseline-sysctls",
    title="Sysctls",
    description="Sysctls can disable security mechanisms or affect all containers on a host, "
    "and are disallowed except for a safe, namespaced subset. Restricted field: "
    "spec.securityContext.sysctls[*].name. Allowed: undefined/empty, "
    "kernel.shm_rmid_forced, net.ipv4.ip_local_port_range, net.ipv4.ip_unprivileged_port_"
    "start, net.ipv4.tcp_syncookies, net.ipv4.ping_group_range, net.ipv4.ip_local_reserved_"
    "ports (v1.27), net.ipv4.tcp_keepalive_time, net.ipv4.tcp_fin_timeout, net.ipv4.tcp_"
    "keepalive_intvl, net.ipv4.tcp_keepalive_probes (v1.29), net.ipv4.tcp_rmem, "
    "net.ipv4.tcp_wmem (v1.32), net.ipv4.tcp_slow_start_after_idle, net.ipv4.tcp_notsent_"
    "lowat (v1.37); names are compared exactly (dot-separated). Upstream: check_sysctls.go "
    "(sysctls, v1.37).",
    severity="high",
    targets=["k8s"],
    kinds=["Pod"],
    enforcement="deny",
    remediation="Remove the sysctl from spec.securityContext.sysctls, or set it on the node "
    "(it is not namespaced or not isolated between pods).",
    url=URL_BASELINE,
    tags=BASELINE_TAGS,
)
def sysctls(doc):
    pod_sc = pod_security_context(pod_spec(doc)) or {}
    for i, sysctl in enumerate(as_list(pod_sc.get("sysctls"))):
        name = sysctl.get("name") if isinstance(sysctl, dict) else None
        if not allowed(name, SAFE_SYSCTLS):
            yield {"msg": f"pod sets forbidden sysctl {name!r}",
                   "path": f"spec.securityContext.sysctls[{i}].name"}


# --- restricted ------------------------------------------------------------------------

