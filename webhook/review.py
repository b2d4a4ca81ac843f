"""AdmissionReview v1 in: check the envelope, and turn the request into a k8s Target.

The API server sends a well-formed review or nothing; anything else reaching the endpoint
is a client bug or a probe, and gets HTTP 400 with the reason instead of a decision.
Secret values are blanked here, before any policy, log or metric can see them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ..engine.k8s import target_id
from ..engine.model import Target, TargetRef

API_VERSION = "admission.k8s.io/v1"
OPERATIONS = ("CREATE", "UPDATE", "DELETE", "CONNECT")
REDACTED = "<redacted by pathwarden>"


class InvalidReview(ValueError):
    """The body is not an AdmissionReview v1 request; the message is the HTTP 400 reason."""


@dataclass(frozen=True, slots=True)
class AdmissionRequest:
    uid: str
    operation: str
    kind: str
    api_group: str
    namespace: str
    name: str
    user: str
    groups: tuple[str, ...]
    dry_run: bool
    review: dict[str, Any]
    """The request as Gatekeeper's `input.review`: object, oldObject, userInfo, kind, ..."""

    @property
    def obj(self) -> dict[str, Any]:
        return self.review.get("object") or {}

    @property
    def labels(self) -> dict[str, str]:
        labels = (self.obj.get("metadata") or {}).get("labels")
        return labels if isinstance(labels, dict) else {}

    @property
    def effective_namespace(self) -> str:
        """The namespace whose exemptions apply; a Namespace object counts as its own."""
        if not self.namespace and self.kind == "Namespace" and self.api_group == "":
            return self.name
        return self.namespace

    def target(self) -> Target:
        obj = self.obj
        ref = TargetRef(
            id=target_id(obj) if obj else f"k8s:{self.namespace or '_cluster'}/{self.name}",
            kind="k8s",
            name=self.name,
            object_kind=self.kind,
            namespace=self.namespace or None,
        )
        return Target(ref=ref, document={"review": self.review})


def parse_review(body: bytes) -> AdmissionRequest:
    try:
        review = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidReview(f"body is not JSON: {exc}") from None
    if not isinstance(review, dict):
        raise InvalidReview("body is not a JSON object")
    if review.get("kind") != "AdmissionReview":
        raise InvalidReview(f"kind is {review.get('kind')!r}, expected 'AdmissionReview'")
    if review.get("apiVersion") != API_VERSION:
        raise InvalidReview(f"apiVersion is {review.get('apiVersion')!r}, expected "
                            f"{API_VERSION!r} (configure admissionReviewVersions: [v1])")
    request = review.get("request")
    if not isinstance(request, dict):
        raise InvalidReview("request is missing or not an object")
    uid = request.get("uid")
    if not isinstance(uid, str) or not uid:
        raise InvalidReview("request.uid is missing")
    operation = request.get("operation")
    if operation not in OPERATIONS:
        raise InvalidReview(f"request.operation is {operation!r}; expected one of "
                            f"{list(OPERATIONS)}")
    kind = request.get("kind")
    if not isinstance(kind, dict) or not isinstance(kind.get("kind"), str):
        raise InvalidReview("request.kind must be an object with group, version and kind")
    for key in ("object", "oldObject"):
        if request.get(key) is not None and not isinstance(request[key], dict):
            raise InvalidReview(f"request.{key} must be an object or null")
    if operation in ("CREATE", "UPDATE") and not request.get("object"):
        raise InvalidReview(f"request.object is missing for {operation}")
    user_info = request.get("userInfo") or {}
    if not isinstance(user_info, dict):
        raise InvalidReview("request.userInfo must be an object")
    return _request(request, uid, operation, kind, user_info)


def _request(
    request: dict[str, Any], uid: str, operation: str, kind: dict[str, Any],
    user_info: dict[str, Any],
) -> AdmissionRequest:
    review = dict(request)
    if operation == "DELETE" and not review.get("object"):
        # Like Gatekeeper: a DELETE is judged on the object being deleted.
        review["object"] = review.get("oldObject")
    if kind.get("kind") == "Secret" and kind.get("group", "") == "":
        review["object"] = redact_secret(review.get("object"))
        review["oldObject"] = redact_secret(review.get("oldObject"))
    review.setdefault("oldObject", None)
    review["userInfo"] = user_info
    obj = review.get("object") or {}
    meta = obj.get("metadata") or {}
    groups = user_info.get("groups") or []
    return AdmissionRequest(
        uid=uid,
        operation=operation,
        kind=kind["kind"],
        api_group=str(kind.get("group") or ""),
        namespace=str(request.get("namespace") or meta.get("namespace") or ""),
        name=str(request.get("name") or meta.get("name") or meta.get("generateName") or ""),
        user=str(user_info.get("username") or ""),
        groups=tuple(str(g) for g in groups) if isinstance(groups, list) else (),
        dry_run=bool(request.get("dryRun")),
        review=review,
    )


def redact_secret(obj: dict[str, Any] | None) -> dict[str, Any] | None:
    """Keys stay (policies may require a key), values never enter pathwarden."""
    if not obj:
        return obj
    redacted = dict(obj)
    for field in ("data", "stringData"):
        values = obj.get(field)
        if isinstance(values, dict):
            redacted[field] = dict.fromkeys(values, REDACTED)
    return redacted


def response(uid: str, allowed: bool, *, message: str | None = None,
             warnings: list[str] | None = None, code: int = 403) -> dict[str, Any]:
    answer: dict[str, Any] = {"uid": uid, "allowed": allowed}
    if not allowed:
        answer["status"] = {"code": code, "reason": "Forbidden" if code == 403 else "",
                            "message": message or "denied"}
    if warnings:
        answer["warnings"] = warnings
    return {"apiVersion": API_VERSION, "kind": "AdmissionReview", "response": answer}
