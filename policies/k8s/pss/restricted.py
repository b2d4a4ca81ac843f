"""Kubernetes Pod Security Standards, restricted level (on top of baseline.py).

See baseline.py for how upstream's checks and levels map onto pathwarden tags.
"""

from __future__ import annotations

from pathwarden.engine.podspec import (
    allowed,
    as_dict,
    as_list,
    container_security_contexts,
    containers,
    in_user_namespace,
    is_windows,
    is_zero,
    non_default_proc_mounts,
    pod_security_context,
    pod_spec,
    profile_type,
)
from pathwarden.engine.rules import rule

URL_RESTRICTED = "https://kubernetes.io/docs/concepts/security/pod-security-standards/#restricted"
RESTRICTED_TAGS = ["pss:restricted", "golden-path:secure-workloads"]
# validSeccomp (check_seccompProfile_baseline.go) and allowedProfileType
# (check_appArmorProfile.go): the profile types both accept.
PROFILE_TYPES = frozenset({"RuntimeDefault", "Localhost"})
# check_restrictedVolumes.go, restrictedVolumes_1_0: the inline volume sources allowed.
RESTRICTED_VOLUME_TYPES = frozenset({
    "configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "image",
    "persistentVolumeClaim", "projected", "secret",
})


@rule(
    id="pss-restricted-volume-types",
    title="Volume types",
    description="The restricted profile only permits these inline volume sources: configMap, "
    "csi, downwardAPI, emptyDir, ephemeral, image, persistentVolumeClaim, projected, secret "
    "(other storage goes through a PersistentVolumeClaim). Restricted field: spec.volumes[*]. "
    "A volume with no source is defaulted to emptyDir by the API server. Upstream: "
    "check_restrictedVolumes.go (restrictedVolumes, v1.0; image allowed since v1.33).",
    severity="medium",
    targets=["k8s"],
    kinds=["Pod"],
    enforcement="deny",
    remediation="Replace the volume with one of configMap, csi, downwardAPI, emptyDir, "
    "ephemeral, image, persistentVolumeClaim, projected or secret; mount network or cloud "
    "storage through a PersistentVolumeClaim.",
    url=URL_RESTRICTED,
    tags=RESTRICTED_TAGS,
)
def volume_types(doc):
    for i, volume in enumerate(as_list(pod_spec(doc).get("volumes"))):
        if not isinstance(volume, dict):
            continue
        sources = [k for k, v in volume.items() if k != "name" and v is not None]
        if not sources or any(allowed(k, RESTRICTED_VOLUME_TYPES) for k in sources):
            continue
        kinds = ", ".join(str(k) for k in sources)
        yield {"msg": f'volume "{volume.get("name") or ""}" uses restricted volume type '
                      f"{kinds}",
               "path": f"spec.volumes[{i}].{sources[0]}"}


@rule(
    id="pss-restricted-privilege-escalation",
    title="Privilege escalation",
    description="Privilege escalation (such as via set-user-ID or set-group-ID file mode) "
    "should not be allowed. Restricted field: securityContext.allowPrivilegeEscalation of "
    "every container, init container and ephemeral container. Allowed: false (it must be set). "
    "Not required for Windows pods (spec.os.name: windows). Upstream: "
    "check_allowPrivilegeEscalation.go (allowPrivilegeEscalation, v1.25).",
    severity="high",
    targets=["k8s"],
    kinds=["Pod"],
    enforcement="deny",
    remediation="Set securityContext.allowPrivilegeEscalation: false on every container, "
    "init container and ephemeral container.",
    url=URL_RESTRICTED,
    tags=RESTRICTED_TAGS,
)
def privilege_escalation(doc):
    spec = pod_spec(doc)
    if is_windows(spec):
        return
    for path, label, container in containers(spec):
        sc = as_dict(container.get("securityContext")) or {}
        value = sc.get("allowPrivilegeEscalation")
        if value is not False:
            shown = "unset" if value is None else repr(value)
            yield {"msg": f"{label} must set securityContext.allowPrivilegeEscalation: false "
                          f"(is {shown})",
                   "path": f"{path}.securityContext.allowPrivilegeEscalation"}


@rule(
    id="pss-restricted-run-as-non-root",
    title="Running as non-root",
    description="Containers must be required to run as non-root users. Restricted fields: "
    "spec.securityContext.runAsNonRoot and securityContext.runAsNonRoot of every container, "
    "init container and ephemeral container. Allowed: true; container-level fields may be "
    "undefined/null when the pod-level field is true; no level may set false. Pods in a user "
    "namespace (spec.hostUsers: false) are exempt. Upstream: check_runAsNonRoot.go "
    "(runAsNonRoot, v1.35).",
    severity="medium",
    targets=["k8s"],
    kinds=["Pod"],
    enforcement="deny",
    remediation="Set spec.securityContext.runAsNonRoot: true (and do not set it to false on "
    "any container), and run the image as a non-zero UID.",
    url=URL_RESTRICTED,
    tags=RESTRICTED_TAGS,
)
def run_as_non_root(doc):
    spec = pod_spec(doc)
    if in_user_namespace(spec):
        return
    pod_value = (pod_security_context(spec) or {}).get("runAsNonRoot")
    if pod_value is not None and pod_value is not True:
        yield {"msg": f"pod sets securityContext.runAsNonRoot {pod_value!r}",
               "path": "spec.securityContext.runAsNonRoot"}
    for path, label, container in containers(spec):
        value = (as_dict(container.get("securityContext")) or {}).get("runAsNonRoot")
        if value is None:
            if pod_value is not True:
                yield {"msg": f"pod or {label} must set securityContext.runAsNonRoot: true",
                       "path": f"{path}.securityContext.runAsNonRoot"}
        elif value is not True:
            yield {"msg": f"{label} sets securityContext.runAsNonRoot {value!r}",
                   "path": f"{path}.securityContext.runAsNonRoot"}


@rule(
    id="pss-restricted-run-as-user",
    title="Running as non-root user",
    description="Containers must not set runAsUser to 0. Restricted fields: "
    "spec.securityContext.runAsUser and securityContext.runAsUser of every container, init "
    "container and ephemeral container. Allowed: any non-zero value, undefined/null. Pods in a "
    "user namespace (spec.hostUsers: false) are exempt. Upstream: check_runAsUser.go "
    "(runAsUser, v1.35).",
    severity="high",
    targets=["k8s"],
    kinds=["Pod"],
    enforcement="deny",
    remediation="Set runAsUser to a non-zero UID (or leave it unset and let the image's "
    "non-root USER apply).",
    url=URL_RESTRICTED,
    tags=RESTRICTED_TAGS,
)
def run_as_user(doc):
    spec = pod_spec(doc)
    if in_user_namespace(spec):
        return
    if is_zero((pod_security_context(spec) or {}).get("runAsUser")):
        yield {"msg": "pod sets securityContext.runAsUser: 0",
               "path": "spec.securityContext.runAsUser"}
    for path, label, sc in container_security_contexts(spec):
        if is_zero(sc.get("runAsUser")):
            yield {"msg": f"{label} sets securityContext.runAsUser: 0",
                   "path": f"{path}.runAsUser"}


@rule(
    id="pss-restricted-seccomp",
    title="Seccomp (required)",
    description="The seccomp profile must be explicitly set to RuntimeDefault or Localhost; "
    "Unconfined and an unset profile are both forbidden. Restricted fields: "
    "spec.securityContext.seccompProfile.type and securityContext.seccompProfile.type of every "
    "container, init container and ephemeral container. Container-level fields may be "
    "undefined/null when the pod-level type is allowed; the pod-level field may be unset when "
    "every container sets one. Not required for Windows pods (spec.os.name: windows). "
    "Upstream: check_seccompProfile_restricted.go (seccompProfile_restricted, v1.25).",
    severity="medium",
    targets=["k8s"],
    kinds=["Pod"],
    enforcement="deny",
    remediation="Set spec.securityContext.seccompProfile.type: RuntimeDefault (or Localhost "
    "with a localhostProfile), and do not set Unconfined on any container.",
    url=URL_RESTRICTED,
    tags=RESTRICTED_TAGS,
)
def seccomp_restricted(doc):
    spec = pod_spec(doc)
    if is_windows(spec):
        return
    pod_sc = pod_security_context(spec) or {}
    pod_set = False
    if pod_sc.get("seccompProfile") is not None:
        kind = profile_type(pod_sc["seccompProfile"])
        if allowed(kind, PROFILE_TYPES):
            pod_set = True
        else:
            yield {"msg": f"pod sets securityContext.seccompProfile.type {kind!r}",
                   "path": "spec.securityContext.seccompProfile.type"}
    for path, label, container in containers(spec):
        sc = as_dict(container.get("securityContext")) or {}
        if sc.get("seccompProfile") is not None:
            kind = profile_type(sc["seccompProfile"])
            if not allowed(kind, PROFILE_TYPES):
                yield {"msg": f"{label} sets securityContext.seccompProfile.type {kind!r}",
                       "path": f"{path}.securityContext.seccompProfile.type"}
        elif not pod_set:
            yield {"msg": f"pod or {label} must set securityContext.seccompProfile.type to "
                          "RuntimeDefault or Localhost",
                   "path": f"{path}.securityContext.seccompProfile.type"}


@rule(
    id="pss-restricted-capabilities",
    title="Capabilities (drop ALL)",
    description="Containers must drop ALL capabilities, and may only add back "
    "NET_BIND_SERVICE. Restricted fields: securityContext.capabilities.drop (must include "
    "ALL) and securityContext.capabilities.add (allowed: undefined/empty, NET_BIND_SERVICE) of "
    "every container, init container and ephemeral container. Not required for Windows pods "
    "(spec.os.name: windows). Upstream: check_capabilities_restricted.go "
    "(capabilities_restricted, v1.25).",
    severity="medium",
    targets=["k8s"],
    kinds=["Pod"],
    enforcement="deny",
    remediation='Set securityContext.capabilities.drop: ["ALL"] on every container and add '
    "back at most NET_BIND_SERVICE.",
    url=URL_RESTRICTED,
    tags=RESTRICTED_TAGS,
)
def capabilities_restricted(doc):
    spec = pod_spec(doc)
    if is_windows(spec):
        return
    for path, label, container in containers(spec):
        sc = as_dict(container.get("securityContext")) or {}
        caps = as_dict(sc.get("capabilities")) or {}
        if "ALL" not in as_list(caps.get("drop")):
            yield {"msg": f'{label} must set securityContext.capabilities.drop: ["ALL"]',
                   "path": f"{path}.securityContext.capabilities.drop"}
        for k, cap in enumerate(as_list(caps.get("add"))):
            if cap != "NET_BIND_SERVICE":
                yield {"msg": f"{label} must not add {cap!r} in "
                              "securityContext.capabilities.add (only NET_BIND_SERVICE)",
                       "path": f"{path}.securityContext.capabilities.add[{k}]"}


@rule(
    id="pss-restricted-proc-mount",
    title="/proc mount type (no user-namespace exception)",
    description="The restricted profile requires the default /proc masks even for pods in a "
    "user namespace. Restricted field: securityContext.procMount of every container, init "
    "container and ephemeral container. Allowed: undefined/null, Default. Upstream: "
    "check_procMount_restricted.go (procMount_restricted, v1.35).",
    severity="high",
    targets=["k8s"],
    kinds=["Pod"],
    enforcement="deny",
    remediation="Remove securityContext.procMount (or set it to Default).",
    url=URL_RESTRICTED,
    tags=RESTRICTED_TAGS,
)
def proc_mount_restricted(doc):
    yield from non_default_proc_mounts(pod_spec(doc))
