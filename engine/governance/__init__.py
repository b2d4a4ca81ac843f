"""Escape hatches and progressive enforcement: waivers with expiry, and campaigns.

`load_governance(settings, now, store=...)` builds the `Governance` every process applies:
it excuses covered failures (`waived`) and sets the enforcement in force by date.
"""

from __future__ import annotations

from .book import Effective, Governance, configured_enforcement
from .campaigns import Campaign, Phase
from .config import GovernanceSettings
from .configured import load_governance
from .waivers import Waiver

__all__ = ["Campaign", "Effective", "Governance", "GovernanceSettings", "Phase", "Waiver",
           "configured_enforcement", "load_governance"]
