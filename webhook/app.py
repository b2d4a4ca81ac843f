"""The ASGI app: `/validate`, `/healthz`, `/readyz`, `/metrics`.

The request path is kept lean on purpose (raw body, `json`, no response models): the
API server waits on every call, and the evaluation itself is the only work that should
show in the latency. Evaluation runs on a worker thread under the configured deadline;
past it, or on any engine failure, the failure mode answers. A well-formed review never
gets HTTP 500.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime

from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from ..engine.errors import truncate
from ..engine.settings import WebhookSettings
from .config_reload import ConfigStatus
from .decision import Decision, decide, failure_decision
from .decision_log import DecisionLog, record
from .governance import GovernanceHolder, utc_now
from .inventory import InventorySync
from .metrics import WebhookMetrics
from .policies import PolicyHolder
from .review import AdmissionRequest, InvalidReview, parse_review, response
from .scope import exemption

log = logging.getLogger("pathwarden.webhook")
JSON = "application/json"


@dataclass
class WebhookState:
    settings: WebhookSettings
    holder: PolicyHolder
    metrics: WebhookMetrics
    decision_log: DecisionLog | None = None
    executor: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(2, thread_name_prefix="evaluate"))
    ready: bool = True
    governance: GovernanceHolder | None = None
    """Waivers, campaigns and the catalog; None: enforcement from configuration only."""
    clock: Callable[[], datetime] = utc_now
    inventory: InventorySync | None = None
    """The cluster sync for referential policies; None: not configured (held back)."""
    config: ConfigStatus | None = None
    """Configuration file reloads; None: no file is watched."""

    async def answer(self, request: AdmissionRequest) -> Decision:
        # One read: the policies and the `webhook:` settings they are served with are
        # swapped together, so a configuration reload is seen whole or not at all.
        loaded = self.holder.current
        settings = loaded.settings
        reason = exemption(request, settings)
        if reason is not None:
            return Decision(uid=request.uid, allowed=True, exempt=reason)
        governance = self.governance.current if self.governance is not None else None
        future = self.executor.submit(decide, request, loaded, settings, governance,
                                      self.clock())
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future),
                                          settings.deadline_seconds)
        except TimeoutError:
            future.cancel()
            why = f"evaluation deadline of {settings.deadline_seconds:g}s exceeded"
            self.metrics.failure_mode.labels(settings.failure_mode, "deadline").inc()
        except Exception as exc:  # the engine failed: the failure mode decides
            log.exception("evaluation failed for %s %s/%s", request.kind, request.namespace,
                          request.name)
            why = truncate(f"engine error: {type(exc).__name__}: {exc}", 500)
            self.metrics.failure_mode.labels(settings.failure_mode, "engine_error").inc()
        return failure_decision(request, settings, why)


def create_app(state: WebhookState) -> FastAPI:
    app = FastAPI(title="pathwarden admission webhook", docs_url=None, redoc_url=None,
                  openapi_url=None)
    metrics = state.metrics

    @app.post("/validate")
    async def validate(http: Request) -> Response:
        started = time.perf_counter()
        body = await http.body()
        try:
            request = parse_review(body)
        except InvalidReview as exc:
            metrics.requests.labels("unknown", "invalid").inc()
            return Response(json.dumps({"error": f"not an AdmissionReview v1 request: {exc}"}),
                            status_code=400, media_type=JSON)
        try:
            decision = await state.answer(request)
        except Exception as exc:  # last line of defence: still an AdmissionReview answer
            log.exception("unexpected webhook error")
            decision = failure_decision(request, state.holder.current.settings,
                                        truncate(f"{type(exc).__name__}: {exc}", 500))
        elapsed = time.perf_counter() - started
        _observe(state, request, decision, elapsed)
        answer = response(request.uid, decision.allowed, message=decision.message,
                          warnings=decision.warnings)
        return Response(json.dumps(answer), media_type=JSON)

    @app.get("/healthz")
    async def healthz() -> Response:
        return PlainTextResponse("ok")

    @app.get("/readyz")
    async def readyz() -> Response:
        loaded = state.holder.current
        if not state.ready:
            return PlainTextResponse("shutting down", status_code=503)
        # Ready even before the first inventory list: the other policies serve, and the
        # referential ones are held back (named here) rather than judged on nothing.
        sync = state.inventory
        return Response(json.dumps({
            "ready": True, "generation": loaded.generation,
            "policies": len(loaded.policy_set),
            "last_reload_error": state.holder.last_error,
            "referential_policies_held_back": list(loaded.held_back),
            **(state.config.as_json() if state.config is not None else {}),
            "inventory": (sync.status.as_json(sync.settings.resync_seconds,
                                              sync.settings.watch)
                          if sync is not None else None)}), media_type=JSON)

    @app.get("/metrics")
    async def prometheus() -> Response:
        loaded = state.holder.current
        metrics.policies.set(len(loaded.policy_set))
        metrics.generation.set(loaded.generation)
        metrics.held_back.set(len(loaded.held_back))
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return app


def _observe(state: WebhookState, request: AdmissionRequest, decision: Decision,
             elapsed: float) -> None:
    metrics = state.metrics
    outcome = ("exempt" if decision.exempt else "allowed" if decision.allowed else "denied")
    metrics.requests.labels(request.operation, outcome).inc()
    metrics.request_seconds.observe(elapsed)
    if decision.exempt is None and decision.error is None:
        metrics.evaluation_seconds.observe(decision.evaluation_seconds)
    metrics.count_results(decision.results)
    if state.decision_log is not None:
        state.decision_log.put(record(request, decision, elapsed))
