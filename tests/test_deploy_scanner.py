"""deploy/scanner/: the nightly CronJob and the sharded Indexed Job validate against the
Kubernetes schemas, pass pathwarden's own Pod policies, and carry a valid configuration."""

from __future__ import annotations

import re
from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from pathwarden.engine import evaluate, load_policies
from pathwarden.engine.k8s import make_target
from pathwarden.engine.settings import load_settings

SCANNER = Path(__file__).resolve().parents[1] / "deploy" / "scanner"
DOCS = [(p.name, d) for p in sorted(SCANNER.glob("*.yaml"))
        for d in yaml.safe_load_all(p.read_text(encoding="utf-8")) if d]


def one(kind: str) -> dict:
    [doc] = [d for _, d in DOCS if d["kind"] == kind]
    return doc


@pytest.mark.parametrize(("file", "doc"), DOCS, ids=[f"{f}:{d['kind']}" for f, d in DOCS])
def test_every_object_validates(file, doc):
    for version in ("1.30.0", kubernetes_validate.latest_version()):
        kubernetes_validate.validate(doc, version, strict=True)


@pytest.mark.parametrize("kind", ["CronJob", "Job"])
def test_the_scan_pods_pass_the_pod_security_standards_and_golden_paths(kind):
    findings = evaluate([make_target(one(kind))], load_policies().select(["pss:*", "golden-*"]))
    assert findings
    assert [(f.policy_id, f.messages) for f in findings if f.status.value in ("fail", "error")] \
        == []


def test_the_indexed_job_shards_match_its_completions():
    job = one("Job")
    args = job["spec"]["template"]["spec"]["containers"][0]["args"]
    shard = args[args.index("--shard") + 1]
    assert re.fullmatch(r"\$\(JOB_COMPLETION_INDEX\)/(\d+)", shard)
    assert int(shard.split("/")[1]) == job["spec"]["completions"] == job["spec"]["parallelism"]
    assert job["spec"]["completionMode"] == "Indexed"


def test_the_cronjob_never_overlaps():
    assert one("CronJob")["spec"]["concurrencyPolicy"] == "Forbid"


def test_the_configuration_is_valid_and_the_scanner_cannot_read_secrets(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text(one("ConfigMap")["data"]["config.yaml"], encoding="utf-8")
    settings = load_settings(config, {})
    [cluster] = settings.scan.clusters
    assert cluster.in_cluster and "Secret" not in cluster.kinds
    rules = one("ClusterRole")["rules"]
    assert all("secrets" not in r["resources"] for r in rules)
    assert all(set(r["verbs"]) <= {"get", "list", "watch"} for r in rules)
    granted = {res for r in rules for res in r["resources"]}
    plural = {k.lower() + ("es" if k.endswith("s") else "s") for k in cluster.kinds}
    plural = {p.replace("policys", "policies") for p in plural}
    assert plural <= granted
