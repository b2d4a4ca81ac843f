"""A Rego backend that hands the packages to a running OPA server over its REST API.

On construction every module is pushed with `PUT /v1/policies/pathwarden/<file path>`
(the `pathwarden/` id prefix keeps an organisation's other policies untouched) and the
inventory is put at `data.inventory`, where referential policies read it. Each package is
then evaluated with one `POST /v1/data/<package path>` per module and target; the package
document holds `deny` and `warn`.

Errors: OPA's compile errors (400 with `errors[].location`) become `PolicyLoadError`
problems naming the file and line; OPA's evaluation errors become that package's
`RuleResult.error`; anything that means the server cannot be used (unreachable, TLS,
timeout, 401, a body that is not OPA's) is a `BackendError` naming the URL. Every
exception of `requests` and `opa_client` is translated in `_translate`, from one table.

Server state is shared: modules are replaced per file, a stale module of this namespace
that declares one of the pushed packages is deleted, and `data.inventory` is the one
inventory of the server (re-pushed when another backend of this process changed it).
Two processes with different inventories must not share one OPA.
"""

from __future__ import annotations

import inspect
import itertools
import json
import re
import threading
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

import requests
from opa_client import errors as opa_errors
from opa_client.opa import OpaClient
from urllib3.exceptions import ReadTimeoutError

from ..errors import BackendError, ConfigError, PolicyLoadError, Problem, truncate
from ..model import Location
from .results import RULES, RegoModule, RuleResult, rule_value

if TYPE_CHECKING:
    from ..policyset import BackendFactory

NAMESPACE = "pathwarden/"
DATA_KEYS = ("inventory",)  # the base documents pathwarden owns on the server
_T = TypeVar("_T")
_ID_UNSAFE = re.compile(r"[^A-Za-z0-9._/-]")
_ERRNO = re.compile(r"\[Errno -?\d+\][^'\"()]*|Connection aborted|RemoteDisconnected|timed out")
# opa-python-client >= 3 silently rewrites v0 rule heads and retries unless told not to.
_NO_V0_UPGRADE = (
    {"rego_compat": False}
    if "rego_compat" in inspect.signature(OpaClient.update_policy_from_string).parameters
    else {}
)
# opa_client's own errors: OPA answered, with its `code` (as `expression`) and `message`.
_OPA_ANSWERS = (
    opa_errors.RegoParseError, opa_errors.PolicyNotFoundError, opa_errors.DeletePolicyError,
    opa_errors.DeleteDataError,
)
# The one table: exception type (most specific first) -> what it means for the user.
_MESSAGES: tuple[tuple[type[Exception] | tuple[type[Exception], ...], str], ...] = (
    (requests.exceptions.SSLError, "TLS with OPA at {url} failed while {doing}: {detail}"),
    (requests.exceptions.ConnectTimeout,
     "OPA at {url} accepted no connection within {timeout}s while {doing}"),
    (requests.exceptions.Timeout, "OPA at {url} did not answer within {timeout}s while {doing}"),
    (requests.exceptions.ConnectionError, "cannot reach OPA at {url} while {doing}: {detail}"),
    (requests.exceptions.JSONDecodeError,
     "OPA at {url} answered with a body that is not JSON while {doing}"),
    (requests.exceptions.HTTPError, "OPA at {url} answered {detail} while {doing}"),
    (requests.exceptions.RequestException,
     "request to OPA at {url} failed while {doing}: {detail}"),
    (_OPA_ANSWERS, "OPA at {url} refused {doing}: {detail}"),
)
_TRANSLATED = (requests.exceptions.RequestException, *_OPA_ANSWERS)
_data_owner: dict[str, int] = {}  # server URL -> generation of the backend whose data it holds
_data_lock = threading.Lock()
_generations = itertools.count(1)


class OpaRefused(BackendError):
    """OPA answered with its error body; `errors` lists compile errors with locations."""

    def __init__(self, text: str, code: str, message: str, errors: list[Any]):
        super().__init__(text)
        self.code, self.message, self.errors = code, message, errors


class RemoteOpa:
    """The packages of one policy set, loaded into the OPA server at `url`."""

    def __init__(
        self,
        modules: list[RegoModule],
        data: dict[str, Any] | None = None,
        *,
        url: str,
        token: str | None = None,
        timeout: float = 5.0,
        retries: int = 2,
    ):
        https, host, port = parse_url(url)
        self.url = f"{'https' if https else 'http'}://{host}:{port}"
        self._timeout = timeout
        self._client = OpaClient(host=host, port=port, ssl=https, token=token,
                                 timeout=timeout, retries=retries)
        self._ids = {m.name: policy_id(m.name) for m in modules}
        self._data = data
        self._generation = next(_generations)
        if modules:  # no Rego, no server needed
            self._remove_stale(modules)
            self._push_modules(modules)
            self._sync_data()

    def evaluate(self, packages: list[RegoModule], document: dict[str, Any]) -> list[RuleResult]:
        if not packages:
            return []
        self._sync_data()
        plain = json.loads(json.dumps(document, default=str))  # YAML dates and the like
        return [self._evaluate_one(m, plain) for m in packages]

    def close(self) -> None:
        self._client.close_connection()

    def _evaluate_one(self, module: RegoModule, document: dict[str, Any]) -> RuleResult:
        query = partial(self._client.query_rule, document, module.package)
        try:
            answer = self._call("evaluating policies", query)
        except OpaRefused as exc:  # OPA answered, but not with a result: this policy's error
            return RuleResult(error=f"{module.package}: {exc}")
        if not isinstance(answer, dict):
            raise BackendError(f"OPA at {self.url} answered {truncate(str(answer), 100)} "
                               f"for package {module.package}, not an object")
        package = answer.get("result")  # no `result`: the package is undefined, so empty
        if package is None:
            package = {}
        if not isinstance(package, dict):
            return RuleResult(error=f"{module.package}: the package document is a "
                              f"{type(package).__name__}, not an object")
        result = RuleResult()
        for rule in RULES:
            if rule in module.rules:
                values, error = rule_value(rule, package.get(rule))
                if error:
                    return RuleResult(error=f"{module.package}.{rule}: {error}")
                result.values[rule] = values or []
        return result

    def _remove_stale(self, modules: list[RegoModule]) -> None:
        """Delete our namespace's modules (old paths of moved files) that declare our packages."""
        info = self._call("listing policies", self._client.get_policies_info)
        ours, packages = set(self._ids.values()), {m.entry_path for m in modules}
        prefix = f"{self._client.root_url}/data/"
        for pid, entry in info.items():
            package = str((entry or {}).get("path", "")).removeprefix(prefix)
            if pid.startswith(NAMESPACE) and pid not in ours and package in packages:
                self._call(f"removing stale policy {pid}",
                           partial(self._client.delete_policy, pid))

    def _push_modules(self, modules: list[RegoModule]) -> None:
        """PUT each module; OPA compiles against what it holds, so retry refused ones while
        others get in (a library module may come after its users)."""
        pending = list(modules)
        refused: list[tuple[RegoModule, OpaRefused]] = []
        while pending:
            refused = []
            for module in pending:
                put = partial(self._client.update_policy_from_string, module.text,
                              self._ids[module.name], **_NO_V0_UPGRADE)
                try:
                    self._call(f"loading policy {module.name}", put)
                except OpaRefused as exc:
                    if not exc.errors:  # not a compile error: unauthorised, server trouble
                        raise
                    refused.append((module, exc))
            if len(refused) in (0, len(pending)):
                break
            pending = [m for m, _ in refused]
        if refused:
            raise PolicyLoadError([p for m, exc in refused for p in self._problems(m, exc)])

    def _problems(self, module: RegoModule, refused: OpaRefused) -> list[Problem]:
        names = {pid: name for name, pid in self._ids.items()}
        problems = []
        for error in refused.errors:
            error = error if isinstance(error, dict) else {"message": str(error)}
            where = error.get("location") or {}
            file = str(where.get("file") or self._ids[module.name])
            row = where.get("row")
            line = row if isinstance(row, int) and row > 0 else None
            message = truncate(f"{error.get('code', refused.code)}: {error.get('message', '')}")
            if where.get("col"):
                message += f" (column {where['col']})"
            location = Location(names.get(file, f"{file} (a module on the OPA server)"), line)
            problems.append(Problem("compile", message, location))
        return problems

    def _sync_data(self) -> None:
        """Make the server's `data.inventory` this backend's (absent when it has none)."""
        with _data_lock:
            if _data_owner.get(self.url) == self._generation:
                return
            _data_owner.pop(self.url, None)
            data = self._data or {}
            for key in sorted({*DATA_KEYS, *data}):
                if key in data:
                    self._call(f"putting data.{key}",
                               partial(self._client.update_or_create_data, data[key], key))
                    continue
                try:
                    self._call(f"deleting data.{key}", partial(self._client.delete_data, key))
                except OpaRefused as exc:
                    if exc.code != "resource_not_found":
                        raise
            _data_owner[self.url] = self._generation

    def _call(self, doing: str, call: Callable[[], _T]) -> _T:
        try:
            return call()
        except _TRANSLATED as exc:
            raise self._translate(exc, doing) from exc

    def _translate(self, exc: Exception, doing: str) -> BackendError:
        """The one place where `requests` and `opa_client` exceptions get their meaning."""
        body = _opa_body(exc)
        if body is not None:
            code, message, errors = body
            text = f"OPA at {self.url} answered {code} while {doing}: {message}"
            return OpaRefused(truncate(text), code, message, errors)
        kind = _kind(exc)
        template = next(text for types, text in _MESSAGES if issubclass(kind, types))
        return BackendError(template.format(url=self.url, doing=doing, timeout=self._timeout,
                                            detail=_detail(exc)))


def _kind(exc: Exception) -> type[Exception]:
    """The type to look up: urllib3's retries turn a read timeout into a ConnectionError."""
    reason = getattr(exc.args[0] if exc.args else None, "reason", None)
    retried_read = isinstance(reason, ReadTimeoutError)
    if isinstance(exc, requests.exceptions.ConnectionError) and retried_read:
        return requests.exceptions.ReadTimeout
    return type(exc)


def _opa_body(exc: Exception) -> tuple[str, str, list[Any]] | None:
    """OPA's error body `{"code", "message", "errors"}`, if the exception carries one."""
    if isinstance(exc, _OPA_ANSWERS):
        errors = getattr(exc, "errors", None) or []
        return str(exc.expression), truncate(str(exc.message)), list(errors)
    if not isinstance(exc, requests.exceptions.HTTPError) or exc.response is None:
        return None
    try:
        body = exc.response.json()
    except ValueError:
        return None
    if not isinstance(body, dict) or "code" not in body:
        return None
    return str(body["code"]), truncate(str(body.get("message", ""))), body.get("errors") or []


def _detail(exc: Exception) -> str:
    if isinstance(exc, requests.exceptions.HTTPError) and exc.response is not None:
        response = exc.response
        return truncate(f"HTTP {response.status_code} {response.reason}: {response.text}")
    if isinstance(exc, requests.exceptions.ConnectionError):
        found = _ERRNO.search(str(exc))  # requests nests urllib3's reason in a long repr
        if found:
            return found.group(0).strip(" :")
    return truncate(str(exc), 200)


def policy_id(name: str) -> str:
    """`pathwarden/` + the module's path, with only characters safe in a URL path."""
    parts = [p for p in _ID_UNSAFE.sub("_", name).split("/") if p]
    return NAMESPACE + "/".join("_" if p in (".", "..") else p for p in parts)


def parse_url(url: str) -> tuple[bool, str, int]:
    """`http(s)://host:port` -> (https, host, port); the port defaults to the scheme's."""
    parts = urlsplit(url.strip())
    usage = f"OPA URL {url!r}: use http://host:port or https://host:port"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(usage)
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ConfigError(f"{usage}; OPA serves its API at /v1 of the root, give no path")
    if parts.username or parts.password:
        raise ConfigError(f"{usage}; pass credentials as the token, not in the URL")
    try:
        port = parts.port
    except ValueError as exc:
        raise ConfigError(f"{usage}: {exc}") from None
    https = parts.scheme == "https"
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return https, host, port or (443 if https else 80)


def remote_opa_backend(
    url: str, token: str | None = None, timeout: float = 5.0
) -> BackendFactory:
    """A backend factory for `load_policies(..., backend=...)` that compiles in OPA at `url`."""
    parse_url(url)  # a malformed URL is a configuration error now, not at first use

    def factory(modules: list[RegoModule], data: dict[str, Any] | None) -> RemoteOpa:
        return RemoteOpa(modules, data, url=url, token=token, timeout=timeout)

    return factory
