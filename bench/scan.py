"""Benchmark: a whole scan of a generated estate into SQLite and into PostgreSQL.

The estate: 10,000 Kubernetes objects as a manifests source (Pods owned by ReplicaSets of
~500 Deployments, plus Services, Ingresses, PodDisruptionBudgets, ConfigMaps and
Namespaces), written as `kind: List` JSON files, the shape `kubectl get -o json` dumps;
and 200 generated git repositories (real `git` repositories, local paths). Each scan runs in
a fresh process that reports its own peak memory.

Prints objects/s, repositories/s, peak memory, and the time spent collecting, evaluating
and storing, per database.

    .venv/bin/python bench/scan.py [--objects 10000] [--repos 200] [--waivers 200] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=test"
GIT = ["git", "-c", "user.name=bench", "-c", "user.email=bench@example.com",
       "-c", "init.defaultBranch=main"]


def estate(objects: int, seed: int = 3) -> dict[str, list[dict[str, Any]]]:
    """Namespace -> objects; about 16 Pods per Deployment, like a busy cluster."""
    rng = random.Random(seed)
    by_ns: dict[str, list[dict[str, Any]]] = {}
    deployments = max(1, objects // 20)
    namespaces = [f"team-{i:02d}" for i in range(max(1, deployments // 25))]
    count = 0
    for ns in namespaces:
        by_ns[ns] = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}]
        count += 1
    d = 0
    while count < objects:
        ns = namespaces[d % len(namespaces)]
        name = f"svc{d}"
        items, d = _service_objects(rng, ns, name), d + 1
        for obj in items:
            if count >= objects:
                break
            by_ns[ns].append(obj)
            count += 1
    return by_ns


def _service_objects(rng: random.Random, ns: str, name: str) -> list[dict[str, Any]]:
    labels = {"app.kubernetes.io/name": name, "backstage.io/kubernetes-id": name}
    container = {"name": "app", "image": f"registry.acme.example/{ns}/{name}:1.{rng.randint(0, 9)}",
                 "ports": [{"containerPort": 8080}],
                 "env": [{"name": f"V{k}", "value": str(k)} for k in range(rng.randint(0, 5))]}
    if rng.random() < 0.7:
        container["resources"] = {"requests": {"cpu": "100m", "memory": "128Mi"},
                                  "limits": {"memory": "256Mi"}}
        container["securityContext"] = {"allowPrivilegeEscalation": False,
                                        "runAsNonRoot": True,
                                        "capabilities": {"drop": ["ALL"]},
                                        "seccompProfile": {"type": "RuntimeDefault"}}
    spec = {"containers": [container], "automountServiceAccountToken": False}
    replicas = rng.randint(1, 3) if rng.random() < 0.3 else 16
    deploy = {"apiVersion": "apps/v1", "kind": "Deployment",
              "metadata": {"name": name, "namespace": ns, "labels": labels, "uid": name},
              "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                       "template": {"metadata": {"labels": labels}, "spec": spec}}}
    rs_name = f"{name}-7d9f8"
    rs = {"apiVersion": "apps/v1", "kind": "ReplicaSet",
          "metadata": {"name": rs_name, "namespace": ns, "labels": labels, "uid": rs_name,
                       "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment",
                                            "name": name, "uid": name, "controller": True}]},
          "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                   "template": {"metadata": {"labels": labels}, "spec": spec}}}
    pods = [{"apiVersion": "v1", "kind": "Pod",
             "metadata": {"name": f"{rs_name}-{i:05d}", "namespace": ns, "labels": labels,
                          "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                               "name": rs_name, "uid": rs_name,
                                               "controller": True}]},
             "spec": spec} for i in range(replicas)]
    service = {"apiVersion": "v1", "kind": "Service",
               "metadata": {"name": name, "namespace": ns, "labels": labels},
               "spec": {"selector": labels, "ports": [{"port": 80, "targetPort": 8080}]}}
    extra: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "ConfigMap",
         "metadata": {"name": f"{name}-config", "namespace": ns, "labels": labels},
         "data": {"LOG_LEVEL": "info"}}]
    if replicas > 1:
        extra.append({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
                      "metadata": {"name": name, "namespace": ns},
                      "spec": {"minAvailable": 1, "selector": {"matchLabels": labels}}})
    if rng.random() < 0.3:
        extra.append({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
                      "metadata": {"name": name, "namespace": ns, "labels": labels},
                      "spec": {"rules": [{"host": f"{name}.acme.example"}]}})
    return [deploy, rs, service, *extra, *pods]


def write_estate(root: Path, objects: int) -> int:
    root.mkdir(parents=True)
    total = 0
    for ns, items in estate(objects).items():
        (root / f"{ns}.json").write_text(json.dumps({"apiVersion": "v1", "kind": "List",
                                                     "items": items}))
        total += len(items)
    return total


def write_repos(root: Path, count: int) -> list[Path]:
    rng = random.Random(5)
    paths = []
    for i in range(count):
        repo = root / f"service-{i:03d}"
        (repo / ".github" / "workflows").mkdir(parents=True)
        (repo / "src").mkdir()
        (repo / "README.md").write_text(f"# service-{i}\n\nWhat it does.\n")
        (repo / "CODEOWNERS").write_text("* @acme/team-a\n")
        (repo / "catalog-info.yaml").write_text(
            "apiVersion: backstage.io/v1alpha1\nkind: Component\n"
            f"metadata:\n  name: service-{i}\nspec:\n  type: service\n"
            "  lifecycle: production\n  owner: group:default/team-a\n")
        (repo / "Dockerfile").write_text(
            "FROM python:3.12-slim@sha256:" + "a" * 64 + "\nUSER 10001\n"
            if rng.random() < 0.5 else "FROM python:latest\n")
        (repo / "pyproject.toml").write_text("[project]\nname = 'x'\n")
        if rng.random() < 0.5:
            (repo / "uv.lock").write_text("version = 1\n")
            (repo / "tests").mkdir()
            (repo / "tests" / "test_app.py").write_text("def test_ok():\n    pass\n")
        (repo / "src" / "app.py").write_text("print('hello')\n")
        (repo / ".github" / "workflows" / "ci.yml").write_text(
            "name: ci\non: [push, pull_request]\npermissions:\n  contents: read\n"
            "jobs:\n  test:\n    runs-on: ubuntu-latest\n    steps:\n"
            "      - uses: actions/checkout@v4\n      - run: pytest\n")
        env = {**os.environ, "GIT_AUTHOR_DATE": "2026-11-01T10:00:00Z",
               "GIT_COMMITTER_DATE": "2026-11-01T10:00:00Z"}
        for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "init"]):
            subprocess.run([*GIT, "-C", str(repo), *args], check=True, env=env)
        paths.append(repo)
    return paths


def write_governance(root: Path, waivers: int) -> Path:
    """`waivers` waivers (namespace and object covers, a quarter of them expired) and three
    campaigns, so the scan's governance step (every finding checked) is measured too."""
    from datetime import UTC, datetime, timedelta

    today = datetime.now(UTC).date()
    root.mkdir(parents=True)
    docs = []
    policies = ["golden-probes", "golden-resources", "golden-image-tag", "pss:restricted"]
    for i in range(waivers):
        expires = today + timedelta(days=-3 if i % 4 == 0 else 30)
        cover = (f"namespaces: [team-{i % 20:02d}]" if i % 2 else
                 f"objects: [Deployment/team-{i % 20:02d}/svc-{i:05d}*]")
        docs.append(f"""apiVersion: pathwarden.dev/v1
kind: Waiver
metadata: {{name: bench-{i:04d}}}
spec:
  policies: [{policies[i % len(policies)]}]
  {cover}
  reason: benchmark
  requestedBy: a
  approvedBy: b
  requested: {today - timedelta(days=20)}
  expires: {expires}
""")
    for i, policy in enumerate(["golden-probes", "golden-replicas", "pss:baseline"]):
        docs.append(f"""apiVersion: pathwarden.dev/v1
kind: Campaign
metadata: {{name: bench-campaign-{i}}}
spec:
  owner: platform
  goal: benchmark
  policies: ["{policy}"]
  start: {today - timedelta(days=10)}
  deadline: {today + timedelta(days=10 * i + 1)}
  schedule:
    - {{enforcement: audit, from: {today - timedelta(days=10)}}}
    - {{enforcement: warn, from: {today - timedelta(days=1)}}}
    - {{enforcement: deny, from: {today + timedelta(days=10 * i + 1)}}}
""")
    (root / "governance.yaml").write_text("---\n".join(docs), encoding="utf-8")
    return root


def worker(config: Path) -> None:
    """One scan in this process; prints its figures as JSON."""
    from pathwarden.engine import load_policies
    from pathwarden.engine.scanner import run_scan
    from pathwarden.engine.settings import load_settings
    from pathwarden.engine.store import Store

    settings = load_settings(config, {})
    policy_set = load_policies().with_parameters(dict(settings.policies.parameters))
    started = time.perf_counter()
    with Store.open(settings.store.url) as store:
        outcome = run_scan(settings, policy_set, store)
    total = time.perf_counter() - started
    kinds: dict[str, int] = {}
    for target_id in outcome.target_ids:
        kind = target_id.split(":", 1)[0]
        kinds[kind] = kinds.get(kind, 0) + 1
    print(json.dumps({"status": outcome.status, "targets": kinds,
                      "findings": len(outcome.findings), "seconds": round(total, 2),
                      "timings": {k: round(v, 2) for k, v in outcome.timings.items()},
                      "peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
                                       / 1024, 1),
                      "errors": outcome.errors[:3]}))


def scan(workdir: Path, name: str, url: str, sources: dict[str, Any]) -> dict[str, Any]:
    config = workdir / f"{name}.json"
    config.write_text(json.dumps({
        "store": {"url": url},
        "policies": {"parameters": {"golden-allowed-registries": {
            "registries": ["registry.acme.example/"]}}},
        "scan": {"scope": name, "cache_dir": str(workdir / "cache"), **sources},
        "governance": {"dirs": [str(workdir / "governance")]}}))
    done = subprocess.run([sys.executable, __file__, "--worker", str(config)], check=True,
                          capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--objects", type=int, default=10000)
    parser.add_argument("--repos", type=int, default=200)
    parser.add_argument("--waivers", type=int, default=200)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker)
        return
    import psycopg

    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        objects = write_estate(workdir / "estate", args.objects)
        repos = write_repos(workdir / "repos", args.repos)
        write_governance(workdir / "governance", args.waivers)
        pg_name = f"pathwarden_bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{pg_name}"')
        try:
            for db, url in (("sqlite", f"sqlite:///{workdir}/bench.db"),
                            ("postgresql", f"postgresql://postgres@127.0.0.1:5432/{pg_name}")):
                k8s = scan(workdir, "k8s", url, {"manifests": [str(workdir / "estate")]})
                repo = scan(workdir, "repos", url,
                            {"repositories": [{"path": str(p)} for p in repos]})
                results[db] = {"k8s": k8s, "repos": repo}
        finally:
            with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')
    if args.json:
        print(json.dumps(results))
        return
    print(f"estate: {objects} Kubernetes objects (manifests source), {len(repos)} git "
          f"repositories; full built-in pack; {args.waivers} waivers and 3 campaigns; each "
          "scan in a fresh process")
    for db, r in results.items():
        k8s, repo = r["k8s"], r["repos"]
        print(f"{db}:")
        print(f"  k8s:   {objects} objects in {k8s['seconds']} s "
              f"({objects / k8s['seconds']:.0f}/s), {k8s['findings']} findings, "
              f"peak {k8s['peak_mb']} MB; collect {k8s['timings'].get('collect')} s, "
              f"evaluate {k8s['timings'].get('evaluate')} s, "
              f"govern {k8s['timings'].get('govern')} s, "
              f"store {k8s['timings'].get('store')} s [{k8s['status']}]")
        print(f"  repos: {len(repos)} repositories in {repo['seconds']} s "
              f"({len(repos) / repo['seconds']:.1f}/s), {repo['findings']} findings, "
              f"peak {repo['peak_mb']} MB; collect {repo['timings'].get('collect')} s, "
              f"evaluate {repo['timings'].get('evaluate')} s, "
              f"govern {repo['timings'].get('govern')} s, "
              f"store {repo['timings'].get('store')} s [{repo['status']}]")


if __name__ == "__main__":
    main()
