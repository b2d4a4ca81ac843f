# METADATA
# title: Resource requests and limits
# description: >-
#   Every container declares CPU and memory requests and a memory limit, so the scheduler
#   can place it and a leak cannot take the node down. A missing CPU limit is only a
#   warning: many platforms leave CPU unlimited on purpose to avoid throttling.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/configuration/manage-resources-containers/
# custom:
#   id: golden-resources
#   severity: medium
#   kinds: [Pod]
#   enforcement: deny
#   remediation: >-
#     Set resources.requests.cpu, resources.requests.memory and resources.limits.memory on
#     every container (and init container); consider resources.limits.cpu.
#   tags: [golden-path:deploy, golden-path:production-readiness, best-practice]
package pathwarden.k8s.golden.resources

import rego.v1

containers contains [kind, i, c] if {
	some kind in ["containers", "initContainers"]
	some i, c in input.review.object.spec[kind]
}

required := [["requests", "cpu"], ["requests", "memory"], ["limits", "memory"]]

deny contains v if {
	some [kind, i, c] in containers
	some [section, resource] in required
	not c.resources[section][resource]
	v := {
		"msg": sprintf("container \"%s\" has no resources.%s.%s", [c.name, section, resource]),
		"path": sprintf("spec.%s[%d].resources.%s.%s", [kind, i, section, resource]),
	}
}

warn contains v if {
	some [kind, i, c] in containers
	kind == "containers"
	not c.resources.limits.cpu
	v := {
		"msg": sprintf("container \"%s\" has no resources.limits.cpu", [c.name]),
		"path": sprintf("spec.%s[%d].resources.limits.cpu", [kind, i]),
	}
}
