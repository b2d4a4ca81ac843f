# METADATA
# title: Pinned image tags
# description: >-
#   Images are referenced by an explicit tag other than `latest`, or by digest, so that
#   what runs is what was reviewed and a rollback returns to the same bits.
# related_resources:
#   - ref: https://kubernetes.io/docs/concepts/containers/images/#image-names
# custom:
#   id: golden-image-tag
#   severity: high
#   kinds: [Pod]
#   enforcement: deny
#   remediation: >-
#     Reference images as registry/name:version (e.g. ghcr.io/acme/api:1.4.2) or by digest
#     (@sha256:…); never :latest or no tag.
#   tags: [golden-path:deploy, golden-path:supply-chain, best-practice]
package pathwarden.k8s.golden.image_tag

import rego.v1

containers contains [kind, i, c] if {
	some kind in ["containers", "initContainers", "ephemeralContainers"]
	some i, c in input.review.object.spec[kind]
}

# The tag is what follows the last ":" after the last "/" (a registry port is not a tag).
tag(image) := t if {
	not contains(image, "@")
	parts := split(image, "/")
	name := parts[count(parts) - 1]
	contains(name, ":")
	t := split(name, ":")[1]
}

problem(image) := "has no tag" if {
	not contains(image, "@")
	not tag(image)
}

problem(image) := "uses the :latest tag" if tag(image) == "latest"

deny contains v if {
	some [kind, i, c] in containers
	reason := problem(c.image)
	v := {
		"msg": sprintf("container \"%s\" image \"%s\" %s", [c.name, c.image, reason]),
		"path": sprintf("spec.%s[%d].image", [kind, i]),
	}
}
