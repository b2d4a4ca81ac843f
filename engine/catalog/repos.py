"""Repository identities from the many ways people write them.

The catalog says `acme/shop-web` (a project slug), `url:https://github.com/acme/shop-web/
tree/main/` (a source location), `git@github.com:acme/shop-web.git`; a repository source
says `https://github.com/acme/shop-web.git`. All of them must meet as one key, so a
repository is reduced to (host, path) with the `.git`, trailing slashes, user info, ports
and browse suffixes (`/tree/main/...`, `/-/blob/...`) removed, all lowercase: GitHub and
GitLab resolve owner and project names case-insensitively.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

_SCP_RE = re.compile(r"^(?:[^@/\s]+@)?([A-Za-z0-9.-]+):(?!//)(.+)$")
_SCHEME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
# Path segments where a forge's browse URL leaves the repository: GitLab's `/-/`,
# GitHub's and Bitbucket's `tree`/`blob`/`src`.
_BROWSE = frozenset({"-", "tree", "blob", "src", "raw", "commits", "edit"})


@dataclass(frozen=True, slots=True)
class RepoKey:
    host: str | None
    """`github.com`; None when only an `owner/name` slug is known (matches any host)."""
    path: str
    """`acme/shop-web`; GitLab paths may be deeper (`group/subgroup/project`)."""

    @property
    def url(self) -> str | None:
        return f"https://{self.host}/{self.path}" if self.host else None

    def same_repository(self, other: RepoKey) -> bool:
        if self.path != other.path:
            return False
        return self.host is None or other.host is None or self.host == other.host

    def __str__(self) -> str:
        return self.url or self.path


def is_url(text: str) -> bool:
    """`scheme://...`: not a local path."""
    return bool(_SCHEME_RE.match(text))


def parse_repository(text: object) -> RepoKey | None:
    """A RepoKey for a repository URL, scp-style address or `owner/name` slug, else None
    (local paths, `file:` URLs, anything with fewer than two path segments)."""
    if not isinstance(text, str):
        return None
    value = text.strip()
    if value.startswith("url:"):
        value = value[4:]
    if value.startswith("git+"):
        value = value[4:]
    if not value or value.startswith(("file:", "/", ".", "~")):
        return None
    host: str | None
    if _SCHEME_RE.match(value):
        parts = urlsplit(value)
        host, path = parts.hostname, parts.path
    elif match := _SCP_RE.match(value):
        host, path = match.group(1), match.group(2)
    else:
        first, _, rest = value.partition("/")
        host, path = (first, rest) if "." in first and rest else (None, value)
    return _key(host.lower() if host else None, path)


def slug_key(slug: object, host: str) -> RepoKey | None:
    """A project-slug annotation (`acme/shop-web`) on a known host."""
    key = parse_repository(slug)
    if key is None or key.host is not None:
        return key
    return RepoKey(host.lower(), key.path)


def _key(host: str | None, path: str) -> RepoKey | None:
    segments = [s for s in path.split("?")[0].split("#")[0].split("/") if s]
    for index, segment in enumerate(segments):
        if segment in _BROWSE and index >= 2:
            segments = segments[:index]
            break
    if host and "github" in host:
        segments = segments[:2]
    if segments and segments[-1].lower().endswith(".git"):
        segments[-1] = segments[-1][:-4]
    if len(segments) < 2 or not all(segments):
        return None
    return RepoKey(host, "/".join(segments).lower())
