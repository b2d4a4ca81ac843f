"""Dockerfiles on the golden path: reproducible base images, and no root at runtime.

A base image named only by tag can change under the same name (and a registry compromise
can change it for you); a digest cannot. The tag stays next to the digest because people
and Renovate read the version from it. Running as root turns any container escape or
mounted-volume mistake into a host-level problem.
"""

from __future__ import annotations

import re

from pathwarden.engine.rules import rule, warn

DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
ROOT = frozenset({"root", "0"})


@rule(
    id="repo-dockerfile-pinned-base",
    title="Dockerfile base images pinned by tag and digest",
    description="Every FROM (except `scratch` and earlier build stages) names its base image "
    "with a version tag and a @sha256 digest, so builds are reproducible and a re-pushed tag "
    "cannot change what ships. ARG defaults are resolved first.",
    severity="medium",
    targets=["repo"],
    enforcement="deny",
    remediation="Write every base image as name:tag@sha256:digest, e.g. "
    "`FROM python:3.12-slim@sha256:<digest>` (`docker buildx imagetools inspect "
    "python:3.12-slim` prints the digest), and let Renovate (pinDigests) or Dependabot "
    "(package-ecosystem: docker) keep it current.",
    url="https://docs.docker.com/build/building/best-practices/#pin-base-image-versions",
    tags=["golden-path:supply-chain", "best-practice"],
)
def pinned_base(doc):
    for dockerfile in doc["repository"].get("dockerfiles") or []:
        path = dockerfile["path"]
        if dockerfile.get("error"):
            yield {"msg": f"{path}: {dockerfile['error']}", "path": path}
            continue
        for stage in dockerfile["stages"]:
            problem = _base_problem(stage)
            if problem:
                where = f"{path}:{stage['line']}"
                yield {"msg": f"{where}: base image {stage['from']!r} {problem}", "path": where}


def _base_problem(stage: dict) -> str | None:
    if stage.get("base_stage") or stage["image"].lower() == "scratch":
        return None
    if "$" in stage["image"] or "$" in (stage.get("tag") or ""):
        return "cannot be resolved (an ARG without a default); give the ARG a default"
    tag, digest = stage.get("tag"), stage.get("digest")
    if not tag and not digest:
        return "has neither a tag nor a digest"
    if not digest:
        return f"is pinned by tag {tag!r} only; add @sha256:<digest>"
    if not DIGEST.match(digest):
        return f"has digest {digest!r}, expected sha256:<64 hex digits>"
    if not tag:
        return "has a digest but no tag; add the version tag before the digest"
    if tag == "latest":
        return "uses the :latest tag; name the version the digest belongs to"
    return None


@rule(
    id="repo-dockerfile-non-root",
    title="Dockerfile images run as non-root",
    description="The final stage of every Dockerfile sets a USER that is not root (`root`, "
    "`0`, `0:0`); a USER set in an earlier stage it builds on counts. The base image's own "
    "USER is not inspected, so the Dockerfile must say it.",
    severity="high",
    targets=["repo"],
    enforcement="deny",
    remediation="In the final stage, create an unprivileged user and switch to it: "
    "`RUN useradd --uid 10001 --no-create-home app` then `USER 10001:10001` (distroless: "
    "`USER nonroot`; scratch: `USER 65534:65534`).",
    url="https://docs.docker.com/build/building/best-practices/#user",
    tags=["golden-path:secure-workloads", "best-practice"],
)
def non_root(doc):
    for dockerfile in doc["repository"].get("dockerfiles") or []:
        path, stages = dockerfile["path"], dockerfile.get("stages") or []
        if not stages:
            continue  # repo-dockerfile-pinned-base reports a Dockerfile without FROM
        user, line = dockerfile.get("user"), dockerfile.get("user_line")
        if user is None:
            where = f"{path}:{stages[-1]['line']}"
            yield {"msg": f"{where}: the final stage sets no USER, so the image runs as root "
                          "(unless its base image says otherwise)", "path": where}
        elif "$" in user:
            yield warn(f"{path}:{line}: USER {user} cannot be resolved; cannot tell whether it "
                       "is root", f"{path}:{line}")
        elif user.split(":", 1)[0].strip() in ROOT:
            yield {"msg": f"{path}:{line}: USER {user} runs the image as root",
                   "path": f"{path}:{line}"}
