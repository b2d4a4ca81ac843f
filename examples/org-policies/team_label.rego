# METADATA
# title: Team label on namespaces
# description: Every namespace names the team that owns it, so findings route to a team.
# custom:
#   id: acme-namespace-team
#   severity: low
#   kinds: [Namespace]
#   enforcement: warn
#   remediation: Add metadata.labels.team to the namespace.
#   tags: [acme, golden-path:ownership]
package acme.namespace_team

import rego.v1

deny contains msg if {
	not input.review.object.metadata.labels.team
	msg := "namespace has no team label"
}
