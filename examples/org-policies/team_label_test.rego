package acme.namespace_team_test

import rego.v1

import data.acme.namespace_team

test_namespace_with_team_passes if {
	count(namespace_team.deny) == 0 with input as {"review": {"object": {"metadata": {"labels": {"team": "shop"}}}}}
}

test_namespace_without_team_fails if {
	namespace_team.deny == {"namespace has no team label"} with input as {"review": {"object": {"metadata": {}}}}
}
