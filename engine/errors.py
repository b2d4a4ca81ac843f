"""pathwarden's exception tree. Library errors are translated into these at the edge.

    PathwardenError
     ├── ProblemsError         one or more problems, each naming file, line and cause
     │    ├── PolicyLoadError  policies that do not parse, compile or carry valid metadata
     │    └── InputError       targets that could not be read (malformed YAML, bad JSON)
     ├── ConfigError           a configuration value that cannot be used
     ├── BackendError          a Rego backend that cannot be reached or answers nonsense
     └── StoreError            the database cannot be reached, opened, migrated or written

Errors are values first: a `Problem` can be collected and reported while the rest of the
work goes on; the exceptions only carry them to a caller that must stop.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .model import Location

MAX_EXTERNAL_TEXT = 500


def truncate(text: str, limit: int = MAX_EXTERNAL_TEXT) -> str:
    """Text from outside (servers, libraries) is cut so it cannot flood a log."""
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True, slots=True)
class Problem:
    """A failure of one step on one file or target: `step: file:line: message`."""

    step: str
    message: str
    location: Location | None = None

    def __str__(self) -> str:
        where = f"{self.location}: " if self.location else ""
        return f"{self.step}: {where}{self.message}"


class PathwardenError(Exception):
    pass


class ProblemsError(PathwardenError):
    def __init__(self, problems: Iterable[Problem]):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class PolicyLoadError(ProblemsError):
    pass


class InputError(ProblemsError):
    pass


class ConfigError(PathwardenError):
    pass


class BackendError(PathwardenError):
    pass


class StoreError(PathwardenError):
    """Carries the database URL (password masked) and the driver's cause, so an operator
    can tell a wrong URL from a down server without a traceback."""
