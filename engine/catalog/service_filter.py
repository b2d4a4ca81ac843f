"""Which services something applies to: a scorecard, a campaign.

Keys are catalog facts (type, lifecycle, tier, owner, system; `team` is another name for
owner). Each key allows a list of values; a service must match every key given. An owner
or a system matches by ref (`group:default/team-shop`) or by name (`team-shop`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

FILTER_KEYS = ("type", "lifecycle", "tier", "owner", "team", "system")


class FilterError(ValueError):
    """A filter that names an unknown key or is not a mapping."""


@dataclass(frozen=True, slots=True)
class ServiceFilter:
    allowed: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.allowed)

    def __iter__(self) -> Iterator[str]:
        return iter(self.allowed)

    def items(self) -> Iterator[tuple[str, tuple[str, ...]]]:
        return iter(self.allowed.items())

    def matches(self, service: Mapping[str, Any]) -> bool:
        """`service` holds the catalog facts by key (a `ServiceRow`'s fields, say)."""
        for key, allowed in self.allowed.items():
            value = service.get("owner" if key == "team" else key)
            if key in ("owner", "team", "system") and value:
                names = {str(value), str(value).split("/")[-1]}
                if not names & set(allowed):
                    return False
            elif value is None or str(value) not in allowed:
                return False
        return True

    def as_dict(self) -> dict[str, list[str]]:
        return {k: list(v) for k, v in self.allowed.items()}


def parse_service_filter(raw: Any) -> ServiceFilter:
    if not isinstance(raw, dict):
        raise FilterError("must be a mapping of catalog fact to allowed values")
    unknown = sorted(set(raw) - set(FILTER_KEYS))
    if unknown:
        raise FilterError(f"unknown filter key(s) {unknown}; known: {list(FILTER_KEYS)}")
    return ServiceFilter({key: tuple(str(v) for v in (value if isinstance(value, list)
                                                      else [value]))
                          for key, value in raw.items()})
