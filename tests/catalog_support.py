"""Catalog files and targets for the catalog tests."""

from __future__ import annotations

from pathlib import Path

from pathwarden.engine.catalog import (
    Catalog,
    read_catalog,
)
from pathwarden.engine.k8s import make_target
from pathwarden.engine.model import Target, TargetRef

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
