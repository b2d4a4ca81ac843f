"""Pieces of the pipeline document that GitHub Actions and GitLab CI share.

Both parsers build the same shape (README, "Pipeline targets"), so references to actions
and images, credential names and plain-text coercions are normalised here once and a
policy never has to know which system a value came from.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

SHA = re.compile(r"^[0-9a-fA-F]{40}$")
VERSION = re.compile(r"^v?\d+(?:\.\d+)*(?:[-+.][0-9A-Za-z.+-]*)?$")
CREDENTIAL_NAME = re.compile(
    r"TOKEN|SECRET|PASSW(?:OR)?D|(?:^|_)PASS(?:$|_)|(?:^|_)PWD(?:$|_)|API_?KEY|ACCESS_?KEY"
    r"|PRIVATE_?KEY|(?:^|_)KEY(?:$|_)|CREDENTIAL|(?:^|_)CREDS(?:$|_)|(?:^|_)AUTH(?:$|_)"
    r"|(?:^|_)(?:CERT|PEM|P12|PFX|KEYSTORE|DSN)(?:$|_)",
    re.IGNORECASE,
)
_SECRETS_EXPR = re.compile(
    r"\bsecrets\s*(?:\.\s*([A-Za-z_][\w-]*)|\[\s*['\"]([^'\"]+)['\"]\s*\])", re.IGNORECASE)
_SHELL_VAR = re.compile(r"\$(?:\{([A-Za-z_]\w*)[^}]*\}|([A-Za-z_]\w*))")
_PREDEFINED = ("CI_", "GITLAB_", "FF_")


def parse_uses(raw: str) -> dict[str, Any]:
    """`owner/repo[/path]@ref`, `./local`, `docker://image[:tag|@digest]`, one shape.

    `ref_kind` says what the ref is: GitHub cannot tell a branch from a tag by name, so a
    version-like ref (`v4`, `1.2.3`) counts as a tag and any other name as a branch.
    """
    raw = raw.strip()
    base: dict[str, Any] = {"raw": raw, "action": raw, "owner": None, "repo": None,
                            "subpath": None, "ref": None, "ref_kind": "local", "pinned": False}
    if raw.startswith(("./", "../")) or raw == ".":
        return base
    if raw.startswith("docker://"):
        image = split_image(raw[len("docker://"):])
        return {**base, "action": f"docker://{image['name']}",
                "ref": image["digest"] or image["tag"], "ref_kind": "docker",
                "pinned": bool(image["digest"])}
    name, _, ref = raw.partition("@")
    parts = name.split("/")
    kind = "sha" if SHA.match(ref) else "tag" if VERSION.match(ref) else "branch"
    return {**base, "action": name, "owner": parts[0], "repo": parts[1] if len(parts) > 1 else None,
            "subpath": "/".join(parts[2:]) or None, "ref": ref or None, "ref_kind": kind,
            "pinned": kind == "sha"}


def split_image(ref: str) -> dict[str, Any]:
    """`registry/name:tag@sha256:…` into name, tag and digest (a port is not a tag)."""
    name, _, digest = ref.partition("@")
    tag = None
    if ":" in name.rsplit("/", 1)[-1]:
        name, tag = name.rsplit(":", 1)
    return {"image": ref, "name": name, "tag": tag, "digest": digest or None}


def text(value: Any) -> str | None:
    """Scalars as the CI system sees them in the environment: `true`, `3`, `x`."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def str_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return [str(v) for v in value if v is not None]
    return [str(value)]


def str_map(value: Any) -> dict[str, Any]:
    """Mappings such as `env:` and `with:`: keys as text, scalar values as text."""
    if not isinstance(value, dict):
        return {}
    return {str(k): text(v) if not isinstance(v, dict | list) else v for k, v in value.items()}


def strings(value: Any, depth: int = 0) -> Iterator[str]:
    """Every string (keys too) inside a YAML value; never file comments."""
    if depth > 40:
        return
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            if isinstance(k, str):
                yield k
            yield from strings(v, depth + 1)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from strings(v, depth + 1)


def github_secret_names(data: Any) -> list[str]:
    """Names behind `secrets.X` / `secrets['X']` in expressions; the values are never seen."""
    names = {m.group(1) or m.group(2) for s in strings(data) for m in _SECRETS_EXPR.finditer(s)}
    return sorted(names)


def gitlab_secret_names(data: Any) -> list[str]:
    """`$NAME` / `${NAME}` references that look like credentials (GitLab keeps them as
    CI/CD variables), without GitLab's own predefined `CI_*` variables."""
    names = {m.group(1) or m.group(2) for s in strings(data) for m in _SHELL_VAR.finditer(s)}
    return sorted(n for n in names
                  if CREDENTIAL_NAME.search(n) and not n.startswith(_PREDEFINED))


def image_entry(ref: str, path: str, line: int | None, file: str) -> dict[str, Any]:
    return {**split_image(ref), "path": path, "line": line, "file": file}
