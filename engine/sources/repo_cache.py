"""Shallow clones of remote repositories, kept in a cache directory between scans.

A scan only needs the newest tree of one branch, so clones are `--depth 1` and a rescan
fetches one commit. A clone is made in a temporary folder and renamed into place only when
it is complete: an interrupted or failed clone never looks like a usable repository to the
next scan.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import tempfile
import time
from pathlib import Path

from .git import GitError, redact, run_git, toplevel

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def cache_path(cache_dir: Path, name: str, url: str, branch: str | None) -> Path:
    """One folder per (url, branch): a readable name plus a hash that keeps them apart."""
    digest = hashlib.sha256(f"{url}\n{branch or ''}".encode()).hexdigest()[:12]
    safe = _UNSAFE.sub("-", name).strip("-.") or "repo"
    return cache_dir / f"{safe}-{digest}"


def sync(url: str, dest: Path, branch: str | None, timeout: float) -> None:
    """Make `dest` hold the newest commit of `branch` (or the remote's HEAD) of `url`."""
    if dest.is_dir() and toplevel(dest) == dest.resolve():
        _update(url, dest, branch, timeout)
        return
    if dest.exists():
        shutil.rmtree(dest)  # not a clone of ours (or a broken one): start again
    _clone(url, dest, branch, timeout)


def _update(url: str, dest: Path, branch: str | None, timeout: float) -> None:
    shown = redact(url)
    run_git(["fetch", "--depth", "1", "--no-tags", "origin", branch or "HEAD"], cwd=dest,
            timeout=timeout, secret=url, secret_free=shown)
    run_git(["reset", "--hard", "-q", "FETCH_HEAD"], cwd=dest, timeout=timeout)
    run_git(["clean", "-ffdxq"], cwd=dest, timeout=timeout)


def _clone(url: str, dest: Path, branch: str | None, timeout: float) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale(dest, timeout)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent))
    try:
        args = ["clone", "--depth", "1", "--no-tags", "-q"]
        if branch:
            args += ["--branch", branch]
        run_git([*args, "--", url, str(tmp)], timeout=timeout, secret=url,
                secret_free=redact(url))
        try:
            tmp.rename(dest)
        except OSError:
            if toplevel(dest) != dest.resolve():  # not a concurrent scan that won the race
                raise GitError("clone", f"cannot move the clone into {dest}") from None
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _remove_stale(dest: Path, timeout: float) -> None:
    """Temporary clones left by a scan that was killed (SIGKILL, OOM) mid-clone."""
    cutoff = time.time() - max(timeout, 60.0) * 2
    for leftover in dest.parent.glob(f".{dest.name}.*.tmp"):
        try:
            if leftover.stat().st_mtime < cutoff:
                shutil.rmtree(leftover, ignore_errors=True)
        except OSError:
            continue
