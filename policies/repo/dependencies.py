"""Dependencies are locked and kept current: the supply-chain half of repository hygiene.

A lockfile makes every build install the versions that were reviewed; an update bot makes
sure those versions do not quietly age into known vulnerabilities.
"""

from __future__ import annotations

import posixpath

from pathwarden.engine.rules import rule, warn

LOCKFILES = {
    "package.json": "package-lock.json (npm install), yarn.lock or pnpm-lock.yaml",
    "pyproject.toml": "poetry.lock (poetry lock), uv.lock (uv lock) or pdm.lock (pdm lock)",
    "Pipfile": "Pipfile.lock (pipenv lock)",
    "go.mod": "go.sum (go mod tidy)",
    "Cargo.toml": "Cargo.lock (cargo generate-lockfile)",
    "Gemfile": "Gemfile.lock (bundle lock)",
    "build.gradle": "gradle.lockfile (./gradlew dependencies --write-locks)",
    "build.gradle.kts": "gradle.lockfile (./gradlew dependencies --write-locks)",
    "composer.json": "composer.lock (composer update --lock)",
}
DEPENDABOT_NAMES = {"npm": {"npm", "bun"}, "pip": {"pip", "uv", "pipenv"}}
"""Dependabot ecosystems that cover a manifest ecosystem besides its own name."""


@rule(
    id="repo-dependency-updates",
    title="Automated dependency updates",
    description="A repository with dependency manifests has Renovate or Dependabot configured; "
    "Dependabot must list every ecosystem the repository uses (a missing one is a warning). "
    "Renovate detects all package managers itself.",
    severity="medium",
    targets=["repo"],
    enforcement="deny",
    remediation="Add renovate.json with {\"extends\": [\"config:recommended\"]}, or "
    ".github/dependabot.yml with `version: 2` and one `updates` entry per ecosystem, e.g. "
    "`- {package-ecosystem: pip, directory: /, schedule: {interval: weekly}}`.",
    url="https://docs.github.com/en/code-security/dependabot/dependabot-version-updates/"
    "configuration-options-for-the-dependabot.yml-file",
    tags=["golden-path:supply-chain", "best-practice"],
)
def dependency_updates(doc):
    repo = doc["repository"]
    manifests = repo.get("dependency_manifests") or []
    if not manifests:
        return
    updates = repo.get("dependency_updates") or {}
    if updates.get("renovate"):
        return
    dependabot = updates.get("dependabot")
    if not dependabot:
        names = ", ".join(sorted({m["path"] for m in manifests})[:5])
        yield {"msg": f"no Renovate or Dependabot configuration, but the repository has "
                      f"dependency manifests ({names})", "path": "renovate.json"}
        return
    path = dependabot["path"]
    if dependabot.get("error"):
        yield {"msg": f"{path}: {dependabot['error']}", "path": path}
        return
    covered = set(dependabot.get("ecosystems") or [])
    by_ecosystem: dict[str, list[str]] = {}
    for m in manifests:
        by_ecosystem.setdefault(m["ecosystem"], []).append(m["path"])
    for ecosystem, paths in sorted(by_ecosystem.items()):
        if not covered & DEPENDABOT_NAMES.get(ecosystem, {ecosystem}):
            yield warn(f"{path} has no `package-ecosystem: {ecosystem}` entry for "
                       f"{', '.join(paths[:5])}", path)


@rule(
    id="repo-lockfiles",
    title="Lockfiles committed",
    description="Every dependency manifest has its lockfile committed beside it (or in the "
    "workspace root for npm, Cargo and uv workspaces); a requirements.txt counts as its own "
    "lockfile when every line pins with == or --hash. Maven has no lockfile convention and "
    "is not judged.",
    severity="medium",
    targets=["repo"],
    enforcement="deny",
    remediation="Generate and commit the lockfile next to the manifest: "
    + "; ".join(f"{k}: {v}" for k, v in LOCKFILES.items() if k != "build.gradle.kts")
    + "; requirements.txt: pin every line with == (pip-compile --generate-hashes "
    "requirements.in).",
    url="https://github.com/ossf/scorecard/blob/main/docs/checks.md#pinned-dependencies",
    tags=["golden-path:supply-chain", "best-practice"],
)
def lockfiles(doc):
    for manifest in doc["repository"].get("dependency_manifests") or []:
        if manifest.get("pinned") is not False:
            continue
        path = manifest["path"]
        name = posixpath.basename(path)
        if path.endswith(".in"):
            msg = f"{path}: no {posixpath.basename(path[:-3])}.txt compiled from it (pip-compile)"
        elif manifest["ecosystem"] == "pip" and name not in LOCKFILES and manifest.get("error"):
            msg = f"{path}: {manifest['error']}"
        elif manifest["ecosystem"] == "pip" and name not in LOCKFILES:
            loose = manifest.get("unpinned") or []
            msg = (f"{path}: {len(loose)}{'+' if len(loose) >= 10 else ''} requirement(s) not "
                   f"pinned with == or --hash: {', '.join(loose[:3])}")
        else:
            msg = f"{path}: no lockfile; expected {LOCKFILES.get(name, 'a lockfile')}"
        yield {"msg": msg, "path": path}
