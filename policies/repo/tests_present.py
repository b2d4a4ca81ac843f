"""Tests exist: the first rung of every team's way to change code without fear.

Only presence is checked (a folder or files named the way test runners find them); whether
CI runs them is the pipeline policies' business. Repositories without source code (docs,
configuration) have nothing to test and pass.
"""

from __future__ import annotations

from pathwarden.engine.rules import rule

SOURCE_SUFFIXES = (".py", ".go", ".js", ".mjs", ".cjs", ".ts", ".tsx", ".jsx", ".java", ".kt",
                   ".scala", ".rb", ".rs", ".cs", ".php", ".swift", ".ex", ".exs", ".c", ".cc",
                   ".cpp")
VENDORED = ("node_modules/", "vendor/", "third_party/")


def has_source(repo: dict) -> bool:
    if repo.get("dependency_manifests"):
        return True
    return any(f.endswith(SOURCE_SUFFIXES) and not any(v in f"/{f}" for v in VENDORED)
               for f in repo.get("files") or [])


@rule(
    id="repo-tests-present",
    title="Tests present",
    description="A repository with source code has tests: a tests/, test/, __tests__/, spec/ "
    "or src/test/ folder, or files named like *_test.go, test_*.py, *.test.ts, *.spec.js, "
    "*Test.java.",
    severity="medium",
    targets=["repo"],
    enforcement="deny",
    remediation="Add tests the ecosystem's runner finds: tests/test_*.py (pytest), "
    "*_test.go beside the code (go test), __tests__/ or *.test.ts (jest/vitest), "
    "src/test/java/ (Maven/Gradle); run them in CI.",
    tags=["golden-path:repository-hygiene", "best-practice"],
)
def tests_present(doc):
    repo = doc["repository"]
    found = repo.get("tests") or {}
    if found.get("dirs") or found.get("file_count"):
        return
    if has_source(repo):
        yield {"msg": "source code but no tests (no tests/, test/, __tests__/, spec/ folder and "
                      "no *_test.go, test_*.py, *.test.ts or *Test.java files)", "path": "tests/"}
