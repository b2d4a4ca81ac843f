"""`pathwarden demo`, the README's first command: the whole product on the example estate."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from datetime import date
from pathlib import Path

from pathwarden.engine.store import Store

from .standins.notify_receiver import NotifyReceiver
from .webhook_support import free_port, wait_for


def test_the_demo_scans_scores_with_history_and_writes_the_report(tmp_path):
    work = tmp_path / "demo"
    receiver = NotifyReceiver().start()  # a loopback stand-in for a Slack/JSON receiver
    try:
        done = subprocess.run([sys.executable, "-m", "pathwarden.engine.cli.main", "demo",
                               "--no-serve", "--workdir", str(work)],
                              capture_output=True, text=True, timeout=600, cwd=tmp_path,
                              env={**os.environ, "PATHWARDEN_NOTIFY_URL": receiver.url})
    finally:
        receiver.stop()
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "created 12 git repositories" in out
    assert "scanned the estate as of 3 day(s) ago" in out and "scanned the estate today" in out
    assert "Secure workloads" in out and "12 services" in out
    assert "Probes everywhere" in out and "warn, 25 days to the deadline" in out
    assert "waivers: 3 active (1 expiring within 14 days, 1 unused), 1 expired" in out
    # the running campaign's phase change, one message per team with failing services
    assert f"campaign notifications to {receiver.url}" in out
    assert "sent: Probes everywhere: now warn — team-payments: 2 services failing" in out
    sent = receiver.bodies()
    assert len(sent) == 3 and {b["campaign"]["id"] for b in sent} == {"probes-everywhere"}
    with Store.open(f"sqlite:///{work / 'pathwarden.db'}") as store:
        days = {r.day for r in store.scorecard_results(since=date.min)}
        assert len(days) == 4
        assert len(store.services()) == 12
        kinds = {t.kind for _, t in store.current_findings()}
        assert kinds == {"k8s", "repo", "pipeline"}
        assert store.pipeline_runs()
    assert (work / "report" / "pathwarden-report.html").is_file()
    assert "report: " in out
    # the estate's waivers and campaigns, dated relative to today, in store and report
    with Store.open(f"sqlite:///{work / 'pathwarden.db'}") as store:
        assert store.waiver_usage() == {"shop-cart-single-replica": 1,
                                        "recommendations-probes": 1}
    report = json.loads((work / "report" / "pathwarden-report.json").read_text("utf-8"))
    waivers = report["waivers"]
    assert [w["id"] for w in waivers["expiring"]] == ["recommendations-probes"]
    assert [w["id"] for w in waivers["unused"]] == ["payments-api-host-network"]
    assert [w["id"] for w in waivers["expired"]] == ["etl-latest-tag"]
    states = {c["id"]: c["state"] for c in report["campaigns"]}
    assert states == {"probes-everywhere": "running", "resources-tier1": "scheduled"}


def test_the_demo_serves_the_dashboard_and_prints_its_url(tmp_path):
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "pathwarden.engine.cli.main", "demo", "--workdir",
         str(tmp_path / "demo"), "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
        env={**os.environ})
    url = f"http://127.0.0.1:{port}/"
    try:
        def up() -> bool:
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            try:
                with urllib.request.urlopen(url, timeout=5) as answer:
                    return answer.status == 200
            except OSError:
                return False

        wait_for(up, "the demo's dashboard", timeout=300)
        with urllib.request.urlopen(url, timeout=10) as answer:
            page = answer.read().decode()
        assert "Secure workloads" in page
    finally:
        process.send_signal(signal.SIGINT)
        out, _ = process.communicate(timeout=60)
    assert f"dashboard: {url}" in out
    assert Path(tmp_path / "demo" / "report").is_dir()
