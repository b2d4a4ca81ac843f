"""Reading waiver and campaign files from the policy directories and `governance.dirs`.

Files are ordinary YAML with `apiVersion: pathwarden.dev/v1` and `kind: Waiver` or
`kind: Campaign`, so they sit next to the policies they concern and go through the same
review. Anything else in those directories is left to the policy loader. A file that is
wrong is reported with its path and line and skipped; the others still apply, because a
missing waiver only makes enforcement stricter.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from ..errors import Problem
from ..model import Location
from ..sources.manifests import manifest_files, read_documents
from .campaigns import Campaign, CampaignError, campaign_from_document
from .config import GovernanceSettings
from .waivers import API_VERSION, Waiver, WaiverError, waiver_from_document

KINDS = ("Waiver", "Campaign")


@dataclass(slots=True)
class GovernanceFiles:
    waivers: list[Waiver] = field(default_factory=list)
    campaigns: list[Campaign] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def read_governance_files(dirs: Iterable[Path], settings: GovernanceSettings, *,
                          today: date) -> GovernanceFiles:
    found = GovernanceFiles()
    seen: dict[tuple[str, str], str] = {}
    for path in dict.fromkeys(dirs):
        if not path.exists():
            continue  # a missing policy directory is the policy loader's to report
        for file in manifest_files([path]):
            _read_file(file, settings, today, found, seen)
    return found


def _read_file(file: Path, settings: GovernanceSettings, today: date, found: GovernanceFiles,
               seen: dict[tuple[str, str], str]) -> None:
    try:
        if API_VERSION not in file.read_text(encoding="utf-8", errors="replace"):
            return  # not ours: policies, Gatekeeper objects, test data
    except OSError:
        return
    problems: list[Problem] = []
    for doc, line in read_documents(file, problems):
        if not isinstance(doc, dict) or doc.get("apiVersion") != API_VERSION:
            continue
        kind = doc.get("kind")
        location = Location(str(file), line)
        if kind not in KINDS:
            problems.append(Problem("governance", f"unknown kind {kind!r} for {API_VERSION}; "
                                    f"use one of {list(KINDS)}", location))
            continue
        try:
            item: Waiver | Campaign
            if kind == "Waiver":
                item = waiver_from_document(doc, zone=settings.zone,
                                            max_days=settings.waivers.max_days, today=today,
                                            location=str(location))
            else:
                item = campaign_from_document(doc, default_timezone=settings.timezone,
                                              location=str(location))
        except (WaiverError, CampaignError) as exc:
            problems.append(Problem("governance", str(exc), location))
            continue
        key = (kind, item.id)
        if key in seen:
            problems.append(Problem("governance", f"duplicate {kind.lower()} id {item.id!r} "
                                    f"(first in {seen[key]})", location))
            continue
        seen[key] = str(location)
        if isinstance(item, Waiver):
            found.waivers.append(item)
        else:
            found.campaigns.append(item)
    found.problems.extend(problems)
