"""`pathwarden serve` as a process: the API, the dashboard, and what runs after a scan
(scorecards, then the report)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

from .webhook_support import free_port, wait_for

ROOT = Path(__file__).resolve().parents[1]


def test_a_scan_started_through_the_api_is_followed_by_scorecards_and_the_report(tmp_path):
    port = free_port()
    cfg = tmp_path / "pathwarden.yaml"
    cfg.write_text(f"""
store: {{url: "sqlite:///{tmp_path}/pw.db"}}
scan:
  catalog: [{ROOT}/examples/estate/catalog]
  manifests: [{ROOT}/examples/estate/manifests]
scorecards:
  report_dir: {tmp_path}/reports
""", encoding="utf-8")
    process = subprocess.Popen(
        [sys.executable, "-m", "pathwarden.engine.cli.main", "serve", "--config", str(cfg),
         "--port", str(port), "--no-schedule"], stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PATHWARDEN_API_TOKEN": "t0ken"})
    base = f"http://127.0.0.1:{port}"

    def get(path: str) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(base + path, timeout=10) as answer:
                return answer.status, answer.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()
        except OSError:
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            return 0, b""

    try:
        wait_for(lambda: get("/healthz")[0] == 200, "serve to answer", timeout=120)
        request = urllib.request.Request(base + "/api/v1/scans", method="POST",
                                         headers={"Authorization": "Bearer t0ken"})
        with urllib.request.urlopen(request, timeout=10) as answer:
            assert answer.status == 202
        wait_for(lambda: (tmp_path / "reports" / "pathwarden-report.html").is_file(),
                 "the report after the scan", timeout=120)
        status, body = get("/api/v1/scorecards/secure-workloads/results")
        assert status == 200
        data = json.loads(body)
        items = data["items"] if isinstance(data, dict) else data
        assert any(i.get("service") == "component:default/shop-web" for i in items)
        status, page = get("/")
        assert status == 200 and b"Secure workloads" in page
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=60)
