# METADATA
# title: Ingress serves HTTPS
# description: >-
#   Every host an Ingress routes is covered by its TLS section (exactly or by a
#   wildcard), so traffic to the service is encrypted and the certificate is managed.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/services-networking/ingress/#tls
# custom:
#   id: golden-ingress-tls
#   severity: high
#   kinds: [Ingress]
#   enforcement: warn
#   remediation: >-
#     Add spec.tls listing the Ingress's hosts with a secretName; with cert-manager, the
#     cert-manager.io/cluster-issuer annotation makes it issue the certificate.
#   tags: [golden-path:secure-workloads, golden-path:production-readiness, best-practice]
package pathwarden.k8s.golden.ingress_tls

import rego.v1

tls_hosts contains host if {
	some tls in input.review.object.spec.tls
	some host in tls.hosts
}

covered(host) if host in tls_hosts

covered(host) if {
	some pattern in tls_hosts
	startswith(pattern, "*.")
	suffix := substring(pattern, 1, -1)
	endswith(host, suffix)
	not contains(trim_suffix(host, suffix), ".")
}

deny contains v if {
	some i, rule in input.review.object.spec.rules
	rule.host
	not covered(rule.host)
	v := {
		"msg": sprintf("host %s is served without TLS", [rule.host]),
		"path": sprintf("spec.rules[%d].host", [i]),
	}
}

deny contains v if {
	not input.review.object.spec.tls
	some rule in input.review.object.spec.rules
	not rule.host
	v := {"msg": "the Ingress serves every host without TLS", "path": "spec.tls"}
}
