"""The `governance:` section: where waivers and campaigns live, their limits, notifications.

Waivers and campaigns themselves are YAML files reviewed like code (next to the policies);
this section only holds the rules about them, which a platform team sets once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..config_values import expect_keys, strings, whole_number
from ..errors import ConfigError

ENV_NOTIFY_URL = "PATHWARDEN_NOTIFY_URL"
FORMATS = ("json", "slack")


@dataclass(frozen=True, slots=True)
class WaiverRules:
    max_days: int = 90
    """The longest a waiver may run, counted from when it was requested (files: from
    `spec.requested`, else from the day it is read)."""
    expiring_within_days: int = 14
    """Reports list waivers that expire within this many days."""
    annotation_policies: tuple[str, ...] = ()
    """Policy ids or tags (globs) that a workload may waive for itself with the
    `pathwarden.dev/waive` annotation. Empty (the default): annotations waive nothing."""


@dataclass(frozen=True, slots=True)
class NotificationSettings:
    url: str | None = None
    """Where campaign notifications are POSTed; PATHWARDEN_NOTIFY_URL (a Secret) wins.
    No URL: nothing is sent (events are still recorded as `unsent`)."""
    format: str = "json"
    """`json` (pathwarden's own event document) or `slack` (an incoming-webhook payload:
    `text` plus `blocks`)."""
    days_before_deadline: tuple[int, ...] = (14, 7, 1)
    retries: int = 3
    """Attempts after the first, with exponential backoff, before the event waits for the
    next run."""
    backoff_seconds: float = 2.0
    timeout_seconds: float = 10.0
    dashboard_url: str | None = None
    """Base URL of the dashboard, for links in messages."""
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class GovernanceSettings:
    dirs: tuple[Path, ...] = ()
    """More directories of waiver and campaign files, beside the policy directories."""
    timezone: str = "UTC"
    """Dates in waivers and campaigns (`2026-12-01`) are days in this zone."""
    waivers: WaiverRules = field(default_factory=WaiverRules)
    notifications: NotificationSettings = field(default_factory=NotificationSettings)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def parse_governance(raw: Any, base: Path, environ: Mapping[str, str],
                     path: Path | None) -> GovernanceSettings:
    expect_keys(raw, "governance", {"dirs", "timezone", "waivers", "notifications"}, path)
    timezone = str(raw.get("timezone", "UTC"))
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(f"config {path}: governance.timezone {timezone!r} is not a time "
                          "zone (use an IANA name such as Europe/Berlin)") from exc
    return GovernanceSettings(
        dirs=tuple(base / d for d in strings(raw, "dirs", path)),
        timezone=timezone,
        waivers=_waivers(raw.get("waivers") or {}, path),
        notifications=_notifications(raw.get("notifications") or {}, environ, path),
    )


def _waivers(raw: Any, path: Path | None) -> WaiverRules:
    section = "governance.waivers"
    expect_keys(raw, section, {"max_days", "expiring_within_days", "annotation_policies"},
                path)
    return WaiverRules(
        max_days=whole_number(raw, "max_days", 90, section, path, minimum=1),
        expiring_within_days=whole_number(raw, "expiring_within_days", 14, section, path),
        annotation_policies=tuple(strings(raw, "annotation_policies", path)),
    )


def _notifications(raw: Any, environ: Mapping[str, str],
                   path: Path | None) -> NotificationSettings:
    section = "governance.notifications"
    expect_keys(raw, section, {"url", "format", "days_before_deadline", "retries",
                               "backoff_seconds", "timeout_seconds", "dashboard_url",
                               "headers"}, path)
    fmt = raw.get("format", "json")
    if fmt not in FORMATS:
        raise ConfigError(f"config {path}: {section}.format is {fmt!r}; use one of "
                          f"{list(FORMATS)}")
    days = raw.get("days_before_deadline", [14, 7, 1])
    if not isinstance(days, list) or not all(
            isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in days):
        raise ConfigError(f"config {path}: {section}.days_before_deadline must be a list of "
                          "positive whole numbers")
    headers = raw.get("headers") or {}
    if not isinstance(headers, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in headers.items()):
        raise ConfigError(f"config {path}: {section}.headers maps header names to strings")
    seconds = {}
    for key, default in (("backoff_seconds", 2.0), ("timeout_seconds", 10.0)):
        value = raw.get(key, default)
        if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
            raise ConfigError(f"config {path}: {section}.{key} must be a number >= 0")
        seconds[key] = float(value)
    url = environ.get(ENV_NOTIFY_URL) or raw.get("url")
    if url is not None and (not isinstance(url, str) or "://" not in url):
        raise ConfigError(f"config {path}: {section}.url must be an http(s) URL")
    return NotificationSettings(
        url=url, format=fmt, days_before_deadline=tuple(sorted(set(days), reverse=True)),
        retries=whole_number(raw, "retries", 3, section, path),
        backoff_seconds=seconds["backoff_seconds"],
        timeout_seconds=seconds["timeout_seconds"],
        dashboard_url=raw.get("dashboard_url"), headers=headers)
