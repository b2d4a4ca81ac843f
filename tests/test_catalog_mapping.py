"""The service catalog's mapping: every target (Kubernetes object, repository, pipeline)
mapped to the service that owns it, or reported as unowned; the example estate."""

from __future__ import annotations

import pytest
from pathwarden.engine.catalog import (
    Catalog,
    RepoKey,
    assign_services,
    parse_repository,
    read_catalog,
)
from pathwarden.engine.model import Target, TargetRef
from pathwarden.engine.sources.manifests import read_manifests

from .catalog_support import (
    GITLAB_PATH,
    ROOT,
    SELECTOR,
    catalog_of,
    component,
    doc_lines,
    k8s,
    pipeline_target,
    repo_target,
)

# --- mapping Kubernetes objects ----------------------------------------------------------------

def test_kubernetes_objects_map_by_id_label_selector_and_namespace(write):
    catalog, _ = catalog_of(
        write,
        component("web", annotations="    backstage.io/kubernetes-id: shop-web\n"),
        component("api", annotations="""\
    backstage.io/kubernetes-label-selector: 'app=api,tier in (prod),!canary'
    backstage.io/kubernetes-namespace: payments
"""),
        component("etl", annotations="""\
    backstage.io/kubernetes-label-selector: 'team notin (shop),job'
"""))
    api_labels = {"app": "api", "tier": "prod"}
    cases = {
        "id on object": (k8s(labels={"backstage.io/kubernetes-id": "shop-web"}), "web"),
        "id on template": (k8s(template_labels={"backstage.io/kubernetes-id": "shop-web"}), "web"),
        "selector": (k8s(namespace="payments", labels=api_labels), "api"),
        "selector on template": (k8s(namespace="payments", template_labels=api_labels), "api"),
        "wrong namespace": (k8s(namespace="shop", labels=api_labels), None),
        "canary": (k8s(namespace="payments", labels={**api_labels, "canary": "y"}), None),
        "notin + exists": (k8s(namespace="data", labels={"job": "", "team": "data"}), "etl"),
        "notin excluded": (k8s(namespace="data", labels={"job": "", "team": "shop"}), None),
        "namespace object": (k8s("Namespace", "payments", None, {"app": "api"}), None),
        "namespace with id": (k8s("Namespace", "shop", None,
                                  {"backstage.io/kubernetes-id": "shop-web"}), "web"),
        "cluster-scoped": (k8s("ClusterRole", "r", None, {"team": "x"}), None),
        "no labels": (k8s(), None),
    }
    got = {case: getattr(catalog.service_for(t), "name", None) for case, (t, _) in cases.items()}
    assert got == {case: want for case, (_, want) in cases.items()}
    assert catalog.problems == []


def test_a_namespace_restriction_applies_to_kubernetes_ids_and_claims_namespace_objects(write):
    catalog, _ = catalog_of(write, component("web", annotations="""\
    backstage.io/kubernetes-id: shop-web
    backstage.io/kubernetes-namespace: shop
"""))
    labels = {"backstage.io/kubernetes-id": "shop-web"}
    assert catalog.service_for(k8s(namespace="shop", labels=labels)).name == "web"
    assert catalog.service_for(k8s(namespace="other", labels=labels)) is None
    assert catalog.service_for(k8s("Namespace", "shop", None, labels)).name == "web"
    assert catalog.service_for(k8s("Namespace", "other", None, labels)) is None


def test_ambiguous_matches_prefer_the_most_specific_and_are_reported_once(write):
    catalog, path = catalog_of(
        write,
        component("by-selector", annotations=f"    {SELECTOR}: app=web\n"),
        component("by-id", annotations="    backstage.io/kubernetes-id: web\n"),
        component("twin", annotations=f"    {SELECTOR}: tier=prod\n"))
    by_id = {"app": "web", "backstage.io/kubernetes-id": "web"}
    owned, unowned = assign_services(catalog, [k8s(name=f"w{i}", labels=by_id) for i in range(3)])
    assert [t.ref.service for t in owned] == ["component:default/by-id"] * 3 and unowned == []
    lines = doc_lines(path)
    assert [str(p) for p in catalog.problems] == [
        f"catalog: {path}:{lines[1]}: k8s:shop/apps/v1/Deployment/w0 matches several services "
        "(component:default/by-id by kubernetes-id web; component:default/by-selector by label "
        "selector app=web): it goes to component:default/by-id (the most specific rule); "
        "reported once for these services"]

    tie = [k8s(name=f"t{i}", labels={"app": "web", "tier": "prod"}) for i in range(2)]
    assert {catalog.service_for(t).name for t in tie} == {"by-selector"}
    assert len(catalog.problems) == 2
    assert str(catalog.problems[1]).startswith(
        f"catalog: {path}:{lines[0]}: k8s:shop/apps/v1/Deployment/t0 matches several services")
    assert catalog.problems[1].message.endswith(
        "it goes to component:default/by-selector (equally specific; the one read first); "
        "reported once for these services")


# --- mapping repositories and pipelines --------------------------------------------------------

@pytest.mark.parametrize(("text", "key"), [
    ("https://github.com/acme/shop-web", RepoKey("github.com", "acme/shop-web")),
    ("https://GitHub.com/Acme/Shop-Web.git/", RepoKey("github.com", "acme/shop-web")),
    ("http://user:token@github.com:443/acme/shop-web.git", RepoKey("github.com", "acme/shop-web")),
    ("git@github.com:acme/shop-web.git", RepoKey("github.com", "acme/shop-web")),
    ("ssh://git@github.com/acme/shop-web", RepoKey("github.com", "acme/shop-web")),
    ("git+ssh://git@github.com:22/acme/shop-web.git", RepoKey("github.com", "acme/shop-web")),
    ("github.com/acme/shop-web", RepoKey("github.com", "acme/shop-web")),
    ("url:https://github.com/acme/shop-web/tree/main/", RepoKey("github.com", "acme/shop-web")),
    ("https://github.com/acme/shop-web/blob/main/catalog-info.yaml",
     RepoKey("github.com", "acme/shop-web")),
    ("https://gitlab.com/acme/platform/shop-web.git", RepoKey("gitlab.com", GITLAB_PATH)),
    ("git@gitlab.com:acme/platform/shop-web.git", RepoKey("gitlab.com", GITLAB_PATH)),
    ("url:https://gitlab.com/acme/platform/shop-web/-/tree/main/",
     RepoKey("gitlab.com", GITLAB_PATH)),
    ("acme/shop-web", RepoKey(None, "acme/shop-web")),
    ("shop-web", None), ("./shop-web", None), ("file:///srv/repos/shop-web", None), ("", None),
])
def test_repository_urls_are_normalised(text, key):
    assert parse_repository(text) == key


def test_repositories_and_pipelines_map_through_links_and_local_paths(write, tmp_path):
    catalog, _ = catalog_of(
        write,
        component("shop-web", annotations="    github.com/project-slug: acme/shop-web\n"),
        component("shop-cart", annotations="""\
    backstage.io/source-location: url:https://gitlab.com/acme/shop/cart/-/tree/main/
"""))
    write("repos/local-svc/catalog-info.yaml", component("local-svc"))
    write("repos/monorepo/catalog-info.yaml",
          component("linked", annotations="    github.com/project-slug: acme/linked\n"))
    catalog2 = read_catalog([tmp_path / "c", tmp_path / "repos"])

    def owner(target: Target, cat: Catalog = catalog) -> str | None:
        return getattr(cat.service_for(target), "name", None)

    for url in ("https://github.com/acme/shop-web.git", "git@github.com:ACME/shop-web.git",
                "ssh://git@github.com/acme/shop-web/"):
        assert owner(repo_target(url)) == "shop-web", url
        assert owner(pipeline_target(url)) == "shop-web", url
    assert owner(repo_target(None, name="acme/shop-web")) == "shop-web"
    slug_only = Target(TargetRef(id="repo:w", kind="repo", name="w"),
                       {"repository": {"name": "w", "url": None, "slug": "acme/shop-web"}})
    assert owner(slug_only) == "shop-web"
    assert owner(repo_target("https://gitlab.com/acme/shop/cart.git")) == "shop-cart"
    assert owner(repo_target("git@gitlab.com:acme/shop/cart.git")) == "shop-cart"
    assert owner(pipeline_target("acme/shop/cart")) == "shop-cart"
    assert owner(repo_target("https://gitlab.com/acme/shop-web")) is None   # other host
    assert owner(repo_target("https://github.com/acme/shop-cart")) is None
    assert owner(pipeline_target("https://github.com/acme/unknown")) is None

    local = str(tmp_path / "repos/local-svc")
    assert owner(repo_target(None, path=local), catalog2) == "local-svc"
    assert owner(repo_target("https://github.com/acme/local-svc", path=local),
                 catalog2) == "local-svc"
    mono = str(tmp_path / "repos/monorepo")
    # A service that names its repository is not claimed by a different URL's checkout...
    assert owner(repo_target("https://github.com/acme/elsewhere", path=mono), catalog2) is None
    # ...but a checkout without a URL is recognised by where the catalog file was read.
    assert owner(repo_target(None, path=mono), catalog2) == "linked"
    assert catalog.problems == [] and catalog2.problems == []


def test_assign_services_sets_the_service_and_returns_the_unowned(write):
    catalog, _ = catalog_of(write, component("web", annotations="""\
    backstage.io/kubernetes-id: shop-web
    github.com/project-slug: acme/shop-web
"""))
    targets = [k8s(labels={"backstage.io/kubernetes-id": "shop-web"}), k8s(name="orphan"),
               repo_target("https://github.com/acme/shop-web"),
               pipeline_target("git@github.com:acme/shop-web.git"),
               pipeline_target("acme/unowned", name="lost")]
    owned, unowned = assign_services(catalog, targets)
    assert [(t.id, t.ref.service) for t in owned] == [
        ("k8s:shop/apps/v1/Deployment/web", "component:default/web"),
        ("repo:x", "component:default/web"),
        ("pipeline:ci", "component:default/web")]
    assert [t.id for t in unowned] == ["k8s:shop/apps/v1/Deployment/orphan", "pipeline:lost"]
    assert targets[0].ref.service is None   # the inputs are not modified
    assert owned[0].document is targets[0].document


# --- the example estate --------------------------------------------------------------------

def test_the_example_estate_catalog_owns_its_workloads():
    estate = ROOT / "examples/estate"
    catalog = read_catalog([estate / "catalog/all.yaml"])
    assert catalog.problems == []
    assert read_catalog([estate / "catalog"]).services == catalog.services
    found = {s.name: (s.owner_name, s.lifecycle, s.tier, s.links.repository.slug,
                      s.domain) for s in catalog.services.values()}
    assert len(found) == 12 and {s.owner_name for s in catalog.services.values()} == {
        "team-shop", "team-payments", "team-data", "team-platform"}
    assert {k: v for k, v in found.items() if k in (
        "shop-web", "shop-cart", "payments-api", "data-etl")} == {
        "shop-web": ("team-shop", "production", "1", "acme/shop-web", "domain:default/commerce"),
        "shop-cart": ("team-shop", "production", "2", "acme/shop-cart",
                      "domain:default/commerce"),
        "payments-api": ("team-payments", "production", "1", "acme/payments-api",
                         "domain:default/finance"),
        "data-etl": ("team-data", "experimental", "3", "acme/data-etl",
                     "domain:default/analytics"),
    }
    targets = read_manifests([estate / "manifests"]).targets()
    owned, unowned = assign_services(catalog, targets)
    owned_ids = {t.id: t.ref.service for t in owned}
    assert len(owned_ids) > 20
    assert owned_ids.items() >= {
        "k8s:shop-prod/apps/v1/Deployment/web": "component:default/shop-web",
        "k8s:shop-prod/v1/Service/web": "component:default/shop-web",
        "k8s:shop-prod/apps/v1/Deployment/cart": "component:default/shop-cart",
        "k8s:payments/apps/v1/StatefulSet/ledger": "component:default/payments-api",
        "k8s:data/batch/v1/CronJob/nightly-etl": "component:default/data-etl",
    }.items()
    assert sorted(t.id for t in unowned) == [
        "k8s:_cluster/v1/Namespace/data", "k8s:_cluster/v1/Namespace/legacy",
        "k8s:_cluster/v1/Namespace/payments", "k8s:_cluster/v1/Namespace/platform",
        "k8s:_cluster/v1/Namespace/shop-prod",
        "k8s:legacy/batch/v1/CronJob/nightly-export",
        "k8s:shop-prod/policy/v1/PodDisruptionBudget/web"]
    assert catalog.problems == []
