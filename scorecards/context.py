"""What the server's API, dashboard and report share: the store, the configuration, the
loaded policies and scorecards. Built once by `pathwarden serve` / `report` / `demo`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from ..engine.errors import Problem
from ..engine.governance import Governance, load_governance
from ..engine.model import Policy
from ..engine.periodic import Periodic
from ..engine.policyset import PolicySet
from ..engine.settings import Settings
from ..engine.store import Store
from .definitions import Scorecard, ScorecardSet, configured_scorecards

if TYPE_CHECKING:
    from ..engine.scanner.schedule import Scanner


@dataclass
class AppContext:
    store: Store
    settings: Settings
    policies: dict[str, Policy]
    """Policy id -> policy (titles, remediation, urls, tags for pages and reports)."""
    scorecards: ScorecardSet
    scanner: Scanner | None = None
    extra: dict[str, object] = field(default_factory=dict)
    governance: Governance = field(default_factory=Governance)
    """Waivers and campaigns; `refresh_governance()` re-reads files and API waivers."""

    @classmethod
    def load(cls, store: Store, settings: Settings, policy_set: PolicySet,
             scanner: Scanner | None = None) -> AppContext:
        ctx = cls(store, settings, {p.id: p for p in policy_set.policies},
                  configured_scorecards(settings), scanner)
        ctx.refresh_governance()
        return ctx

    def refresh_governance(self, now: datetime | None = None) -> list[Problem]:
        """After an API change to a waiver, or a scan (which re-reads the files)."""
        self.governance, problems = load_governance(
            self.settings, now or datetime.now(UTC), store=self.store)
        return problems

    @property
    def cards(self) -> list[Scorecard]:
        return self.scorecards.scorecards


REFRESH_SECONDS = 30.0
"""How often `serve` re-reads waivers and campaigns, as the webhook does: a waiver
approved on another replica (or by `pathwarden` on the command line) shows everywhere
within this time."""


class GovernanceRefresher(Periodic):
    """Calls `refresh` every `seconds` on a daemon thread until `stop()`. A refresh that
    fails is logged and the last good view keeps serving."""

    def __init__(self, refresh: Callable[[], object],
                 seconds: float = REFRESH_SECONDS) -> None:
        super().__init__(refresh, seconds, name="governance-refresh",
                         failure="re-reading waivers and campaigns failed; keeping the last")
