"""The service catalog: reading Backstage catalog-info.yaml files (Locations, validation,
duplicates, groups), links and tier, and label selectors."""

from __future__ import annotations

import pytest
from pathwarden.engine.catalog import (
    SelectorError,
    catalog_from_documents,
    parse_selector,
    read_catalog,
)
from pathwarden.engine.catalog.refs import name_error
from pathwarden.engine.model import Location

from .catalog_support import (
    catalog_of,
    component,
    doc_lines,
)

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
