"""Campaign notifications on the wire: the Slack rendering, and one POST with retries.

`scorecards.notify` decides *what* is due and keeps the outbox; this module only turns a
stored event document into a request body and delivers it. It uses the standard library
(`urllib.request`): httpx is only a test dependency, and one small JSON POST needs no more.

The webhook URL is a secret (a Slack incoming-webhook URL lets anyone post to the
channel), so nothing here puts it in a message, a log line or a stored error: only its
origin (scheme, host and port) is ever shown.
"""

from __future__ import annotations

import http.client
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ..engine.catalog.refs import ref_name
from ..engine.errors import truncate

USER_AGENT = "pathwarden-notifications/1"
RETRYABLE = frozenset({408, 429})
"""Besides 5xx: a timeout or throttling on the receiver's side heals by waiting."""
MAX_RETRY_AFTER_SECONDS = 60.0
"""A receiver's Retry-After is honoured up to this, so one event cannot stall a run."""
SLACK_SECTION_LIMIT = 3000
SLACK_HEADER_LIMIT = 150
SLACK_TEXT_LIMIT = 3000


# --- where a URL points, safe to show -------------------------------------------------------

def origin(url: str | None) -> str:
    """`https://hooks.slack.com` for `https://hooks.slack.com/services/T0/B0/secret`: the
    path, query and any user:password are secrets and never shown."""
    if not url:
        return "(no URL)"
    try:
        parts = urlsplit(url)
        host = parts.hostname or "?"
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "(an unusable URL)"
    return f"{parts.scheme}://{host}{port}"


# --- payload formats ------------------------------------------------------------------------

def render(document: Mapping[str, Any], fmt: str) -> dict[str, Any]:
    """The body to POST: pathwarden's own document (`json`), or a Slack message."""
    return dict(document) if fmt == "json" else slack_message(document)


def slack_message(doc: Mapping[str, Any]) -> dict[str, Any]:
    """An incoming-webhook message: `text` (the notification fallback) plus Block Kit
    `blocks` (header, mrkdwn sections, context), each within Slack's length limits, since
    Slack refuses the whole message when one block is too long."""
    c = doc["campaign"]
    links = doc.get("links") or {}
    title = _link(links.get("campaign"), c["title"])
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "emoji": False,
                                    "text": _cut(heading(doc, SLACK_HEADER_LIMIT),
                                                        SLACK_HEADER_LIMIT)}},
        {"type": "section", "text": {"type": "mrkdwn", "text": _cut(
            f"*{_esc(ref_name(doc['team']))}* has {_services(len(doc['failing_services']))}"
            f" failing campaign *{title}*. {_esc(when_text(doc))}\n"
            f"*Goal:* {_esc(c['goal'])}", SLACK_SECTION_LIMIT)}},
        {"type": "section", "text": {"type": "mrkdwn", "text": _lines(
            "*Failing services*",
            [f"• {_link(s.get('url'), s['name'])}: "
             + ", ".join(f"`{_esc(p)}`" for p in s["failing_policies"])
             for s in doc["failing_services"]])}},
    ]
    rules = [f"• `{_esc(p['id'])}` {_esc(p.get('title') or '')}"
             + (f" — {_esc(p['remediation'])}" if p.get("remediation") else "")
             for p in doc.get("failing_policies") or ()]
    if rules:
        blocks.append({"type": "section", "text": {"type": "mrkdwn",
                                                   "text": _lines("*What to fix*", rules)}})
    context = [f"Campaign owner: {_esc(c['owner'])}"]
    if links.get("team"):
        context.append(_link(links["team"], "team page"))
    context.append("sent by pathwarden")
    blocks.append({"type": "context", "elements": [
        {"type": "mrkdwn", "text": _cut(" · ".join(context), SLACK_TEXT_LIMIT)}]})
    return {"text": _cut(_esc(summary(doc)), SLACK_TEXT_LIMIT), "blocks": blocks}


def heading(doc: Mapping[str, Any], limit: int | None = None) -> str:
    """`<title>: now warn` / `<title>: 7 days to the deadline`; to fit `limit`, the title
    is shortened, never the news."""
    c = doc["campaign"]
    if doc["event"] == "campaign.deadline":
        news = f": {_days(doc['days_left'])} to the deadline"
    else:
        news = f": now {c['phase']['enforcement']}"
    title = c["title"] if limit is None else _cut(c["title"], max(1, limit - len(news)))
    return title + news


def when_text(doc: Mapping[str, Any]) -> str:
    """What the phase means for the team and when it gets stricter, in one sentence."""
    c = doc["campaign"]
    phase, days = c["phase"], doc["days_left"]
    said = {"audit": "are audited (reported, not enforced)",
            "warn": "warn at admission", "deny": "deny at admission"}
    enforcement = phase["enforcement"]
    text = f"Since {phase['from']} its rules {said.get(enforcement, enforcement)}."
    left = f" (in {_days(days)})" if days > 0 else ""
    if enforcement != "deny" and c.get("denies_from") == c["deadline"]:
        text += f" They deny from the deadline, {c['deadline']}{left}."
    elif enforcement != "deny" and c.get("denies_from"):
        text += f" They deny from {c['denies_from']}; the deadline is {c['deadline']}{left}."
    elif days > 0:
        text += f" The deadline is {c['deadline']}{left}."
    return text


def summary(doc: Mapping[str, Any]) -> str:
    """One plain line: the Slack fallback text, and what `pathwarden notify` prints."""
    return (f"{heading(doc)} — {ref_name(doc['team'])}: "
            f"{_services(len(doc['failing_services']))} failing")




def _services(n: int) -> str:
    return f"{n} service" + ("" if n == 1 else "s")


def _days(n: int) -> str:
    return f"{n} day" + ("" if n == 1 else "s")


def _esc(text: str) -> str:
    """Slack reads `<...>` as links and mentions (`<!channel>` pings everyone): names from
    the catalog and campaign files are escaped so they can only ever be text."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _link(url: str | None, label: str) -> str:
    label = _esc(label).replace("|", "¦")
    return f"<{url}|{label}>" if url else label


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _lines(title: str, lines: list[str], limit: int = SLACK_SECTION_LIMIT) -> str:
    """As many whole lines as fit, then how many were left out."""
    out, size = [title], len(title)
    for i, line in enumerate(lines):
        more = f"…and {len(lines) - i} more (the JSON format lists all)"
        if size + 1 + len(line) + 1 + len(more) > limit:
            out.append(more)
            break
        out.append(line)
        size += 1 + len(line)
    return "\n".join(out)


# --- one POST, retried ----------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Attempt:
    ok: bool
    retryable: bool
    error: str | None = None
    retry_after: float | None = None


@dataclass(frozen=True, slots=True)
class Delivery:
    ok: bool
    attempts: int
    retryable: bool
    """False when the receiver refused for good (4xx, a redirect): a bad URL won't heal."""
    error: str | None = None


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """urllib would turn a redirected POST into a GET without the body; a moved webhook
    must be reconfigured instead, so a redirect is an error that names its status."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def post(url: str, body: bytes, *, headers: Mapping[str, str], timeout: float) -> Attempt:
    """One POST. Only `http(s)://` URLs are used (urllib would also read `file://`)."""
    where = origin(url)
    if urlsplit(url).scheme not in ("http", "https"):
        return Attempt(False, False, f"{where} is not an http(s) URL")
    try:
        request = urllib.request.Request(url, data=body, method="POST", headers={
            "Content-Type": "application/json", "User-Agent": USER_AGENT, **headers})
        with _OPENER.open(request, timeout=timeout) as answer:
            answer.read(1024)
            return Attempt(True, False)
    except urllib.error.HTTPError as exc:
        status = exc.code
        said = _body(exc)
        retryable = status >= 500 or status in RETRYABLE
        error = f"HTTP {status} from {where}" + (f": {said}" if said else "")
        return Attempt(False, retryable, error, _retry_after(exc.headers))
    except ValueError as exc:  # urllib's own messages quote the whole URL: never shown
        return Attempt(False, False, f"the URL for {where} cannot be used "
                                     f"({type(exc).__name__})")
    except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
        reason = getattr(exc, "reason", None) or exc
        return Attempt(False, True, f"cannot reach {where}: "
                                    f"{truncate(str(reason), 200) or type(exc).__name__}")


def deliver(url: str, body: bytes, *, headers: Mapping[str, str], timeout: float,
            retries: int, backoff_seconds: float,
            sleep: Callable[[float], None] = time.sleep) -> Delivery:
    """Up to `1 + retries` POSTs, waiting `backoff_seconds * 2**n` before retry n (or the
    receiver's Retry-After, up to a minute); stops at the first answer that cannot heal."""
    attempt = Attempt(False, True, "not sent")
    for n in range(retries + 1):
        if n:
            delay = backoff_seconds * 2 ** (n - 1)
            if attempt.retry_after is not None:
                delay = max(delay, min(attempt.retry_after, MAX_RETRY_AFTER_SECONDS))
            sleep(delay)
        attempt = post(url, body, headers=headers, timeout=timeout)
        if attempt.ok:
            return Delivery(True, n + 1, False)
        if not attempt.retryable:
            return Delivery(False, n + 1, False, attempt.error)
    return Delivery(False, retries + 1, True, attempt.error)


def encode(body: Mapping[str, Any]) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _body(exc: urllib.error.HTTPError) -> str:
    try:
        raw = exc.read(300)
    except (OSError, http.client.HTTPException):
        return ""
    return truncate(" ".join(raw.decode("utf-8", "replace").split()), 200)


def _retry_after(headers: Any) -> float | None:
    value = headers.get("Retry-After") if headers is not None else None
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None  # an HTTP date: the backoff applies
