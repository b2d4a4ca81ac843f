"""Reading single files of a repository checkout, safely and cheaply.

Repositories are untrusted input: a symlink named README.md may point at /etc/shadow and a
"lockfile" may be gigabytes. Only regular files inside the checkout are read, and only
their first megabyte, so one odd repository can neither leak host files nor stall a scan.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

MAX_BYTES = 1 << 20


class RepoReader:
    """The tracked paths of one checkout, and careful reads of the few that matter."""

    def __init__(self, root: Path, files: list[str]):
        self.root = root.resolve()
        self.files = files
        self._present = set(files)
        self._lower = {}
        for path in files:
            self._lower.setdefault(path.lower(), path)

    def has(self, path: str) -> bool:
        return path in self._present

    def first(self, candidates: Iterable[str], *, ignore_case: bool = False) -> str | None:
        """The first candidate that is tracked (case-insensitively: `Readme.md`, `LICENCE`)."""
        for candidate in candidates:
            if candidate in self._present:
                return candidate
            if ignore_case and candidate.lower() in self._lower:
                return self._lower[candidate.lower()]
        return None

    def read(self, path: str) -> tuple[str | None, str | None]:
        """(text, None) or (None, reason); bytes that are not UTF-8 become U+FFFD."""
        full = self.root / path
        try:
            resolved = full.resolve()
            if not resolved.is_relative_to(self.root):
                return None, "points outside the repository (symlink)"
            if not resolved.is_file():
                return None, "not a regular file"
            with resolved.open("rb") as handle:
                data = handle.read(MAX_BYTES)
        except OSError as exc:
            return None, f"cannot read: {exc.strerror or exc}"
        return data.decode("utf-8", "replace"), None

    def size(self, path: str) -> int | None:
        try:
            return (self.root / path).stat().st_size
        except OSError:
            return None
