"""What a Rego backend hands back for one package on one input, and how to read it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from ..model import Location
from .source import RegoSource

RULES = ("deny", "warn")


@dataclass(frozen=True, slots=True)
class RegoModule:
    """One `.rego` file: `name` is the path shown in messages."""

    name: str
    text: str
    package: str
    rules: frozenset[str] = frozenset()  # which of RULES the package defines
    location: Location | None = None
    source: RegoSource | None = None

    @property
    def entry_path(self) -> str:
        return self.package.replace(".", "/")


@dataclass(slots=True)
class RuleResult:
    """deny/warn values of one package, or why they could not be computed."""

    values: dict[str, list[Any]] = field(default_factory=dict)
    error: str | None = None


class RegoBackend(Protocol):
    """Evaluates compiled packages; one input is converted once for all of them."""

    def evaluate(self, packages: list[RegoModule], document: dict[str, Any]) -> list[RuleResult]:
        ...


def rule_value(rule: str, value: Any) -> tuple[list[Any] | None, str | None]:
    """A deny/warn rule must be a set (a JSON list); anything else is a policy bug."""
    if value is None:
        return [], None
    if isinstance(value, list):
        return value, None
    if isinstance(value, dict):
        return None, (
            f"{rule} returned an object, not a set: this is what Rego v0 syntax "
            f"`{rule}[msg] {{ … }}` means to a Rego v1 evaluator; "
            f"write `{rule} contains msg if {{ … }}`"
        )
    return None, f"{rule} must be a set of messages, got {type(value).__name__}"
