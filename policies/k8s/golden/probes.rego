# METADATA
# title: Liveness and readiness probes
# description: >-
#   Long-running containers declare a readiness probe (so traffic only reaches ready
#   pods) and a liveness probe (so a hung process is restarted). Pods that run to
#   completion (restartPolicy Never or OnFailure: Jobs, CronJobs) are exempt.
# related_resources:
#   - ref: https://kubernetes.io/docs/tasks/configure-pod-container/configure-liveness-readiness-startup-probes/
# custom:
#   id: golden-probes
#   severity: medium
#   kinds: [Pod]
#   enforcement: warn
#   remediation: >-
#     Add readinessProbe and livenessProbe (httpGet, tcpSocket, grpc or exec) to every
#     container of the service.
#   tags: [golden-path:production-readiness, best-practice]
package pathwarden.k8s.golden.probes

import rego.v1

long_running if {
	not input.review.object.spec.restartPolicy in {"Never", "OnFailure"}
}

deny contains v if {
	long_running
	some i, c in input.review.object.spec.containers
	some probe in ["livenessProbe", "readinessProbe"]
	not c[probe]
	v := {
		"msg": sprintf("container \"%s\" has no %s", [c.name, probe]),
		"path": sprintf("spec.containers[%d].%s", [i, probe]),
	}
}
