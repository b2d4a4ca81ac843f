"""Page state in the URL: filters and the trend window.

Everything a lead chooses lives in the query string, so a page can be bookmarked or pasted
into a chat and opens the same; every link between pages carries the same query.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import quote, urlencode

from ...engine.store import ServiceRow
from ..views import ServiceFilter, team_of

WINDOWS = (7, 30, 90)
DEFAULT_WINDOW = 30
FILTER_KEYS = ("team", "system", "lifecycle", "tier")


def read_filter(params: Mapping[str, str]) -> ServiceFilter:
    """Empty values mean "all" (an empty select submits `team=`)."""
    return ServiceFilter(**{k: (params.get(k) or "").strip() or None for k in FILTER_KEYS})


def read_days(params: Mapping[str, str]) -> int:
    """Only the offered windows: a hand-edited `days=100000` must not scan years of rows."""
    try:
        days = int(params.get("days") or DEFAULT_WINDOW)
    except ValueError:
        return DEFAULT_WINDOW
    return days if days in WINDOWS else DEFAULT_WINDOW


@dataclass(frozen=True, slots=True)
class Links:
    """Builds hrefs that keep the page's filters and window."""

    query: Mapping[str, str]

    @classmethod
    def of(cls, flt: ServiceFilter, days: int) -> Links:
        query = dict(flt.query())
        if days != DEFAULT_WINDOW:
            query["days"] = str(days)
        return cls(query)

    def to(self, path: str, **changes: str | int | None) -> str:
        query = {**self.query}
        for key, value in changes.items():
            if value is None or value == "":
                query.pop(key, None)
            else:
                query[key] = str(value)
        return path + ("?" + urlencode(query) if query else "")

    def overview(self, **changes: str | int | None) -> str:
        return self.to("/", **changes)

    def team(self, team: str) -> str:
        # The path names the team; a `team` filter in the query would only contradict it.
        return self.to(f"/teams/{quote(team, safe='')}", team=None)

    def service(self, ref: str) -> str:
        return self.to(f"/services/{quote(ref, safe=':/')}")

    def policy(self, policy_id: str) -> str:
        return self.to(f"/policies/{quote(policy_id, safe='')}")

    def campaigns(self) -> str:
        return self.to("/campaigns")

    def campaign(self, campaign_id: str) -> str:
        return self.to(f"/campaigns/{quote(campaign_id, safe='')}")

    def waivers(self, **changes: str | int | None) -> str:
        """`show` (a list) and `policy` are the waivers page's own; other pages' links
        carry only the shared filters and window."""
        return self.to("/waivers", **changes)

    def waiver(self, waiver_id: str) -> str:
        return self.to(f"/waivers/{quote(waiver_id, safe='')}")

    def window(self, path: str, days: int) -> str:
        return self.to(path, days=None if days == DEFAULT_WINDOW else days)


@dataclass(frozen=True, slots=True)
class FilterOptions:
    """The values the filter form offers: only those the catalog actually has."""

    team: list[str]
    system: list[str]
    lifecycle: list[str]
    tier: list[str]


def filter_options(services: Iterable[ServiceRow]) -> FilterOptions:
    services = list(services)

    def distinct(values: Iterable[str | None]) -> list[str]:
        return sorted({v for v in values if v})

    return FilterOptions(
        team=distinct(team_of(s.owner) for s in services if s.owner),
        system=distinct(s.system for s in services),
        lifecycle=distinct(s.lifecycle for s in services),
        tier=distinct(str(s.tier) if s.tier is not None else None for s in services))
