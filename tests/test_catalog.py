"""The service catalog: Backstage catalog-info.yaml files in, services and owners out, and
every target mapped to the service that owns it (or reported as unowned)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pathwarden.engine.catalog import (
    Catalog,
    RepoKey,
    SelectorError,
    assign_services,
    catalog_from_documents,
    parse_repository,
    parse_selector,
    read_catalog,
)
from pathwarden.engine.catalog.refs import name_error
from pathwarden.engine.k8s import make_target
from pathwarden.engine.model import Location, Target, TargetRef
from pathwarden.engine.sources.manifests import read_manifests

ROOT = Path(__file__).resolve().parents[1]
SELECTOR = "backstage.io/kubernetes-label-selector"
GITLAB_PATH = "acme/platform/shop-web"


def component(name: str, *, owner: str | None = "team-shop", annotations: str = "",
              extra_meta: str = "", spec: str = "") -> str:
    owner_line = f"\n  owner: {owner}" if owner else ""
    return (
        "apiVersion: backstage.io/v1alpha1\nkind: Component\n"
        f"metadata:\n  name: {name}\n{extra_meta}"
        f"  annotations:\n    x/none: ''\n{annotations}"
        f"spec:\n  type: service\n  lifecycle: production{owner_line}\n{spec}"
    )


def catalog_of(write, *docs: str, name: str = "c/catalog-info.yaml") -> tuple[Catalog, Path]:
    path = write(name, "---\n".join(docs))
    return read_catalog([path]), path


def doc_lines(path: Path) -> list[int]:
    """The line each YAML document of a file starts on (the line after its `---`)."""
    lines = path.read_text().splitlines()
    return [1] + [i + 2 for i, line in enumerate(lines) if line == "---"]


def k8s(kind: str = "Deployment", name: str = "web", namespace: str | None = "shop",
        labels: dict | None = None, template_labels: dict | None = None) -> Target:
    meta: dict = {"name": name, "labels": labels or {}}
    if namespace:
        meta["namespace"] = namespace
    obj: dict = {"apiVersion": "apps/v1" if kind == "Deployment" else "v1", "kind": kind,
                 "metadata": meta}
    if template_labels is not None:
        obj["spec"] = {"template": {"metadata": {"labels": template_labels}, "spec": {}}}
    return make_target(obj)


def repo_target(url: str | None = None, name: str = "x", path: str | None = None) -> Target:
    return Target(TargetRef(id=f"repo:{name}", kind="repo", name=name),
                  {"repository": {"name": name, "url": url, "path": path}})


def pipeline_target(repository: str, name: str = "ci") -> Target:
    return Target(TargetRef(id=f"pipeline:{name}", kind="pipeline", name=name),
                  {"pipeline": {"repository": repository, "name": name}})


# --- reading ---------------------------------------------------------------------------------

def test_locations_follow_relative_targets_and_globs_without_loops(write, tmp_path):
    write("cat/all.yaml", """
        apiVersion: backstage.io/v1alpha1
        kind: Location
        metadata: {name: all}
        spec:
          targets:
            - ./org.yaml
            - ./services/*/catalog-info.yaml
            - https://github.com/acme/other/blob/main/catalog-info.yaml
            - ./missing.yaml
            - ./all.yaml
        """)
    write("cat/org.yaml", """
        apiVersion: backstage.io/v1alpha1
        kind: Group
        metadata: {name: team-shop}
        spec: {type: team, profile: {displayName: Shop}}
        ---
        apiVersion: backstage.io/v1alpha1
        kind: Domain
        metadata: {name: commerce}
        spec: {owner: team-shop}
        """)
    write("cat/services/web/catalog-info.yaml", """
        apiVersion: backstage.io/v1alpha1
        kind: System
        metadata: {name: shop}
        spec: {owner: team-shop, domain: commerce}
        ---
        apiVersion: backstage.io/v1alpha1
        kind: Component
        metadata: {name: shop-web, title: Storefront, tags: [web]}
        spec: {type: service, lifecycle: production, owner: group:team-shop, system: shop}
        """)
    write("cat/services/cart/catalog-info.yaml", """
        apiVersion: backstage.io/v1beta1
        kind: Component
        metadata: {name: shop-cart, namespace: shop}
        spec: {type: service, lifecycle: experimental, owner: default/team-shop}
        ---
        apiVersion: backstage.io/v1alpha1
        kind: Location
        metadata: {name: back, namespace: shop}
        spec: {target: ../../all.yaml}
        """)
    catalog = read_catalog([tmp_path / "cat/all.yaml"])

    assert sorted(catalog.services) == ["component:default/shop-web", "component:shop/shop-cart"]
    web = catalog.service("shop-web")
    assert web is not None
    assert (web.title, web.owner, web.owner_name, web.system, web.domain, web.tags) == (
        "Storefront", "group:default/team-shop", "team-shop", "system:default/shop",
        "domain:default/commerce", ("web",))
    assert web.location == Location(str(tmp_path / "cat/services/web/catalog-info.yaml"), 6)
    cart = catalog.service("component:shop/shop-cart")
    assert cart is not None and cart.owner == "group:default/team-shop"
    assert cart.lifecycle == "experimental" and cart.domain is None
    assert catalog.group("team-shop").display_name == "Shop"
    assert [str(p) for p in catalog.problems] == [
        f"catalog: {tmp_path}/cat/all.yaml:1: location target https://github.com/acme/other/"
        "blob/main/catalog-info.yaml is not a local file; not followed (pathwarden reads "
        "local catalog files only)",
        f"catalog: {tmp_path}/cat/all.yaml:1: location target {tmp_path}/cat/missing.yaml "
        "does not exist",
    ]


def test_a_directory_reads_every_catalog_file_and_skips_hidden_folders(write, tmp_path):
    write("d/a/catalog-info.yaml", component("a"))
    write("d/b/catalog-info.yml", component("b"))
    write("d/c.catalog.yaml", component("c"))
    write("d/other.yaml", component("not-read"))
    write("d/.git/catalog-info.yaml", component("hidden"))
    catalog = read_catalog([tmp_path / "d", tmp_path / "nope"])
    assert sorted(s.name for s in catalog.services.values()) == ["a", "b", "c"]
    assert [str(p) for p in catalog.problems] == [
        f"catalog: {tmp_path}/nope: no such file or directory"]


def test_invalid_entities_and_malformed_files_are_reported_and_the_rest_loads(write, tmp_path):
    main = write("d/catalog-info.yaml", "---\n".join([
        component("good"),
        component("no-owner", owner=None),
        component("-bad-name"),
        "apiVersion: backstage.io/v2\nkind: Component\nmetadata: {name: x}\n",
        "apiVersion: backstage.io/v1alpha1\nkind: Componnet\nmetadata: {name: y}\n",
        "apiVersion: backstage.io/v1alpha1\nkind: System\nmetadata: {name: s}\nspec: {}\n",
        "- just\n- a list\n",
        "apiVersion: scaffolder.backstage.io/v1beta3\nkind: Template\nmetadata: {name: t}\n",
    ]))
    write("d/sub/catalog-info.yaml", component("first-doc-still-read") +
          "---\napiVersion: backstage.io/v1alpha1\nkind: Component\nspec: type: x\nmetadata: {}\n")
    catalog = read_catalog([tmp_path / "d"])

    assert sorted(s.name for s in catalog.services.values()) == ["first-doc-still-read", "good"]
    sub = tmp_path / "d/sub/catalog-info.yaml"
    line = doc_lines(main)
    assert line[1:7] == [12, 22, 33, 37, 41, 46]
    assert [str(p) for p in catalog.problems] == [
        f"catalog: {main}:{line[1]}: Component no-owner: spec.owner is required",
        f"catalog: {main}:{line[2]}: Component: metadata.name '-bad-name' must be letters, "
        "digits and single '-', '_' or '.' between them",
        f"catalog: {main}:{line[3]}: apiVersion 'backstage.io/v2' is not one of "
        "backstage.io/v1alpha1, backstage.io/v1beta1",
        f"catalog: {main}:{line[4]}: kind 'Componnet' is not one pathwarden reads (Component, "
        "System, Group, Domain, Resource, API, User, Location); skipped",
        f"catalog: {main}:{line[5]}: System s: spec.owner is required",
        f"catalog: {main}:{line[6]}: expected a catalog entity, got a list",
        str(catalog.problems[-1]),
    ]
    # The malformed document's `spec` line.
    assert str(catalog.problems[-1]).startswith(
        f"catalog: {sub}:{doc_lines(sub)[1] + 2}: invalid YAML: mapping values are not allowed")
    assert len(catalog.problems) == 7


@pytest.mark.parametrize(("spec", "reason"), [
    ("{type: service, owner: t}", "spec.lifecycle is required"),
    ("{lifecycle: production, owner: t}", "spec.type is required"),
    ("{type: service, lifecycle: production, owner: 'group:'}", "spec.owner: entity reference"),
    ("{type: service, lifecycle: production, owner: t, system: 'a b'}", "spec.system: entity"),
])
def test_component_spec_rules(write, spec, reason):
    catalog, _ = catalog_of(write, "apiVersion: backstage.io/v1alpha1\nkind: Component\n"
                                   f"metadata: {{name: c}}\nspec: {spec}\n")
    assert catalog.services == {}
    assert len(catalog.problems) == 1 and reason in catalog.problems[0].message


@pytest.mark.parametrize(("name", "valid"), [
    ("a", True), ("shop-web", True), ("A.b_c-1", True), ("x" * 63, True),
    ("x" * 64, False), ("-a", False), ("a-", False), ("a--b", False), ("a b", False),
    ("", False), ("ü", False),
])
def test_backstage_name_rules(name, valid):
    assert (name_error(name) is None) is valid


def test_duplicate_entities_are_reported_and_the_first_wins(write, tmp_path):
    first = write("d/a/catalog-info.yaml", component("shop-web", owner="team-a"))
    second = write("d/b/catalog-info.yaml", component("shop-web", owner="team-b") + "---\n" +
                   component("Shop-Web", owner="team-c"))
    catalog = read_catalog([tmp_path / "d"])
    assert catalog.service("shop-web").owner == "group:default/team-a"
    assert [str(p) for p in catalog.problems] == [
        f"catalog: {second}:1: duplicate entity component:default/shop-web; the one at "
        f"{first}:1 is used",
        f"catalog: {second}:{doc_lines(second)[1]}: duplicate entity "
        f"component:default/shop-web; the one at {first}:1 is used",
    ]


def test_catalog_from_documents_takes_documents_found_elsewhere(write, tmp_path):
    write("repo/more/catalog-info.yaml", component("more"))
    location = Location(str(tmp_path / "repo/catalog-info.yaml"), 1)
    docs = [
        ({"apiVersion": "backstage.io/v1alpha1", "kind": "Component",
          "metadata": {"name": "from-repo"},
          "spec": {"type": "service", "lifecycle": "production", "owner": "team-x"}}, location),
        ({"apiVersion": "backstage.io/v1alpha1", "kind": "Location", "metadata": {"name": "l"},
          "spec": {"targets": ["./more/catalog-info.yaml", "./catalog-info.yaml"]}},
         Location(location.file, 9)),
        ({"apiVersion": "backstage.io/v1alpha1", "kind": "Component", "metadata": {"name": "x"},
          "spec": {"type": "service", "lifecycle": "production"}}, Location(location.file, 20)),
    ]
    catalog = catalog_from_documents(docs)
    assert sorted(s.name for s in catalog.services.values()) == ["from-repo", "more"]
    assert [str(p) for p in catalog.problems] == [
        f"catalog: {location.file}:20: Component x: spec.owner is required"]


def test_groups_merge_parent_children_and_members_from_both_sides(write):
    catalog, _ = catalog_of(write, """\
apiVersion: backstage.io/v1alpha1
kind: Group
metadata: {name: eng}
spec: {type: department, children: [team-a]}
---
apiVersion: backstage.io/v1alpha1
kind: Group
metadata: {name: team-a}
spec: {type: team, profile: {displayName: Team A, email: a@x.example}, members: [ann]}
---
apiVersion: backstage.io/v1alpha1
kind: Group
metadata: {name: team-b}
spec: {type: team, parent: eng}
---
apiVersion: backstage.io/v1alpha1
kind: User
metadata: {name: bob}
spec: {memberOf: [team-a]}
""", component("svc-a", owner="team-a"), component("svc-b", owner="group:default/team-b"),
        component("svc-u", owner="user:bob"))
    eng, team_a = catalog.group("eng"), catalog.group("team-a")
    assert eng.children == ("group:default/team-a", "group:default/team-b")
    assert team_a.parent == "group:default/eng" and catalog.group("team-b").parent == eng.ref
    assert team_a.members == ("user:default/ann", "user:default/bob")
    assert (team_a.display_name, team_a.email, team_a.type) == ("Team A", "a@x.example", "team")
    assert [s.name for s in catalog.owned_by("eng")] == []
    assert [s.name for s in catalog.owned_by("eng", subgroups=True)] == ["svc-a", "svc-b"]
    assert catalog.service("svc-u").owner_name == "bob"
    assert "user:default/bob" in catalog.entities


# --- links and tier ------------------------------------------------------------------------

def test_every_link_kind_is_read_from_annotations(write):
    catalog, path = catalog_of(
        write,
        component("all-links", annotations="""\
    backstage.io/kubernetes-id: web
    backstage.io/kubernetes-label-selector: 'app=web,tier in (prod)'
    backstage.io/kubernetes-namespace: shop
    github.com/project-slug: Acme/Shop-Web
    gitlab.com/project-slug: group/sub/shop-web
    gitlab.com/instance: gitlab.acme.example
    backstage.io/source-location: url:https://github.com/acme/shop-web-mirror/tree/main/
    backstage.io/managed-by-location: url:https://github.com/acme/catalog/blob/main/c.yaml
"""),
        component("override", annotations="""\
    github.com/project-slug: acme/old
    pathwarden.dev/repository: git@gitlab.com:team/new.git
"""),
        component("managed-only", annotations="""\
    backstage.io/managed-by-location: url:https://github.com/acme/managed/blob/main/c.yaml
"""),
        component("bad-links", annotations="""\
    github.com/project-slug: just-a-name
    backstage.io/kubernetes-label-selector: 'app in (a'
"""))
    links = catalog.service("all-links").links
    assert (links.kubernetes_id, str(links.kubernetes_label_selector),
            links.kubernetes_namespace) == ("web", "app=web,tier in (prod)", "shop")
    assert [(r.url, r.slug, r.annotation) for r in links.repositories] == [
        ("https://github.com/acme/shop-web", "acme/shop-web", "github.com/project-slug"),
        ("https://gitlab.acme.example/group/sub/shop-web", "group/sub/shop-web",
         "gitlab.com/project-slug"),
        ("https://github.com/acme/shop-web-mirror", "acme/shop-web-mirror",
         "backstage.io/source-location"),
    ]
    assert [(c.provider, c.repository.url) for c in links.ci] == [
        ("github-actions", "https://github.com/acme/shop-web"),
        ("gitlab-ci", "https://gitlab.acme.example/group/sub/shop-web")]
    assert links.managed_by_location == "url:https://github.com/acme/catalog/blob/main/c.yaml"
    assert links.source_location == "url:https://github.com/acme/shop-web-mirror/tree/main/"

    override = catalog.service("override").links
    assert [(r.url, r.annotation) for r in override.repositories] == [
        ("https://gitlab.com/team/new", "pathwarden.dev/repository")]
    assert [c.provider for c in override.ci] == ["gitlab-ci"]
    managed = catalog.service("managed-only").links
    assert [r.url for r in managed.repositories] == ["https://github.com/acme/managed"]
    assert managed.ci == ()

    bad = catalog.service("bad-links")
    assert bad.links.repositories == () and bad.links.kubernetes_label_selector is None
    assert [p.message for p in catalog.problems] == [
        "backstage.io/kubernetes-label-selector: unbalanced parentheses in label selector "
        "'app in (a'; not used for mapping",
        "github.com/project-slug 'just-a-name' is not an owner/name project slug",
    ]
    assert {p.location for p in catalog.problems} == {Location(str(path), doc_lines(path)[3])}


def test_tier_annotation_beats_label_beats_spec(write):
    catalog, _ = catalog_of(
        write,
        component("a", annotations="    pathwarden.dev/tier: '1'\n",
                  extra_meta="  labels: {tier: '2'}\n", spec="  tier: 3\n"),
        component("b", extra_meta="  labels: {tier: '2'}\n", spec="  tier: 3\n"),
        component("c", spec="  tier: 3\n"),
        component("d"))
    assert [catalog.service(n).tier for n in "abcd"] == ["1", "2", "3", None]


# --- label selectors -----------------------------------------------------------------------

@pytest.mark.parametrize(("selector", "labels", "matches"), [
    ("app=web", {"app": "web"}, True),
    ("app==web", {"app": "api"}, False),
    ("app!=web", {"app": "api"}, True),
    ("app!=web", {}, True),
    ("tier in (prod, staging)", {"tier": "staging"}, True),
    ("tier in (prod,staging)", {}, False),
    ("tier notin (dev)", {"tier": "prod"}, True),
    ("tier notin (dev)", {"tier": "dev"}, False),
    ("tier notin (dev)", {}, True),
    ("app", {"app": ""}, True),
    ("!canary", {"app": "web"}, True),
    ("!canary", {"canary": "true"}, False),
    ("app=web, tier in (prod), !canary, team", {"app": "web", "tier": "prod", "team": "x"}, True),
    ("app=web,tier in (prod),!canary", {"app": "web", "tier": "prod", "canary": "1"}, False),
    ("app.kubernetes.io/name=web", {"app.kubernetes.io/name": "web"}, True),
])
def test_label_selectors(selector, labels, matches):
    assert parse_selector(selector).matches(labels) is matches


@pytest.mark.parametrize("text", ["", "  ", "app=web,", "a in (x", "a in ()", "a = = b", "in x"])
def test_invalid_label_selectors_are_refused(text):
    with pytest.raises(SelectorError):
        parse_selector(text)


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
