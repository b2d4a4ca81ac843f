"""Prometheus metrics of the webhook, in a registry of its own (one per app instance).

Buckets start at 100 µs: an admission decision takes about a millisecond here, and a
histogram whose first bucket is 5 ms could not tell a healthy webhook from a slow one.
"""

from __future__ import annotations

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
)

# `*_created` series double the exposition for nothing Prometheus needs here.
disable_created_metrics()

LATENCY_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                   0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class WebhookMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "pathwarden_webhook_requests", "Admission requests by operation and outcome "
            "(allowed, denied, exempt, invalid).", ["operation", "outcome"], registry=r)
        self.decisions = Counter(
            "pathwarden_webhook_policy_decisions", "Policy results at admission "
            "(pass, deny, warn, audit, error, skip).", ["policy", "result"], registry=r)
        self.failure_mode = Counter(
            "pathwarden_webhook_failure_mode_answers", "Requests answered by the failure "
            "mode because no decision could be made.", ["mode", "reason"], registry=r)
        self.evaluation_seconds = Histogram(
            "pathwarden_webhook_evaluation_seconds", "Time to evaluate the policies for "
            "one request.", buckets=LATENCY_BUCKETS, registry=r)
        self.request_seconds = Histogram(
            "pathwarden_webhook_request_seconds", "Time from request body to response.",
            buckets=LATENCY_BUCKETS, registry=r)
        self.reloads = Counter(
            "pathwarden_webhook_policy_reloads", "Policy set reloads by result "
            "(success, failure).", ["result"], registry=r)
        self.config_reloads = Counter(
            "pathwarden_webhook_config_reloads", "Configuration file reloads by result "
            "(success; failure: the file did not load, the old settings keep serving).",
            ["result"], registry=r)
        self.cert_reloads = Counter(
            "pathwarden_webhook_certificate_reloads", "Serving certificate reloads by "
            "result.", ["result"], registry=r)
        self.policies = Gauge(
            "pathwarden_webhook_policies", "Policies in the serving set.", registry=r)
        self.generation = Gauge(
            "pathwarden_webhook_policy_generation", "Generation of the serving policy set "
            "(1 at start, +1 per successful reload).", registry=r)
        self.log_dropped = Counter(
            "pathwarden_webhook_decision_log_dropped", "Decision log entries dropped "
            "(queue full or store unavailable).", ["reason"], registry=r)
        self.log_written = Counter(
            "pathwarden_webhook_decision_log_written", "Decision log entries stored.",
            registry=r)
        self.inventory_syncs = Counter(
            "pathwarden_webhook_inventory_syncs", "Lists of the cluster for data.inventory "
            "by result (success; failure: unreachable, refused or incomplete, the last "
            "good inventory keeps serving).", ["result"], registry=r)
        self.inventory_objects = Gauge(
            "pathwarden_webhook_inventory_objects", "Objects in the inventory referential "
            "policies judge against (0 until the first successful list).", registry=r)
        self.inventory_synced_at = Gauge(
            "pathwarden_webhook_inventory_last_success_timestamp_seconds", "Unix time of "
            "the last successful list (0: never; alert on its age).", registry=r)
        self.inventory_sync_seconds = Gauge(
            "pathwarden_webhook_inventory_sync_duration_seconds", "How long the last list "
            "(and, if it changed, the swap of the inventory into the policy set) took, "
            "successful or not.", registry=r)
        self.held_back = Gauge(
            "pathwarden_webhook_referential_policies_held_back", "Referential policies "
            "loaded but not evaluated at admission for want of an inventory.", registry=r)
        self._decision_children: dict[tuple[str, str], Counter] = {}

    def count_results(self, results: dict[str, str]) -> None:
        children = self._decision_children
        for key in results.items():
            child = children.get(key)
            if child is None:
                child = children[key] = self.decisions.labels(*key)
            child.inc()
