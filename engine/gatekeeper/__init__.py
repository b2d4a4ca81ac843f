"""Gatekeeper compatibility: ConstraintTemplates and constraints as pathwarden policies.

`loading` finds templates and constraints in policy directories, `objects` parses them,
`translate` turns their Rego v0 into v1, `modules` and `compile` make one ordinary Rego
policy per constraint (so admission, audit, `eval` and both Rego backends run them), and
`match` judges `spec.match`. `suites` and `verify` run Gatekeeper test suites
(`pathwarden verify`, like `gator verify`).
"""
