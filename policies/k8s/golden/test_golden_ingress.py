"""Tests of the Rego Ingress TLS policy, through the engine (embedded rego-cpp).

pytest rather than Rego `test_` rules: rego-cpp 1.5.2 aborts on `with input as …` when
the policy under test calls sprintf on local variables.
"""

from __future__ import annotations

import pytest
from pathwarden.engine.testing import judge


def ingress(rules: list[dict], tls: list[dict] | None = None) -> dict:
    spec: dict = {"rules": rules}
    if tls is not None:
        spec["tls"] = tls
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": "shop", "namespace": "shop"}, "spec": spec}


@pytest.mark.parametrize(("hosts", "tls_hosts"), [
    (["shop.acme.example"], ["shop.acme.example"]),
    (["shop.acme.example", "api.acme.example"], ["*.acme.example"]),
    (["shop.acme.example"], ["other.acme.example", "shop.acme.example"]),
])
def test_hosts_covered_by_tls_pass(hosts, tls_hosts):
    manifest = ingress([{"host": h} for h in hosts],
                       [{"hosts": tls_hosts, "secretName": "shop-tls"}])
    assert judge("golden-ingress-tls", manifest).status == "pass"


def test_each_uncovered_host_is_named_with_its_path():
    manifest = ingress([{"host": "shop.acme.example"}, {"host": "a.b.acme.example"}],
                       [{"hosts": ["*.acme.example"], "secretName": "wild"}])
    finding = judge("golden-ingress-tls", manifest)
    assert finding.status == "fail"
    assert [(v.msg, v.path) for v in finding.violations] == [
        ("host a.b.acme.example is served without TLS", "spec.rules[1].host")]


def test_an_ingress_without_tls_fails_for_hosts_and_for_the_default_rule():
    finding = judge("golden-ingress-tls", ingress([{"host": "shop.acme.example"}, {}]))
    assert sorted(v.msg for v in finding.violations) == [
        "host shop.acme.example is served without TLS",
        "the Ingress serves every host without TLS",
    ]
