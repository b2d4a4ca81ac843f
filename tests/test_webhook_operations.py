"""Running the webhook: failure modes, hot reload, certificate rotation, decision log.

Every test talks to a real webhook over HTTPS. Waiting loops only bound a broken run;
no test asserts on how long something took.
"""

from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from cryptography import x509
from pathwarden.engine.cli.main import main

from .webhook_support import (
    MemorySink,
    free_port,
    make_certs,
    pod,
    review,
    running_webhook,
    trusting,
    wait_for,
)

CRASHING = '''
from pathwarden.engine.rules import rule

@rule(id="acme-crashes", title="A policy with a bug", kinds=["Pod"], enforcement="{enf}")
def crashes(doc):
    raise KeyError("spec.nodeName")
'''

SLOW = '''
import time
from pathwarden.engine.rules import rule

@rule(id="acme-slow", title="A policy that calls a slow API", kinds=["Pod"])
def slow(doc):
    time.sleep(1.5)
    return []
'''

LABEL_POLICY = '''
# METADATA
# title: Team label
# custom:
#   id: acme-team-label
#   kinds: [Pod]
#   remediation: Add metadata.labels.team.
package acme.team_label

import rego.v1

deny contains "pod has no team label" if not input.review.object.metadata.labels.team
'''


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_certs(tmp_path_factory.mktemp("certs"))


def policy_dir(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "policies"
    root.mkdir(exist_ok=True)
    for name, text in files.items():
        (root / name).write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return root


@pytest.mark.parametrize("mode", ["closed", "open"])
def test_an_engine_error_at_deny_level_follows_the_failure_mode(certs, tmp_path, mode):
    policies = policy_dir(tmp_path, {"crash.py": CRASHING.format(enf="deny")})
    with running_webhook(certs, policy_dirs=[policies], builtin=False,
                         failure_mode=mode) as webhook:
        answer = webhook.admit(review(pod()))
        if mode == "closed":
            assert answer["allowed"] is False
            message = answer["status"]["message"]
            assert message.startswith("pathwarden could not decide on Pod shop/web: "
                                      "[acme-crashes] could not be evaluated: KeyError")
            assert "fails closed" in message
        else:
            assert answer["allowed"] is True
            assert answer["warnings"][0].startswith(
                "pathwarden could not decide ([acme-crashes] could not be evaluated: KeyError")
            assert "fails open" in answer["warnings"][0]
        assert ('pathwarden_webhook_policy_decisions_total{policy="acme-crashes",'
                'result="error"} 1.0') in webhook.metrics()


def test_an_engine_error_in_a_warn_policy_is_a_warning_not_a_failure(certs, tmp_path):
    policies = policy_dir(tmp_path, {"crash.py": CRASHING.format(enf="warn")})
    with running_webhook(certs, policy_dirs=[policies], builtin=False) as webhook:
        answer = webhook.admit(review(pod()))
        assert answer["allowed"] is True
        assert answer["warnings"] == [
            "[acme-crashes] could not be evaluated: KeyError: 'spec.nodeName'"]


@pytest.mark.parametrize("mode", ["closed", "open"])
def test_a_missed_deadline_follows_the_failure_mode(certs, tmp_path, mode):
    policies = policy_dir(tmp_path, {"slow.py": SLOW})
    with running_webhook(certs, policy_dirs=[policies], builtin=False,
                         failure_mode=mode, deadline_seconds=0.2) as webhook:
        answer = webhook.admit(review(pod()))
        assert answer["allowed"] is (mode == "open")
        text = answer["warnings"][0] if mode == "open" else answer["status"]["message"]
        assert "evaluation deadline of 0.2s exceeded" in text
        assert (f'pathwarden_webhook_failure_mode_answers_total{{mode="{mode}",'
                f'reason="deadline"}} 1.0') in webhook.metrics()


def test_hot_reload_swaps_in_a_new_set_and_rejects_a_broken_one(certs, tmp_path):
    policies = policy_dir(tmp_path, {"team_label.rego": LABEL_POLICY})
    unlabelled = pod(labels={"app.kubernetes.io/name": "web"})
    with running_webhook(certs, policy_dirs=[policies], builtin=False) as webhook:
        assert "[acme-team-label] pod has no team label" in \
            webhook.admit(review(unlabelled))["status"]["message"]

        # A broken edit is rejected; the old set keeps serving.
        (policies / "team_label.rego").write_text(
            LABEL_POLICY.replace("if not input", "if not input {"), encoding="utf-8")
        wait_for(lambda: 'pathwarden_webhook_policy_reloads_total{result="failure"} 1.0'
                 in webhook.metrics(), "the rejected reload")
        ready = webhook.client.get("/readyz").json()
        assert ready["generation"] == 1
        assert "team_label.rego" in ready["last_reload_error"]
        assert webhook.admit(review(unlabelled))["allowed"] is False

        # A good edit (now a warning) is compiled beside the old set and swapped in.
        (policies / "team_label.rego").write_text(
            LABEL_POLICY.replace("#   remediation", "#   enforcement: warn\n#   remediation"),
            encoding="utf-8")
        wait_for(lambda: webhook.client.get("/readyz").json()["generation"] == 2,
                 "generation 2")
        answer = webhook.admit(review(unlabelled))
        assert answer["allowed"] is True
        assert answer["warnings"] == [
            "[acme-team-label] pod has no team label (fix: Add metadata.labels.team.)"]
        assert webhook.client.get("/readyz").json()["last_reload_error"] is None


def _serial_seen(port: int, certs: Path) -> int:
    with socket.create_connection(("127.0.0.1", port)) as raw, trusting(certs).wrap_socket(
            raw, server_hostname="localhost") as tls:
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der).serial_number


def test_a_rotated_certificate_is_served_without_dropping_connections(tmp_path):
    certs = make_certs(tmp_path / "certs")
    with running_webhook(certs) as webhook:
        port = webhook.server.settings.port
        first = _serial_seen(port, certs)
        assert webhook.admit(review(pod()))["allowed"] is True  # opens a keep-alive conn
        assert main(["certs", "--service", "pathwarden-webhook", "--namespace", "pathwarden",
                     "--out", str(certs), "--extra-dns", "localhost", "--extra-dns",
                     "127.0.0.1", "--renew"]) == 0
        rotated = x509.load_pem_x509_certificate((certs / "tls.crt").read_bytes())
        assert rotated.serial_number != first
        wait_for(lambda: _serial_seen(port, certs) == rotated.serial_number,
                 "the new certificate on new connections")
        # The connection opened before the rotation still works.
        assert webhook.admit(review(pod()))["allowed"] is True
        assert 'pathwarden_webhook_certificate_reloads_total{result="success"}' in \
            webhook.metrics()


def test_a_store_that_is_down_costs_log_entries_not_answers(certs):
    def unreachable():
        raise ConnectionRefusedError("database at 127.0.0.1:1 refused the connection")

    with running_webhook(certs, sink_factory=unreachable) as webhook:
        for _ in range(3):
            assert webhook.admit(review(pod(securityContext={"privileged": True})))[
                "allowed"] is False
        wait_for(lambda: 'pathwarden_webhook_decision_log_dropped_total{reason='
                 '"store_unavailable"}' in webhook.metrics(), "dropped entries counted")


def test_a_full_queue_drops_and_counts(certs):
    blocked = MemorySink()
    gate = __import__("threading").Event()

    def slow_sink():
        def write(batch):
            gate.wait(30)
            blocked.records.extend(batch)
        return write

    with running_webhook(certs, sink_factory=slow_sink, decision_queue_size=2) as webhook:
        for _ in range(8):
            assert webhook.admit(review(pod()))["allowed"] is True
        text = webhook.metrics()
        gate.set()
    assert 'pathwarden_webhook_decision_log_dropped_total{reason="queue_full"}' in text
    dropped = next(line for line in text.splitlines() if line.startswith(
        'pathwarden_webhook_decision_log_dropped_total{reason="queue_full"}'))
    assert float(dropped.rsplit(" ", 1)[1]) >= 5


def test_the_cli_serves_tls_and_reloads_on_sighup(certs, tmp_path):
    policies = policy_dir(tmp_path, {"team_label.rego": LABEL_POLICY})
    config = tmp_path / "pathwarden.yaml"
    port = free_port()
    config.write_text(textwrap.dedent(f"""
        policies:
          builtin: false
          dirs: [{policies}]
        store:
          url: sqlite:///{tmp_path}/decisions.db
        webhook:
          host: 127.0.0.1
          port: {port}
          cert_file: {certs}/tls.crt
          key_file: {certs}/tls.key
          reload_interval_seconds: 3600
    """), encoding="utf-8")
    process = subprocess.Popen(
        [sys.executable, "-m", "pathwarden.engine.cli.main", "webhook", "--config",
         str(config)], stderr=subprocess.PIPE, text=True, env={**os.environ})
    try:
        import httpx

        client = httpx.Client(base_url=f"https://localhost:{port}", verify=trusting(certs),
                              timeout=10)

        def up() -> bool:
            try:
                return client.get("/healthz").status_code == 200
            except httpx.HTTPError:
                assert process.poll() is None, process.stderr.read() if process.stderr else ""
                return False

        wait_for(up, "the webhook process to serve")
        unlabelled = review(pod(labels={"app": "web"}))
        assert client.post("/validate", json=unlabelled).json()["response"]["allowed"] is False
        (policies / "team_label.rego").unlink()
        # Polling is set to an hour: only SIGHUP can trigger this reload.
        process.send_signal(signal.SIGHUP)
        wait_for(lambda: client.get("/readyz").json()["generation"] == 2, "SIGHUP reload")
        assert client.post("/validate", json=unlabelled).json()["response"]["allowed"] is True
        client.close()
    finally:
        process.terminate()
        _, err = process.communicate(timeout=30)
    # uvicorn shuts down gracefully, then re-raises SIGTERM so the exit says why.
    assert process.returncode in (0, -signal.SIGTERM), err
    assert f"https://127.0.0.1:{port}/validate, 1 policies" in err


def test_the_cli_refuses_to_serve_without_a_certificate(tmp_path, capsys):
    code = main(["webhook", "--no-builtin", "--cert", str(tmp_path / "missing.crt"),
                 "--key", str(tmp_path / "missing.key")])
    assert code == 2
    err = capsys.readouterr().err
    assert f"TLS certificate {tmp_path / 'missing.crt'} not found" in err
    assert "pathwarden certs" in err


def test_the_cli_reports_a_broken_policy_set_and_does_not_start(certs, tmp_path, capsys):
    policies = policy_dir(tmp_path, {"team_label.rego": LABEL_POLICY.replace(
        "if not input", "if not input {")})
    code = main(["webhook", "--no-builtin", "-p", str(policies), "--cert",
                 str(certs / "tls.crt"), "--key", str(certs / "tls.key")])
    assert code == 2
    err = capsys.readouterr().err
    assert "team_label.rego" in err and "the webhook did not start" in err


def test_tls_handshake_requires_the_right_name(certs):
    with running_webhook(certs, builtin=False) as webhook:
        port = webhook.server.settings.port
        with socket.create_connection(("127.0.0.1", port)) as raw, pytest.raises(
                ssl.SSLCertVerificationError):
            trusting(certs).wrap_socket(raw, server_hostname="evil.example")


def test_decisions_are_written_to_the_store(certs, database_url):
    from pathwarden.engine.store import Store
    from pathwarden.webhook.server import store_sink_factory

    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db",
              "namespace": "shop"}, "data": {"password": "aHVudGVyMg=="}}
    with running_webhook(certs, sink_factory=store_sink_factory(database_url)) as webhook:
        denied = review(pod(name="bad", securityContext={"privileged": True}), dry_run=True,
                        user="alice")
        assert webhook.admit(denied)["allowed"] is False
        assert webhook.admit(review(pod(name="good")))["allowed"] is True
        assert webhook.admit(review(secret))["allowed"] is True
        assert webhook.admit(review(pod(name="sys", namespace="kube-system")))["allowed"]
        with Store.open(database_url) as store:
            rows = wait_for(lambda: len(store.decisions()) == 4 and store.decisions(),
                            "four decisions in the store")
            by_name = {r.name: r for r in rows}
            bad = by_name["bad"]
            assert (bad.uid, bad.allowed, bad.dry_run, bad.user, bad.operation, bad.kind,
                    bad.namespace) == (denied["request"]["uid"], False, True, "alice",
                                       "CREATE", "Pod", "shop")
            assert "pss-baseline-privileged" in bad.denied
            assert bad.reason.startswith("Pod shop/bad violates")
            assert bad.latency_ms > 0 and bad.time.tzinfo is not None
            assert by_name["good"].allowed and by_name["good"].denied == []
            assert by_name["sys"].reason == "namespace kube-system is exempt"
            assert "aHVudGVyMg==" not in str([r.model_dump() for r in rows])
            assert [r.name for r in store.decisions(policy="pss-baseline-privileged")] == [
                "bad"]
