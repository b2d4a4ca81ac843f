"""Repository documents people look for first: README, SECURITY.md, LICENSE.

A newcomer, an on-call engineer and a security researcher each need one file to start
from; these rules check that it exists where GitHub and GitLab look for it.
"""

from __future__ import annotations

from pathwarden.engine.rules import rule, warn


@rule(
    id="repo-readme",
    title="README",
    description="The repository has a README (root, .github/ or docs/) that says more than "
    "its name. `parameters.min_bytes` sets how short is too short (a warning), "
    "`parameters.required_sections` lists headings it must have (case-insensitive).",
    severity="low",
    targets=["repo"],
    enforcement="deny",
    remediation="Add README.md to the repository root: what the service does, how to build, "
    "run and test it locally (## Getting started), how it is deployed, and who owns it "
    "(## Ownership).",
    url="https://docs.github.com/en/repositories/managing-your-repositorys-settings-and-"
    "features/customizing-your-repository/about-readmes",
    tags=["golden-path:repository-hygiene", "best-practice"],
    parameters={"min_bytes": 200, "required_sections": []},
)
def readme(doc):
    found = doc["repository"].get("readme")
    if not found:
        yield {"msg": "no README (README.md in the root, .github/ or docs/)", "path": "README.md"}
        return
    path, params = found["path"], doc["parameters"]
    titles = [h["text"].strip().lower() for h in found.get("headings") or []]
    for section in params.get("required_sections") or []:
        if not any(str(section).strip().lower() in title for title in titles):
            yield {"msg": f"{path} has no {section!r} section", "path": path}
    size, minimum = found.get("size") or 0, int(params.get("min_bytes") or 0)
    if size < minimum:
        yield warn(f"{path} is only {size} bytes (at least {minimum} expected): say what the "
                   "service does and how to run it", path)


@rule(
    id="repo-security-policy",
    title="Security policy",
    description="The repository has a SECURITY.md (root, .github/ or docs/) telling people "
    "how to report a vulnerability, so reports reach the owners instead of a public issue.",
    severity="low",
    targets=["repo"],
    enforcement="warn",
    remediation="Add SECURITY.md: how to report a vulnerability (the security team's address "
    "or intake form, never a public issue), what response to expect, and which versions get "
    "fixes. An organisation-wide default can live in the .github repository.",
    url="https://docs.github.com/en/code-security/getting-started/"
    "adding-a-security-policy-to-your-repository",
    tags=["golden-path:repository-hygiene", "best-practice"],
)
def security_policy(doc):
    if not doc["repository"].get("security_policy"):
        yield {"msg": "no SECURITY.md (root, .github/ or docs/)", "path": "SECURITY.md"}


@rule(
    id="repo-license",
    title="Licence file",
    description="The repository states its licence in a LICENSE file, so nobody has to guess "
    "whether code may be reused or published. With `parameters.allowed` set (SPDX ids), the "
    "licence must also be one of them.",
    severity="low",
    targets=["repo"],
    enforcement="warn",
    remediation="Add LICENSE to the repository root with the full licence text: the company's "
    "proprietary notice for internal code, or the approved open-source licence (e.g. "
    "Apache-2.0, text at https://spdx.org/licenses/Apache-2.0.html) for published code.",
    url="https://docs.github.com/en/repositories/managing-your-repositorys-settings-and-"
    "features/customizing-your-repository/licensing-a-repository",
    tags=["golden-path:repository-hygiene", "best-practice"],
    parameters={"allowed": []},
)
def license_present(doc):
    found = doc["repository"].get("license")
    if not found:
        yield {"msg": "no LICENSE file in the repository root", "path": "LICENSE"}
        return
    allowed = doc["parameters"].get("allowed") or []
    if allowed and found.get("spdx") not in allowed:
        what = found.get("spdx") or "an unrecognised licence"
        yield {"msg": f"{found['path']} is {what}; allowed: {', '.join(allowed)}",
               "path": found["path"]}
