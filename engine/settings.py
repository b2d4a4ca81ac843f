"""Typed settings, one dataclass per concern, read from one YAML file.

Only entry points (the CLI) read the file and the environment; everything below them
receives these objects explicitly.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .api_settings import ApiSettings, parse_api
from .config_values import expect_keys as _expect_keys
from .config_values import strings as _strings
from .errors import ConfigError
from .governance.config import GovernanceSettings, parse_governance
from .inventory_config import InventorySettings, parse_inventory

ENV_PREFIX = "PATHWARDEN_"


@dataclass(frozen=True, slots=True)
class RegoSettings:
    backend: str = "embedded"
    """`embedded` (rego-cpp in process, the default) or `opa` (a remote OPA server)."""
    opa_url: str | None = None
    """Base URL of the OPA server, e.g. http://opa.policy.svc:8181 (backend `opa`)."""
    opa_token: str | None = None
    """Bearer token for the OPA server; prefer the PATHWARDEN_OPA_TOKEN variable."""


@dataclass(frozen=True, slots=True)
class PolicySettings:
    dirs: tuple[Path, ...] = ()
    """The organisation's policy directories, loaded after the built-in library."""
    builtin: bool = True
    """Load the built-in library (policies/)."""
    select: tuple[str, ...] = ()
    """Only these policy ids or tags (globs allowed); empty means all."""
    parameters: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """Per policy id, parameters that override the policy's defaults."""


@dataclass(frozen=True, slots=True)
class StoreSettings:
    url: str = "sqlite:///pathwarden.db"
    """SQLAlchemy URL: sqlite:///file.db (default) or postgresql+psycopg://user@host/db.
    Environment: PATHWARDEN_DATABASE_URL."""


@dataclass(frozen=True, slots=True)
class PolicyMatch:
    """Narrows where a policy applies at admission, like a Gatekeeper constraint's match."""

    kinds: tuple[str, ...] = ()
    namespaces: tuple[str, ...] = ()
    """Namespace globs the policy applies in; empty means all."""
    exclude_namespaces: tuple[str, ...] = ()
    labels: Mapping[str, str] = field(default_factory=dict)
    """Labels the object must carry (equality, like matchLabels)."""


@dataclass(frozen=True, slots=True)
class WebhookSettings:
    host: str = "0.0.0.0"
    port: int = 8443
    cert_file: Path = Path("/etc/pathwarden/tls/tls.crt")
    key_file: Path = Path("/etc/pathwarden/tls/tls.key")
    service: str = "pathwarden-webhook"
    """Kubernetes Service name of the webhook (certificates, webhook configuration)."""
    namespace: str = "pathwarden"
    """The webhook's own namespace; always exempt. Environment: POD_NAMESPACE."""
    failure_mode: str = "closed"
    """`closed`: deny when no decision can be made; `open`: allow with a warning."""
    deadline_seconds: float = 2.5
    """Evaluation deadline inside the webhook; keep it below timeout_seconds."""
    timeout_seconds: int = 5
    """The API server's timeout for the call (ValidatingWebhookConfiguration)."""
    exempt_namespaces: tuple[str, ...] = ("kube-system",)
    exempt_users: tuple[str, ...] = ()
    exempt_groups: tuple[str, ...] = ()
    exempt_service_accounts: tuple[str, ...] = ()
    """`namespace/name` (globs allowed), e.g. `argocd/argocd-application-controller`."""
    enforcement: Mapping[str, str] = field(default_factory=dict)
    """Policy id or tag (globs allowed) -> deny | warn | audit; ids win over tags."""
    match: Mapping[str, PolicyMatch] = field(default_factory=dict)
    """Policy id or tag (globs allowed) -> where it applies."""
    reload_interval_seconds: float = 2.0
    """How often policy directories and certificate files are checked for changes."""
    decision_log: bool = True
    decision_queue_size: int = 10000
    inventory: InventorySettings | None = None
    """The cluster whose objects referential policies read at admission (see
    inventory_config); None: no sync, and referential policies are held back."""


@dataclass(frozen=True, slots=True)
class ClusterSource:
    name: str
    kubeconfig: Path | None = None
    context: str | None = None
    """A kubeconfig context; `*` expands to every context of the kubeconfig."""
    in_cluster: bool = False
    kinds: tuple[str, ...] = ()
    """Empty: the default kinds of the cluster source."""
    namespaces: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RepositorySource:
    url: str
    """A git URL (cloned into the cache) or a local path (read in place)."""
    name: str | None = None
    branch: str | None = None


@dataclass(frozen=True, slots=True)
class ScanSettings:
    catalog: tuple[Path, ...] = ()
    """catalog-info.yaml files or directories (Locations are followed)."""
    clusters: tuple[ClusterSource, ...] = ()
    manifests: tuple[Path, ...] = ()
    """Directories of manifests that stand in for a cluster (offline audit)."""
    repositories: tuple[RepositorySource, ...] = ()
    repositories_from_catalog: bool = False
    """Also scan every repository a catalog Component links to."""
    cache_dir: Path = Path(".pathwarden/repos")
    scope: str = "all"
    schedule: str = "0 2 * * *"
    """Cron expression (minute hour day month weekday) for `pathwarden serve`."""
    timezone: str = "UTC"
    retention_days: int = 30
    """Scans older than this are pruned (the newest one always stays); daily history stays."""


@dataclass(frozen=True, slots=True)
class ScorecardSettings:
    dirs: tuple[Path, ...] = ()
    """The organisation's scorecard definitions (YAML), loaded after the built-in ones."""
    builtin: bool = True
    report_dir: Path | None = None
    """Where `pathwarden serve` writes the report after each scan (from a configuration
    file: `.pathwarden/reports` next to it unless set)."""


@dataclass(frozen=True, slots=True)
class Settings:
    policies: PolicySettings = field(default_factory=PolicySettings)
    rego: RegoSettings = field(default_factory=RegoSettings)
    store: StoreSettings = field(default_factory=StoreSettings)
    webhook: WebhookSettings = field(default_factory=WebhookSettings)
    scan: ScanSettings = field(default_factory=ScanSettings)
    api: ApiSettings = field(default_factory=ApiSettings)
    scorecards: ScorecardSettings = field(default_factory=ScorecardSettings)
    governance: GovernanceSettings = field(default_factory=GovernanceSettings)


def load_settings(path: Path | None, environ: Mapping[str, str]) -> Settings:
    raw: dict[str, Any] = {}
    if path is not None:
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"config {path}: {exc}") from exc
        if not isinstance(raw, dict):
            raise ConfigError(f"config {path}: expected a mapping at the top level")
    base = path.parent if path else Path.cwd()
    return Settings(
        policies=_policies(raw.get("policies") or {}, base, path),
        rego=_rego(raw.get("rego") or {}, environ, path),
        store=_store(raw.get("store") or {}, environ, path),
        webhook=_webhook(raw.get("webhook") or {}, base, environ, path),
        scan=_scan(raw.get("scan") or {}, base, path),
        api=parse_api(raw.get("api") or {}, environ, path),
        scorecards=_scorecards(raw.get("scorecards") or {}, base, path),
        governance=parse_governance(raw.get("governance") or {}, base, environ, path),
    )


def _policies(raw: Any, base: Path, path: Path | None) -> PolicySettings:
    _expect_keys(raw, "policies", {"dirs", "builtin", "select", "parameters"}, path)
    params = raw.get("parameters") or {}
    if not isinstance(params, dict) or not all(isinstance(v, dict) for v in params.values()):
        raise ConfigError(f"config {path}: policies.parameters maps policy id to a mapping")
    return PolicySettings(
        dirs=tuple(base / d for d in _strings(raw, "dirs", path)),
        builtin=bool(raw.get("builtin", True)),
        select=tuple(_strings(raw, "select", path)),
        parameters=params,
    )


def _rego(raw: Any, environ: Mapping[str, str], path: Path | None) -> RegoSettings:
    _expect_keys(raw, "rego", {"backend", "opa_url", "opa_token"}, path)
    backend = environ.get(ENV_PREFIX + "REGO_BACKEND", raw.get("backend", "embedded"))
    if backend not in ("embedded", "opa"):
        raise ConfigError(f"config {path}: rego.backend is {backend!r}; use embedded or opa")
    url = environ.get(ENV_PREFIX + "OPA_URL", raw.get("opa_url"))
    if backend == "opa" and not url:
        raise ConfigError("rego.backend is opa but no rego.opa_url / PATHWARDEN_OPA_URL is set")
    return RegoSettings(backend, url, environ.get(ENV_PREFIX + "OPA_TOKEN", raw.get("opa_token")))


def _store(raw: Any, environ: Mapping[str, str], path: Path | None) -> StoreSettings:
    _expect_keys(raw, "store", {"url"}, path)
    url = environ.get(ENV_PREFIX + "DATABASE_URL", raw.get("url", StoreSettings().url))
    if not isinstance(url, str) or "://" not in url:
        raise ConfigError(f"config {path}: store.url {url!r} is not a database URL")
    return StoreSettings(url)


def _scan(raw: Any, base: Path, path: Path | None) -> ScanSettings:
    known = {"catalog", "clusters", "manifests", "repositories", "repositories_from_catalog",
             "cache_dir", "scope", "schedule", "timezone", "retention_days"}
    _expect_keys(raw, "scan", known, path)
    clusters = []
    for i, item in enumerate(raw.get("clusters") or []):
        where = f"scan.clusters[{i}]"
        _expect_keys(item, where, {"name", "kubeconfig", "context", "in_cluster", "kinds",
                                   "namespaces"}, path)
        name = item.get("name") or item.get("context") or ("in-cluster" if item.get(
            "in_cluster") else None)
        if not isinstance(name, str):
            raise ConfigError(f"config {path}: {where} needs a name or a context")
        kubeconfig = item.get("kubeconfig")
        clusters.append(ClusterSource(
            name=name,
            kubeconfig=(base / Path(kubeconfig).expanduser()) if kubeconfig else None,
            context=item.get("context"), in_cluster=bool(item.get("in_cluster", False)),
            kinds=tuple(_strings(item, "kinds", path)),
            namespaces=tuple(_strings(item, "namespaces", path))))
    repositories = []
    for i, item in enumerate(raw.get("repositories") or []):
        if isinstance(item, str):
            item = {"url": item}
        _expect_keys(item, f"scan.repositories[{i}]", {"url", "path", "name", "branch"}, path)
        url = item.get("url") or item.get("path")
        if not isinstance(url, str):
            raise ConfigError(f"config {path}: scan.repositories[{i}] needs a url or a path")
        if "path" in item or not ("://" in url or url.startswith("git@")):
            url = str(base / Path(url).expanduser())
        repositories.append(RepositorySource(url, item.get("name"), item.get("branch")))
    schedule = raw.get("schedule", ScanSettings().schedule)
    if not isinstance(schedule, str) or len(schedule.split()) != 5:
        raise ConfigError(f"config {path}: scan.schedule {schedule!r} is not a cron "
                          "expression (five fields: minute hour day month weekday)")
    retention = raw.get("retention_days", 30)
    if not isinstance(retention, int) or isinstance(retention, bool) or retention < 1:
        raise ConfigError(f"config {path}: scan.retention_days must be a whole number >= 1")
    return ScanSettings(
        catalog=tuple(base / p for p in _strings(raw, "catalog", path)),
        clusters=tuple(clusters),
        manifests=tuple(base / p for p in _strings(raw, "manifests", path)),
        repositories=tuple(repositories),
        repositories_from_catalog=bool(raw.get("repositories_from_catalog", False)),
        cache_dir=base / raw.get("cache_dir", ".pathwarden/repos"),
        scope=str(raw.get("scope", "all")),
        schedule=schedule,
        timezone=str(raw.get("timezone", "UTC")),
        retention_days=retention,
    )


def _scorecards(raw: Any, base: Path, path: Path | None) -> ScorecardSettings:
    _expect_keys(raw, "scorecards", {"dirs", "builtin", "report_dir"}, path)
    report_dir = raw.get("report_dir")
    return ScorecardSettings(
        dirs=tuple(base / d for d in _strings(raw, "dirs", path)),
        builtin=bool(raw.get("builtin", True)),
        report_dir=base / (report_dir or ".pathwarden/reports"))


_ENFORCEMENTS = ("deny", "warn", "audit")


def _webhook(
    raw: Any, base: Path, environ: Mapping[str, str], path: Path | None
) -> WebhookSettings:
    fields = {f for f in WebhookSettings.__dataclass_fields__}
    _expect_keys(raw, "webhook", fields, path)
    defaults = WebhookSettings()
    values: dict[str, Any] = {}
    for key in ("host", "service", "namespace", "failure_mode"):
        if key in raw:
            values[key] = _scalar(raw, key, str, path)
    if "POD_NAMESPACE" in environ:
        values["namespace"] = environ["POD_NAMESPACE"]
    for key in ("port", "timeout_seconds", "decision_queue_size"):
        if key in raw:
            values[key] = _scalar(raw, key, int, path)
    for key in ("deadline_seconds", "reload_interval_seconds"):
        if key in raw:
            values[key] = float(_scalar(raw, key, (int, float), path))
    if "decision_log" in raw:
        values["decision_log"] = _scalar(raw, "decision_log", bool, path)
    for key in ("cert_file", "key_file"):
        if key in raw:
            values[key] = base / _scalar(raw, key, str, path)
    for key in ("exempt_namespaces", "exempt_users", "exempt_groups",
                "exempt_service_accounts"):
        if key in raw:
            values[key] = tuple(_strings(raw, key, path))
    enforcement = raw.get("enforcement") or {}
    if not isinstance(enforcement, dict) or any(
            v not in _ENFORCEMENTS for v in enforcement.values()):
        raise ConfigError(f"config {path}: webhook.enforcement maps a policy id or tag to "
                          f"one of {list(_ENFORCEMENTS)}")
    values["enforcement"] = enforcement
    values["match"] = {k: _match(k, v, path) for k, v in (raw.get("match") or {}).items()}
    values["inventory"] = parse_inventory(raw.get("inventory"), base, path)
    settings = WebhookSettings(**{**_asdict(defaults), **values})
    if settings.failure_mode not in ("open", "closed"):
        raise ConfigError(f"config {path}: webhook.failure_mode is {settings.failure_mode!r}; "
                          "use open or closed")
    if settings.deadline_seconds <= 0:
        raise ConfigError(f"config {path}: webhook.deadline_seconds must be positive")
    if not 1 <= settings.timeout_seconds <= 30:
        raise ConfigError(f"config {path}: webhook.timeout_seconds must be 1-30 "
                          "(the API server's limit)")
    return settings


def _match(name: str, raw: Any, path: Path | None) -> PolicyMatch:
    _expect_keys(raw, f"webhook.match.{name}",
                 {"kinds", "namespaces", "exclude_namespaces", "labels"}, path)
    labels = raw.get("labels") or {}
    if not isinstance(labels, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in labels.items()):
        raise ConfigError(f"config {path}: webhook.match.{name}.labels maps label to value")
    return PolicyMatch(
        kinds=tuple(_strings(raw, "kinds", path)),
        namespaces=tuple(_strings(raw, "namespaces", path)),
        exclude_namespaces=tuple(_strings(raw, "exclude_namespaces", path)),
        labels=labels,
    )


def _asdict(settings: WebhookSettings) -> dict[str, Any]:
    return {name: getattr(settings, name) for name in WebhookSettings.__dataclass_fields__}


def _scalar(raw: dict[str, Any], key: str, kind: Any, path: Path | None) -> Any:
    value = raw[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ConfigError(f"config {path}: webhook.{key} has the wrong type ({value!r})")
    return value
