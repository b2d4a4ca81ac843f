"""Scanning repositories and their pipelines end to end: real git repositories (made with
`git`), one cloned from a URL, one read in place, one that does not clone."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from pathlib import Path

from pathwarden.engine import load_policies
from pathwarden.engine.scanner import run_scan
from pathwarden.engine.settings import load_settings
from pathwarden.engine.store import PipelineRun, Store

GIT = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com",
       "-c", "init.defaultBranch=main"]
WORKFLOW = """name: ci
on: [push]
permissions: {contents: read}
jobs:
  test:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - run: pytest
"""


def make_repo(root: Path, name: str, catalog: bool) -> Path:
    repo = root / name
    (repo / ".github" / "workflows").mkdir(parents=True)
    (repo / ".github" / "workflows" / "ci.yml").write_text(WORKFLOW)
    (repo / "README.md").write_text(f"# {name}\n")
    if catalog:
        (repo / "catalog-info.yaml").write_text(
            "apiVersion: backstage.io/v1alpha1\nkind: Component\n"
            f"metadata:\n  name: {name}\n  annotations:\n"
            f"    github.com/project-slug: acme/{name}\n"
            "spec: {type: service, lifecycle: production, owner: group:default/team-a}\n")
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "init"]):
        subprocess.run([*GIT, "-C", str(repo), *args], check=True)
    return repo


def test_repositories_and_pipelines_are_scanned_mapped_and_stored(tmp_path, database_url):
    in_place = make_repo(tmp_path, "shop-web", catalog=True)
    cloned = make_repo(tmp_path, "shop-cart", catalog=False)
    cfg = tmp_path / "pathwarden.yaml"
    cfg.write_text(f"""
store: {{url: "{database_url}"}}
scan:
  catalog: []
  repositories:
    - path: {in_place}
    - url: file://{cloned}
      name: shop-cart
    - url: file://{tmp_path}/missing
  cache_dir: {tmp_path}/cache
""", encoding="utf-8")
    settings = load_settings(cfg, {})
    with Store.open(database_url) as store:
        store.add_pipeline_runs([PipelineRun(
            repository="acme/shop-web", finished_at=datetime.now(UTC), result="success",
            deployment=True)])
        outcome = run_scan(settings, load_policies(), store)
        assert outcome.status == "partial"
        [error] = [e for e in outcome.errors if "error" in e]
        assert f"repository file://{tmp_path}/missing: git clone failed" in error["error"]
        found = {(t.name, f.policy_id): (f.status, f.service)
                 for f, t in store.current_findings()}
    web = "component:default/shop-web"
    # shop-web's own catalog-info.yaml made it a service; its pipeline follows it.
    assert found["shop-web", "repo-owner-known"] == ("pass", web)
    assert found["shop-web", "catalog-repository-owned"] == ("pass", web)
    assert found["shop-web/.github/workflows/ci.yml", "pipeline-runs-tests"] == ("pass", web)
    assert found["shop-web/.github/workflows/ci.yml", "pipeline-actions-pinned"] == (
        "fail", web)
    # shop-cart has no catalog entry: unowned, and said so.
    assert found["shop-cart", "catalog-repository-owned"] == ("fail", None)
    assert found["shop-cart", "repo-owner-known"][0] == "fail"
    repo_targets = [t for t in [*outcome.unowned] if t.ref.kind == "repo"]
    assert [t.ref.name for t in repo_targets] == ["shop-cart"]
    assert any((tmp_path / "cache").iterdir())  # cloned into the configured cache


def test_policies_read_delivery_metrics_from_posted_runs(tmp_path, database_url):
    repo = make_repo(tmp_path, "shop-web", catalog=True)
    subprocess.run([*GIT, "-C", str(repo), "remote", "add", "origin",
                    "https://github.com/acme/shop-web.git"], check=True)
    policies = tmp_path / "org"
    policies.mkdir()
    (policies / "cadence.py").write_text('''
from pathwarden.engine.rules import rule

@rule(id="acme-deploys-weekly", targets=["repo"])
def deploys_weekly(doc):
    delivery = doc["delivery"]
    if delivery["deployment_frequency_per_day"] < 1 / 7:
        yield (f"{delivery['deployments']} deployment(s) in {delivery['window_days']} days, "
               f"change failure rate {delivery['change_failure_rate']}")
''', encoding="utf-8")
    cfg = tmp_path / "pathwarden.yaml"
    cfg.write_text(f"""
store: {{url: "{database_url}"}}
policies: {{dirs: [{policies}], builtin: false}}
scan:
  repositories: [{{path: {repo}}}]
""", encoding="utf-8")
    settings = load_settings(cfg, {})
    from pathwarden.engine.loading.configured import configured_policy_set

    with Store.open(database_url) as store:
        now = datetime.now(UTC)
        store.add_pipeline_runs([
            PipelineRun(repository="acme/shop-web", finished_at=now, result="failure",
                        deployment=True),
            PipelineRun(repository="acme/shop-web", finished_at=now, result="success",
                        deployment=True)])
        outcome = run_scan(settings, configured_policy_set(settings), store)
    [finding] = [f for f in outcome.findings if f.policy_id == "acme-deploys-weekly"]
    assert finding.messages == ["2 deployment(s) in 30 days, change failure rate 0.5"]
