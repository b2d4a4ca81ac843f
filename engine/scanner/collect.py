"""Collecting from every configured source, each failure kept to its own source.

A cluster that is down, a repository that will not clone, a manifests directory with a bad
file: each becomes an error or problem of that source and the others are still collected.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

from ..errors import Problem
from ..settings import ClusterSource, ScanSettings
from ..sources.base import Collected
from ..sources.manifests import read_manifests

log = logging.getLogger("pathwarden.scan")


def collect_all(settings: ScanSettings, extra_repositories: list[str]) -> Iterator[Collected]:
    for cluster in settings.clusters:
        yield from _clusters(cluster)
    for path in settings.manifests:
        yield manifests_source(path)
    yield from _repositories(settings, extra_repositories)


def manifests_source(path: Path) -> Collected:
    """A manifests directory stands in for a cluster: same targets, same inventory."""
    name = f"manifests:{path}"
    if not path.exists():
        return Collected(name, error=f"manifests {path}: no such file or directory")
    found = read_manifests([path])
    return Collected(name, targets=found.targets(),
                     inventory=[obj for obj, _ in found.objects], problems=found.problems)


def _clusters(cluster: ClusterSource) -> Iterator[Collected]:
    from ..sources.cluster import ClusterSpec, collect_cluster, contexts_of

    contexts: list[str | None] = [cluster.context]
    if cluster.context == "*":
        if cluster.kubeconfig is None:
            yield Collected(f"cluster:{cluster.name}",
                            error=f"cluster {cluster.name}: context '*' needs a kubeconfig")
            return
        try:
            contexts = list(contexts_of(cluster.kubeconfig))
        except Exception as exc:  # an unreadable kubeconfig is this source's error
            yield Collected(f"cluster:{cluster.name}",
                            error=f"cluster {cluster.name}: kubeconfig {cluster.kubeconfig}: "
                            f"{exc}")
            return
    for context in contexts:
        name = cluster.name if context in (None, cluster.context) else context
        spec = ClusterSpec(name=name, kubeconfig=cluster.kubeconfig, context=context,
                           in_cluster=cluster.in_cluster,
                           **({"kinds": cluster.kinds} if cluster.kinds else {}),
                           namespaces=cluster.namespaces)
        try:
            yield collect_cluster(spec)
        except Exception as exc:  # a source bug must not end the scan
            log.exception("cluster %s failed", name)
            yield Collected(f"cluster:{name}", error=f"cluster {name}: {exc}")


def _repositories(settings: ScanSettings, extra: list[str]) -> Iterator[Collected]:
    known = {r.url for r in settings.repositories}
    wanted = [(r.url, r.name, r.branch) for r in settings.repositories]
    wanted += [(url, None, None) for url in extra if url not in known]
    if not wanted:
        return
    from ..sources.pipelines import collect_pipelines
    from ..sources.repos import RepoSpec, collect_repos

    specs = [RepoSpec(url, name, branch) for url, name, branch in wanted]
    for collected in collect_repos(specs, settings.cache_dir):
        yield collected
        for target in collected.targets:
            repo = target.document.get("repository") or {}
            path = repo.get("path")
            if not path:
                continue
            try:
                yield collect_pipelines(Path(path), repo.get("slug") or repo.get("url")
                                        or repo.get("name"), repo.get("name") or target.ref.name)
            except Exception as exc:  # pipelines of one repo failing is that repo's problem
                log.exception("pipelines of %s failed", repo.get("name"))
                yield Collected(f"pipelines:{repo.get('name')}",
                                problems=[Problem("pipelines", str(exc))])
