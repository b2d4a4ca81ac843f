"""The deploy tests' shared reading of deploy/: the manifests' documents, and the pod's
files laid out the way the kubelet mounts ConfigMaps."""


from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import kubernetes_validate
import yaml

ROOT = Path(__file__).resolve().parents[1]
MANIFESTS = ROOT / "deploy" / "manifests"
CHART = ROOT / "deploy" / "helm" / "pathwarden"
K8S_VERSIONS = ("1.30.0", kubernetes_validate.latest_version())
CERT_MANAGER = "cert-manager.io/v1"


@cache
def documents() -> tuple[tuple[str, dict[str, Any]], ...]:
    found = []
    for path in sorted(MANIFESTS.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if doc:
                found.append((path.name, doc))
    return tuple(found)


def one(kind: str, name: str | None = None) -> dict[str, Any]:
    matches = [d for _, d in documents()
               if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]
    assert len(matches) == 1, f"expected one {kind} {name or ''}, found {len(matches)}"
    return matches[0]


def config_text() -> str:
    return one("ConfigMap", "pathwarden-config")["data"]["config.yaml"]


GOVERNANCE_CONFIGMAP, CATALOG_CONFIGMAP = "pathwarden-governance", "pathwarden-catalog"
EXAMPLE_WAIVER, EXAMPLE_CAMPAIGN = "example-pathwarden-single-replica", "example-probes-everywhere"


# --- the pod's files, laid out the way the kubelet mounts them ---

def pod_spec(workload: Mapping[str, Any]) -> dict[str, Any]:
    """The pod spec of a Deployment, Job or CronJob."""
    spec = workload["spec"]
    if workload["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    return spec["template"]["spec"]


def mount_configmap(target: Path, data: Mapping[str, str],
                    stamp: str = "..2026_01_01_00_00_00.000000001") -> None:
    """A whole ConfigMap volume as the kubelet's atomic writer leaves it: the files in a
    hidden timestamped directory, `..data` pointing at that directory, and each key a
    symlink through `..data`. Readers must see each file once (hidden folders skipped)."""
    target.mkdir(parents=True, exist_ok=True)
    (target / stamp).mkdir()
    for key, text in data.items():
        (target / stamp / key).write_text(text, encoding="utf-8")
    (target / "..data").symlink_to(stamp)
    for key in data:
        (target / key).symlink_to(Path("..data") / key)


def update_configmap(target: Path, data: Mapping[str, str], stamp: str) -> None:
    """What the kubelet does when the ConfigMap changes: a new timestamped directory, one
    rename that swaps `..data` over to it, links for new keys, the old ones removed."""
    old = os.readlink(target / "..data")
    (target / stamp).mkdir()
    for key, text in data.items():
        (target / stamp / key).write_text(text, encoding="utf-8")
    (target / "..data_tmp").symlink_to(stamp)
    os.replace(target / "..data_tmp", target / "..data")
    for key in data:
        if not (target / key).is_symlink():
            (target / key).symlink_to(Path("..data") / key)
    for link in target.iterdir():
        if not link.name.startswith("..") and link.name not in data:
            link.unlink()
    shutil.rmtree(target / old)


def lay_out_pod(root: Path, workload: Mapping[str, Any],
                configmaps: Mapping[str, Mapping[str, str]]) -> dict[str, Path]:
    """Writes under `root` the ConfigMap files the workload's container sees (whole
    ConfigMap volumes, `items` of projected volumes, single keys by `subPath`) and returns
    each mount path with its directory or file under `root`. Secrets are not written."""
    spec = pod_spec(workload)
    (container,) = spec["containers"]
    volumes = {v["name"]: v for v in spec["volumes"]}
    mounts: dict[str, Path] = {}
    for mount in sorted(container["volumeMounts"], key=lambda m: m["mountPath"]):
        volume, target = volumes[mount["name"]], root / mount["mountPath"].lstrip("/")
        mounts[mount["mountPath"]] = target
        if "configMap" in volume:
            data = configmaps[volume["configMap"]["name"]]
            if "subPath" in mount:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(data[mount["subPath"]], encoding="utf-8")
            else:
                assert "items" not in volume["configMap"], "whole ConfigMaps only"
                mount_configmap(target, data)
        elif "projected" in volume:
            for source in volume["projected"]["sources"]:
                if "configMap" in source:
                    data = configmaps[source["configMap"]["name"]]
                    for item in source["configMap"]["items"]:
                        (target / item["path"]).parent.mkdir(parents=True, exist_ok=True)
                        (target / item["path"]).write_text(data[item["key"]], encoding="utf-8")
        else:
            target.mkdir(parents=True, exist_ok=True)
    return mounts


def rerooted(config: str, root: Path, mounts: Mapping[str, Path]) -> str:
    """The configuration with every path below one of the pod's mounts moved under `root`
    (a SQLite URL's file too), so it reads the files lay_out_pod wrote."""
    def move(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: move(v) for k, v in value.items()}
        if isinstance(value, list):
            return [move(v) for v in value]
        if isinstance(value, str):
            prefix = "sqlite:///" if value.startswith("sqlite:////") else ""
            path = value[len(prefix):]
            if any(path == m or path.startswith(m.rstrip("/") + "/") for m in mounts):
                return prefix + str(root / path.lstrip("/"))
        return value

    return yaml.safe_dump(move(yaml.safe_load(config)))


def manifest_configmaps() -> dict[str, dict[str, str]]:
    return {d["metadata"]["name"]: d["data"] for _, d in documents() if d["kind"] == "ConfigMap"}


def deployed_webhook(root: Path) -> tuple[Path, dict[str, Path]]:
    """The webhook pod's files under `root`, and its configuration file pointing at them."""
    deployment = one("Deployment")
    mounts = lay_out_pod(root, deployment, manifest_configmaps())
    (container,) = pod_spec(deployment)["containers"]
    config = root / container["command"][container["command"].index("--config") + 1].lstrip("/")
    assert config.is_file(), "the configuration is not where the command reads it"
    config.write_text(rerooted(config.read_text(encoding="utf-8"), root, mounts),
                      encoding="utf-8")
    return config, mounts


def chart_values() -> dict[str, Any]:
    return yaml.safe_load((CHART / "values.yaml").read_text(encoding="utf-8"))
