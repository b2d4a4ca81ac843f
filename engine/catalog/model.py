"""The service catalog as pathwarden uses it: who owns what, and how to recognise it.

Only what scanning, mapping and scorecards need is lifted out of Backstage's entities into
typed fields; the entities themselves stay available in `Catalog.entities` for anything
else. A Catalog is built once by `read_catalog` / `catalog_from_documents` and then only
read (the mapping index is built on first use and assumes that).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import Problem
from ..model import Location, Target
from .refs import DEFAULT_NAMESPACE, parse_ref
from .repos import RepoKey
from .selectors import Selector

if TYPE_CHECKING:
    from .mapping import ServiceIndex

TIER_ANNOTATION = "pathwarden.dev/tier"
REPOSITORY_ANNOTATION = "pathwarden.dev/repository"


@dataclass(frozen=True, slots=True)
class RepositoryLink:
    key: RepoKey
    annotation: str
    """Which annotation said so; it decides precedence when several services claim a repo."""

    @property
    def url(self) -> str | None:
        return self.key.url

    @property
    def slug(self) -> str:
        return self.key.path


@dataclass(frozen=True, slots=True)
class CiLink:
    provider: str
    """`github-actions` or `gitlab-ci`: what a project-slug annotation implies."""
    repository: RepositoryLink


@dataclass(frozen=True, slots=True)
class ServiceLinks:
    kubernetes_id: str | None = None
    kubernetes_label_selector: Selector | None = None
    kubernetes_namespace: str | None = None
    repositories: tuple[RepositoryLink, ...] = ()
    """Strongest first; with `pathwarden.dev/repository` set, only that one."""
    ci: tuple[CiLink, ...] = ()
    source_location: str | None = None
    managed_by_location: str | None = None

    @property
    def repository(self) -> RepositoryLink | None:
        return self.repositories[0] if self.repositories else None


@dataclass(frozen=True, slots=True)
class Service:
    """A Backstage Component: the unit that owns targets and gets a scorecard."""

    name: str
    namespace: str
    ref: str
    title: str | None
    owner: str
    """Normalised ref, `group:default/team-shop` (or `user:default/jdoe`)."""
    owner_name: str
    type: str
    lifecycle: str
    system: str | None
    domain: str | None
    """From the Component's System; None when the System is absent from the catalog."""
    tier: str | None
    tags: tuple[str, ...]
    links: ServiceLinks
    location: Location
    description: str | None = None


@dataclass(frozen=True, slots=True)
class Group:
    name: str
    namespace: str
    ref: str
    title: str | None
    display_name: str | None
    type: str
    parent: str | None
    children: tuple[str, ...]
    members: tuple[str, ...]
    """User refs: the Group's own `spec.members` plus Users naming it in `spec.memberOf`."""
    email: str | None
    location: Location


@dataclass(frozen=True, slots=True)
class System:
    name: str
    namespace: str
    ref: str
    title: str | None
    owner: str
    domain: str | None
    location: Location


@dataclass(frozen=True, slots=True)
class Domain:
    name: str
    namespace: str
    ref: str
    title: str | None
    owner: str | None
    location: Location


@dataclass(frozen=True, slots=True)
class Entity:
    """Any valid catalog entity as read (Components and Groups included)."""

    kind: str
    name: str
    namespace: str
    ref: str
    location: Location
    document: dict[str, Any] = field(hash=False, compare=False)


@dataclass(slots=True)
class Catalog:
    services: dict[str, Service] = field(default_factory=dict)
    groups: dict[str, Group] = field(default_factory=dict)
    systems: dict[str, System] = field(default_factory=dict)
    domains: dict[str, Domain] = field(default_factory=dict)
    entities: dict[str, Entity] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    _index: ServiceIndex | None = field(default=None, repr=False, compare=False)
    _reported: set[frozenset[str]] = field(default_factory=set, repr=False, compare=False)

    def service(self, ref_or_name: str) -> Service | None:
        """By ref (`component:default/shop-web`) or by name in the default namespace."""
        return self.services.get(_ref(ref_or_name, "component"))

    def group(self, ref_or_name: str) -> Group | None:
        return self.groups.get(_ref(ref_or_name, "group"))

    def system(self, ref_or_name: str) -> System | None:
        return self.systems.get(_ref(ref_or_name, "system"))

    def owned_by(self, owner: str, *, subgroups: bool = False) -> list[Service]:
        """Services owned by a group (or user); with `subgroups`, by its descendants too."""
        owners = {_ref(owner, "group")}
        if subgroups:
            pending = list(owners)
            while pending:
                group = self.groups.get(pending.pop())
                for child in group.children if group else ():
                    if child not in owners:
                        owners.add(child)
                        pending.append(child)
        return [s for s in self.services.values() if s.owner in owners]

    def mapping_index(self) -> ServiceIndex:
        """Lookup tables for mapping targets, built on first use."""
        if self._index is None:
            from .mapping import ServiceIndex

            self._index = ServiceIndex(self)
        return self._index

    def report_once(self, key: frozenset[str], problem: Problem) -> None:
        """Mapping runs per target; one overlap in the catalog is still one problem."""
        if key not in self._reported:
            self._reported.add(key)
            self.problems.append(problem)

    def service_for(self, target: Target) -> Service | None:
        """The service a target belongs to (see `mapping`); ambiguities land in `problems`."""
        from .mapping import service_for

        return service_for(self, target)


def _ref(text: str, kind: str) -> str:
    try:
        return parse_ref(text, kind, DEFAULT_NAMESPACE)
    except ValueError:
        return text.lower()
