"""The data that flows through pathwarden: targets go in, findings come out.

These types are the contracts of DESIGN.md. They are plain data so that every caller
(CLI, scanner, webhook, scorecards) can build, compare and serialise them without
touching the engine's internals.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, NamedTuple

TARGET_KINDS = ("k8s", "repo", "pipeline")


class Severity(enum.StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class Enforcement(enum.StrEnum):
    """What a failing policy does: block (deny), tell (warn) or only record (audit)."""

    DENY = "deny"
    WARN = "warn"
    AUDIT = "audit"


class Status(enum.StrEnum):
    PASS = "pass"
    FAIL = "fail"
    WARN = "warn"
    ERROR = "error"
    SKIP = "skip"
    WAIVED = "waived"


class Language(enum.StrEnum):
    REGO = "rego"
    PYTHON = "python"


@dataclass(frozen=True, slots=True)
class Location:
    """Where something came from, so every message can point at a file and line."""

    file: str
    line: int | None = None

    def __str__(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file


@dataclass(frozen=True, slots=True)
class TargetRef:
    """The identity of a target, carried by every finding about it."""

    id: str
    kind: str
    name: str
    object_kind: str | None = None
    namespace: str | None = None
    service: str | None = None
    location: Location | None = None


@dataclass(slots=True)
class Target:
    """One thing that is judged. `document` is the public input contract for rules."""

    ref: TargetRef
    document: dict[str, Any]

    @property
    def id(self) -> str:
        return self.ref.id

    @property
    def kind(self) -> str:
        return self.ref.kind


class Violation(NamedTuple):
    """One thing a rule found wrong; `path` is a JSON path inside the target's object.

    A named tuple rather than a frozen dataclass: an audit builds one per failed check,
    and a frozen dataclass costs several times more to construct.
    """

    msg: str
    path: str | None = None
    details: Any = None


@dataclass(frozen=True, slots=True)
class Policy:
    """A rule set plus the metadata people need to act on its result."""

    id: str
    title: str
    description: str
    severity: Severity
    targets: tuple[str, ...]
    kinds: tuple[str, ...]
    enforcement: Enforcement
    remediation: str
    url: str | None
    tags: tuple[str, ...]
    language: Language
    location: Location
    parameters: dict[str, Any] = field(default_factory=dict)
    required_parameters: tuple[str, ...] = ()
    inventory: bool = False
    autogen: bool = True
    operations: tuple[str, ...] = ("CREATE", "UPDATE")
    """Admission operations the policy judges; DELETE and CONNECT only when asked for."""

    def applies_to_pods(self) -> bool:
        """Pod rules also judge the pod templates of workloads (like Kyverno's autogen)."""
        return self.autogen and "Pod" in self.kinds


@dataclass(slots=True)
class Finding:
    """The result of one policy on one target."""

    policy_id: str
    target: TargetRef
    status: Status
    severity: Severity
    enforcement: Enforcement
    violations: tuple[Violation, ...] = ()
    warnings: tuple[Violation, ...] = ()
    error: str | None = None
    scan_id: str | None = None
    waiver: str | None = None
    """The id of the waiver that excuses this finding (status `waived`)."""

    @property
    def messages(self) -> list[str]:
        if self.error:
            return [self.error]
        return [v.msg for v in (*self.violations, *self.warnings)]

    @property
    def blocks(self) -> bool:
        """True when this finding should stop a deploy (CI exit 1, admission deny)."""
        return self.status is Status.FAIL and self.enforcement is Enforcement.DENY
