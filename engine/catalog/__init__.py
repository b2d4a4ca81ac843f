"""The service catalog: Backstage `catalog-info.yaml` files -> services, owners, systems,
and the mapping of every target to the service that owns it.

    catalog = read_catalog([Path("catalog/")])
    owned, unowned = assign_services(catalog, targets)
"""

from __future__ import annotations

from .mapping import assign_services, service_for
from .model import (
    Catalog,
    CiLink,
    Domain,
    Entity,
    Group,
    RepositoryLink,
    Service,
    ServiceLinks,
    System,
)
from .reading import catalog_files, catalog_from_documents, read_catalog
from .repos import RepoKey, parse_repository
from .selectors import Selector, SelectorError, parse_selector

__all__ = [
    "Catalog", "CiLink", "Domain", "Entity", "Group", "RepoKey", "RepositoryLink", "Selector",
    "SelectorError", "Service", "ServiceLinks", "System", "assign_services", "catalog_files",
    "catalog_from_documents", "parse_repository", "parse_selector", "read_catalog",
    "service_for",
]
