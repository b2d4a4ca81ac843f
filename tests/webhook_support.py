"""Running a real webhook over HTTPS for tests, and AdmissionReview v1 bodies to send it.

The reviews have the shape the API server sends (admission.k8s.io/v1, with resource,
requestKind, userInfo, options); the server is the product's own `WebhookServer` with
real TLS certificates from `pathwarden certs`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import socket
import ssl
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from pathwarden.engine import load_policies
from pathwarden.engine.cli.main import main
from pathwarden.engine.policyset import PolicySet
from pathwarden.engine.settings import WebhookSettings
from pathwarden.webhook.config_reload import ConfigFile
from pathwarden.webhook.decision_log import Record, Sink
from pathwarden.webhook.governance import GovernanceHolder
from pathwarden.webhook.server import WebhookServer

RESOURCES = {"Pod": ("", "v1", "pods"), "Deployment": ("apps", "v1", "deployments"),
             "Secret": ("", "v1", "secrets"), "Namespace": ("", "v1", "namespaces"),
             "ConfigMap": ("", "v1", "configmaps")}


def make_certs(out: Path) -> Path:
    assert main(["certs", "--service", "pathwarden-webhook", "--namespace", "pathwarden",
                 "--out", str(out), "--extra-dns", "localhost", "--extra-dns",
                 "127.0.0.1"]) == 0
    return out


def review(obj: dict[str, Any] | None, *, operation: str = "CREATE",
           old: dict[str, Any] | None = None, user: str = "alice@acme.example",
           groups: Sequence[str] = ("system:authenticated",), dry_run: bool = False,
           namespace: str | None = None, kind: str | None = None,
           uid: str | None = None) -> dict[str, Any]:
    source = obj or old or {}
    kind = kind or source["kind"]
    group, version, resource = RESOURCES[kind]
    meta = source.get("metadata") or {}
    namespace = namespace if namespace is not None else meta.get("namespace", "")
    gvk = {"group": group, "version": version, "kind": kind}
    request = {
        "uid": uid or str(uuid.uuid4()),
        "kind": gvk,
        "resource": {"group": group, "version": version, "resource": resource},
        "requestKind": gvk,
        "requestResource": {"group": group, "version": version, "resource": resource},
        "name": meta.get("name", ""),
        "operation": operation,
        "userInfo": {"username": user, "uid": "u-1", "groups": list(groups)},
        "object": obj,
        "oldObject": old,
        "dryRun": dry_run,
        "options": {"apiVersion": "meta.k8s.io/v1", "kind": f"{operation.title()}Options"},
    }
    if namespace:
        request["namespace"] = namespace
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
            "request": request}


def pod(name: str = "web", namespace: str = "shop", *, secure: bool = True,
        labels: dict[str, str] | None = None, **container: Any) -> dict[str, Any]:
    c: dict[str, Any] = {"name": "app", "image": "registry.acme.example/shop/web:1.4.2",
                         "resources": {"requests": {"cpu": "100m", "memory": "128Mi"},
                                       "limits": {"cpu": "1", "memory": "256Mi"}},
                         "livenessProbe": {"httpGet": {"path": "/healthz", "port": 8080}},
                         "readinessProbe": {"httpGet": {"path": "/ready", "port": 8080}}}
    if secure:
        c["securityContext"] = {"allowPrivilegeEscalation": False, "runAsNonRoot": True,
                                "runAsUser": 10001, "capabilities": {"drop": ["ALL"]},
                                "seccompProfile": {"type": "RuntimeDefault"}}
    c.update(container)
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace,
                         "labels": labels or {"app.kubernetes.io/name": name,
                                              "backstage.io/kubernetes-id": name}},
            "spec": {"automountServiceAccountToken": False, "containers": [c]}}


def deployment(template_pod: dict[str, Any], replicas: int = 2) -> dict[str, Any]:
    meta = template_pod["metadata"]
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": meta["name"], "namespace": meta["namespace"],
                         "labels": meta["labels"]},
            "spec": {"replicas": replicas,
                     "selector": {"matchLabels": {"app.kubernetes.io/name": meta["name"]}},
                     "template": {"metadata": {"labels": meta["labels"]},
                                  "spec": template_pod["spec"]}}}


def trusting(certs: Path) -> ssl.SSLContext:
    """A client context that trusts only the test CA (and checks host names)."""
    return ssl.create_default_context(cafile=str(certs / "ca.crt"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MemorySink:
    """A decision-log sink that keeps batches in memory (the store has its own tests)."""

    def __init__(self) -> None:
        self.records: list[Record] = []

    def factory(self) -> Sink:
        return self.records.extend


@dataclasses.dataclass
class Running:
    server: WebhookServer
    client: httpx.Client
    base_url: str

    def admit(self, body: dict[str, Any]) -> dict[str, Any]:
        answer = self.client.post("/validate", json=body)
        assert answer.status_code == 200, answer.text
        data = answer.json()
        assert data["apiVersion"] == "admission.k8s.io/v1"
        assert data["kind"] == "AdmissionReview"
        assert data["response"]["uid"] == body["request"]["uid"]
        return data["response"]

    def metrics(self) -> str:
        return self.client.get("/metrics").text


@contextlib.contextmanager
def running_webhook(
    certs: Path,
    *,
    policy_dirs: Sequence[Path] = (),
    builtin: bool = True,
    sink_factory: Callable[[], Sink] | None = None,
    loader: Callable[[], PolicySet] | None = None,
    governance: GovernanceHolder | None = None,
    governance_paths: Sequence[Path] = (),
    clock: Callable[[], datetime] | None = None,
    config: ConfigFile | None = None,
    **settings: Any,
) -> Iterator[Running]:
    """`config`: a configuration file to watch; its `webhook:` settings are served (and
    `settings` are ignored)."""
    settings.setdefault("reload_interval_seconds", 0.1)
    webhook = config.settings.webhook if config is not None else WebhookSettings(
        host="127.0.0.1", port=free_port(), cert_file=certs / "tls.crt",
        key_file=certs / "tls.key", **settings)
    server = WebhookServer(
        webhook, loader or (lambda: load_policies(policy_dirs, builtin=builtin)),
        list(policy_dirs), sink_factory=sink_factory, governance=governance,
        governance_paths=governance_paths, **({"clock": clock} if clock else {}),
        **({"config": config} if config is not None else {}))
    thread = server.start_in_thread()
    base_url = f"https://localhost:{webhook.port}"
    client = httpx.Client(base_url=base_url, verify=trusting(certs), timeout=30)
    try:
        yield Running(server, client, base_url)
    finally:
        client.close()
        server.stop()
        thread.join(15)


def wait_for(condition: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
    """Poll until true; the timeout only bounds a broken run, it is not a speed claim."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")
