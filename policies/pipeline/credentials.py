"""Short-lived cloud credentials through OIDC, never stored cloud keys.

An access key or service-account key kept as a CI secret is valid until someone rotates
it; one leaked log line or compromised action keeps working for months. GitHub Actions and
GitLab both issue OIDC tokens that AWS, Google Cloud and Azure exchange for credentials
that expire within the hour and can be bound to one repository and branch.

What cannot be seen: keys stored as GitLab CI/CD variables under the exact names the cloud
CLIs read (AWS_ACCESS_KEY_ID, …) that the file never mentions.
"""

from __future__ import annotations

import re

from pathwarden.engine.rules import rule, warn

KEY_NAME = re.compile(
    r"(?i)AWS_(?:SECRET_)?ACCESS_KEY(?:_ID)?|AWS_SECRET|GOOGLE_CREDENTIALS|GCP_SA_KEY"
    r"|GCP_CREDENTIALS|GCLOUD_SERVICE_KEY|GCP_SERVICE_ACCOUNT_KEY|SERVICE_ACCOUNT_(?:KEY|JSON)"
    r"|AZURE_CLIENT_SECRET|AZURE_CREDENTIALS|ARM_CLIENT_SECRET")
SECRET_REF = re.compile(r"\bsecrets\s*(?:\.\s*([\w-]+)|\[\s*['\"]([^'\"]+)['\"]\s*\])", re.I)
GITLAB_REF = re.compile(r"\$\{?([A-Za-z_]\w*)")
STATIC_INPUTS = {
    "aws-actions/configure-aws-credentials": ("aws-access-key-id", "aws-secret-access-key"),
    "google-github-actions/auth": ("credentials_json",),
    "google-github-actions/setup-gcloud": ("service_account_key",),
    "azure/login": ("creds",),
}
OIDC_INPUTS = {
    "aws-actions/configure-aws-credentials": "role-to-assume",
    "google-github-actions/auth": "workload_identity_provider",
    "azure/login": "client-id",
}
OIDC_PATH = "https://docs.github.com/en/actions/security-for-github-actions/" \
    "security-hardening-your-deployments/about-security-hardening-with-openid-connect"


def _stored_keys(text) -> list[str]:
    """Names of secrets in `text` that hold cloud keys."""
    return [name for m in SECRET_REF.finditer(str(text or ""))
            if KEY_NAME.search(name := m.group(1) or m.group(2))]


def _key_env(env: dict) -> list[str]:
    """Cloud-key variables set from a secret or written into the file."""
    return [k for k, v in env.items() if KEY_NAME.fullmatch(k)
            and (SECRET_REF.search(str(v)) or (v and "${{" not in str(v)))]


@rule(
    id="pipeline-no-long-lived-cloud-credentials",
    title="Cloud access through OIDC, not stored keys",
    description="Pipelines reach AWS, Google Cloud and Azure with OIDC federation rather than "
    "keys stored as CI secrets: no AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, GOOGLE_CREDENTIALS/"
    "GCP_SA_KEY/credentials_json or AZURE_CLIENT_SECRET/azure creds taken from secrets. "
    "Passing forms: configure-aws-credentials with role-to-assume, google-github-actions/auth "
    "with workload_identity_provider, azure/login with client-id/tenant-id, each with "
    "`id-token: write`; on GitLab, `id_tokens:` in the job.",
    severity="high",
    targets=["pipeline"],
    enforcement="deny",
    remediation="Create an OIDC trust for the repository in the cloud (an IAM role, a "
    "Workload Identity pool, an Azure federated credential), delete the stored key, and:\n"
    "  permissions: {id-token: write, contents: read}\n"
    "  - uses: aws-actions/configure-aws-credentials@<sha>  # v4\n"
    "    with: {role-to-assume: arn:aws:iam::123456789012:role/ci-deploy, aws-region: "
    "eu-west-1}\n"
    "On GitLab: `id_tokens: {AWS_TOKEN: {aud: sts.amazonaws.com}}` and "
    "`aws sts assume-role-with-web-identity --web-identity-token $AWS_TOKEN …`.",
    url=OIDC_PATH,
    tags=["golden-path:supply-chain", "golden-path:ci", "best-practice"],
)
def no_long_lived_cloud_credentials(doc):
    pipeline = doc["pipeline"]
    if pipeline["system"] == "gitlab-ci":
        yield from _gitlab(pipeline)
        return
    file = pipeline["path"]
    for key in _key_env(pipeline["env"]):
        yield _violation(f"workflow env {key} holds a stored cloud key", file, "env",
                         pipeline["lines"].get("env"))
    for job in pipeline["jobs"]:
        for key in _key_env(job["env"]):
            yield _violation(f"job \"{job['id']}\" env {key} holds a stored cloud key", file,
                             f"{job['path']}.env", job["lines"].get("env"))
        for step in job["steps"]:
            yield from _step(pipeline, job, step)


def _step(pipeline: dict, job: dict, step: dict):
    file, label = pipeline["path"], f"job \"{job['id']}\" step {step['index']}"
    action = (step["uses"] or {}).get("action", "").lower()
    static = [k for k in STATIC_INPUTS.get(action, ()) if step["with"].get(k)]
    keys = _key_env(step["env"]) + _stored_keys(step["run"]) + \
        [n for v in step["with"].values() for n in _stored_keys(v)]
    if static:
        yield _violation(f"{label} passes {', '.join(static)} to {action}; use "
                         f"{OIDC_INPUTS.get(action, 'OIDC')} instead", file, step["path"],
                         step["line"])
    elif keys:
        yield _violation(f"{label} uses stored cloud keys ({', '.join(sorted(set(keys)))})",
                         file, step["path"], step["line"])
    elif step["with"].get(OIDC_INPUTS.get(action, "-")) and not _id_token(pipeline, job):
        yield warn(f"{label} uses OIDC but the job's permissions lack `id-token: write`",
                   f"{file}:{step['path']}", {"file": file, "line": step["line"]})


def _id_token(pipeline: dict, job: dict) -> bool:
    """Whether the job may request an OIDC token; unknown (repository default) counts."""
    permissions = job["permissions"] if job["permissions"] is not None else \
        pipeline["permissions"]
    if permissions is None or permissions == "write-all":
        return True
    return isinstance(permissions, dict) and permissions.get("id-token") == "write"


def _gitlab(pipeline: dict):
    for job in pipeline["jobs"]:
        if job["id_tokens"]:
            continue
        own = {k: v for k, v in job["env"].items() if KEY_NAME.fullmatch(k)}
        refs = {m.group(1) for step in job["steps"] for m in GITLAB_REF.finditer(step["run"])}
        refs |= {m.group(1) for v in own.values() for m in GITLAB_REF.finditer(str(v or ""))}
        keys = sorted(set(own) | {r for r in refs if KEY_NAME.search(r)})
        if keys:
            yield _violation(f"job \"{job['id']}\" uses stored cloud keys ({', '.join(keys)}) "
                             "and no id_tokens", job["file"], job["path"], job["line"])


def _violation(msg: str, file: str, path: str, line: int | None) -> dict:
    return {"msg": msg, "path": f"{file}:{path}", "details": {"file": file, "line": line}}
