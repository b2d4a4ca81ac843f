"""Built-in policy library (Rego and Python). Loaded by path; see engine/loading."""
