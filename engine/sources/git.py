"""Running git for the repository source: never interactive, always bounded in time.

The scanner runs unattended (a CronJob, the scheduler), so a git that waits for a password
or a host-key answer would hang the whole scan. Every call gets a timeout, no stdin, and
prompting switched off; credentials come only from what is already configured (credential
helpers, SSH agent or keys, `url.<base>.insteadOf`).
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

DEFAULT_TIMEOUT = 300.0
_SCP_LIKE = re.compile(r"^(?:(?P<user>[\w.+-]+)@)?(?P<host>[\w.-]+):(?P<path>(?!//).+)$")
_SCHEMES = ("https://", "http://", "ssh://", "git://", "file://", "git+ssh://", "ssh+git://")


class GitError(Exception):
    """A git command failed; `reason` is the line of stderr that says why."""

    def __init__(self, command: str, reason: str):
        self.command = command
        self.reason = reason
        super().__init__(f"git {command} failed: {reason}")


@dataclass(frozen=True, slots=True)
class Commit:
    sha: str
    time: str
    author: str
    author_email: str


def git_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "GIT_TERMINAL_PROMPT": "0",
        "GCM_INTERACTIVE": "never",
        "GIT_SSH_COMMAND": env.get("GIT_SSH_COMMAND") or "ssh -o BatchMode=yes",
        "LC_ALL": "C",
    })
    return env


def run_git(args: list[str], *, cwd: Path | None = None, timeout: float = DEFAULT_TIMEOUT,
            secret_free: str | None = None, secret: str | None = None) -> str:
    """stdout of `git args`; raises GitError with the telling stderr line.

    `secret`/`secret_free`: the URL as given and as it may be shown; stderr can echo the
    URL, and a token in it must not reach a log or the store.
    """
    name = args[0] if args else "git"
    try:
        done = subprocess.run(["git", *args], cwd=cwd, env=git_env(), stdin=subprocess.DEVNULL,
                              capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise GitError(name, f"timed out after {timeout:g}s") from None
    except OSError as exc:
        raise GitError(name, f"cannot run git: {exc}") from None
    if done.returncode != 0:
        stderr = done.stderr.decode("utf-8", "replace")
        if secret and secret_free and secret != secret_free:
            stderr = stderr.replace(secret, secret_free)
        raise GitError(name, _reason(stderr) or f"exit code {done.returncode}")
    return done.stdout.decode("utf-8", "replace")


def _reason(stderr: str) -> str:
    """The first `fatal:`/`error:` line names the cause; later ones are generic advice."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    for line in lines:
        for prefix in ("fatal: ", "error: "):
            if line.startswith(prefix):
                return line[len(prefix):]
    return lines[-1] if lines else ""


def is_remote_url(text: str) -> bool:
    """URLs and scp-like `git@host:owner/repo.git`; anything else is a local path."""
    if text.startswith(_SCHEMES):
        return True
    return bool(_SCP_LIKE.match(text)) and not Path(text).exists() and "/" in text.split(":")[1]


def normalise_url(url: str) -> str:
    """A comparable, credential-free URL: ssh and scp-like forms of a hosted repository
    become https, `.git` and trailing slashes go, `user:token@` never survives."""
    scp = None if url.startswith(_SCHEMES) else _SCP_LIKE.match(url)
    if scp:
        return _https(scp["host"], scp["path"])
    parts = urlsplit(url)
    if parts.scheme == "file":
        return urlunsplit(("file", "", parts.path.rstrip("/") or "/", "", ""))
    host = parts.hostname or ""
    if parts.scheme in ("ssh", "git", "git+ssh", "ssh+git"):
        return _https(host, parts.path)
    netloc = host + (f":{parts.port}" if parts.port else "")
    path = _strip_git(parts.path)
    return urlunsplit((parts.scheme, netloc, path, "", ""))


def _https(host: str, path: str) -> str:
    return f"https://{host}/{_strip_git(path).lstrip('/')}"


def _strip_git(path: str) -> str:
    path = path.rstrip("/")
    return path[:-4] if path.endswith(".git") else path


def redact(url: str) -> str:
    """The URL as it may appear in messages: without any password or token."""
    if not url.startswith(_SCHEMES):
        return url
    parts = urlsplit(url)
    if parts.password is None and not (parts.username and parts.scheme.startswith("http")):
        return url
    netloc = (parts.hostname or "") + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def slug(url: str | None) -> str | None:
    """`owner/name` (or `group/sub/name` on GitLab) of a hosted repository URL."""
    if not url or url.startswith("file:"):
        return None
    path = urlsplit(url).path.strip("/")
    return path if path.count("/") >= 1 else None


def last_commit(repo: Path) -> Commit | None:
    """HEAD's commit, with the committer time in UTC (when the change landed)."""
    try:
        out = run_git(["log", "-1", "--format=%H%x00%ct%x00%an%x00%ae"], cwd=repo, timeout=60)
    except GitError:
        return None  # a repository without commits
    if not out.strip():
        return None
    sha, stamp, author, email = out.rstrip("\n").split("\x00")
    when = datetime.fromtimestamp(int(stamp), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return Commit(sha, when, author, email)


def tracked_files(repo: Path) -> list[str]:
    out = run_git(["ls-files", "-z"], cwd=repo, timeout=120)
    return sorted({p for p in out.split("\x00") if p})


def current_branch(repo: Path) -> str | None:
    try:
        return run_git(["symbolic-ref", "--short", "-q", "HEAD"], cwd=repo, timeout=30).strip() \
            or None
    except GitError:
        return None  # detached HEAD


def origin_head(repo: Path) -> str | None:
    """The remote's default branch as recorded at clone time (`refs/remotes/origin/HEAD`)."""
    try:
        ref = run_git(["symbolic-ref", "-q", "refs/remotes/origin/HEAD"], cwd=repo,
                      timeout=30).strip()
    except GitError:
        return None
    return ref.removeprefix("refs/remotes/origin/") or None


def remote_default_branch(repo: Path, timeout: float) -> str | None:
    """Ask the remote which branch its HEAD names (one round trip, no objects)."""
    try:
        out = run_git(["ls-remote", "--symref", "origin", "HEAD"], cwd=repo, timeout=timeout)
    except GitError:
        return None
    for line in out.splitlines():
        if line.startswith("ref: ") and line.endswith("\tHEAD"):
            return line[5:-5].removeprefix("refs/heads/")
    return None


def origin_url(repo: Path) -> str | None:
    try:
        return run_git(["config", "--get", "remote.origin.url"], cwd=repo, timeout=30).strip() \
            or None
    except GitError:
        return None


def toplevel(path: Path) -> Path | None:
    """The work tree's root when `path` is inside one, else None."""
    try:
        out = run_git(["rev-parse", "--show-toplevel"], cwd=path, timeout=30).strip()
    except GitError:
        return None
    return Path(out).resolve() if out else None


def is_bare(path: Path) -> bool:
    """True only for the bare repository itself, not for a folder somewhere inside one."""
    try:
        out = run_git(["rev-parse", "--is-bare-repository", "--absolute-git-dir"], cwd=path,
                      timeout=30).split()
    except GitError:
        return False
    return len(out) == 2 and out[0] == "true" and Path(out[1]).resolve() == path.resolve()
