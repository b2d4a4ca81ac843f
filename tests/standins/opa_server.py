"""A loopback stand-in for an OPA server; there is no `opa` binary on this machine.

It serves, on 127.0.0.1 and an ephemeral port from a background thread, the part of OPA's
REST API that `engine.rego.remote_opa` uses, with OPA's request and response shapes:

    PUT    /v1/policies/{id}    text body, compiled with the other modules: 200 {} or 400
                                {"code": "invalid_parameter", "message", "errors": [{"code",
                                "message", "location": {"file": id, "row", "col"}}]}
    GET    /v1/policies[/{id}]  {"result": …}: id, raw, ast (package path and rule heads only)
    DELETE /v1/policies/{id}    200 {} or 404 resource_not_found
    PUT    /v1/data/{path}      JSON body: 204
    DELETE /v1/data/{path}      204 or 404 resource_not_found
    POST   /v1/data/{path}      {"input": …} -> 200 {"result": …}, 200 {} when undefined,
                                500 {"code": "internal_error", …} when evaluation fails
    GET    /health              200 {}

It evaluates with a real Rego evaluator: rego-cpp through regopy, rebuilt whenever modules
or data change. That is the embedded backend's evaluator too, so agreement between the two
backends here proves the HTTP path, not that OPA's Go evaluator would agree (rego-cpp's
`sprintf("%q")`, for one, differs). Compile errors are rego-cpp's parse errors and calls to
unknown functions; other type errors surface at evaluation, where OPA reports them at PUT.

`token` makes it demand `Authorization: Bearer <token>`; `fail = "500"` answers every
request with a plain-text 500 and `fail = "close"` drops the connection unanswered.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import regopy
from pathwarden.engine.errors import Problem
from pathwarden.engine.rego.embedded import compile_problems, unknown_function_problems
from pathwarden.engine.rego.results import RegoModule
from pathwarden.engine.rego.source import read_source
from regopy import rego_shared as _c

Answer = tuple[int, dict[str, Any] | None]
_COLUMN = re.compile(r" \(column (\d+)\)$")
_ERRORMSG = re.compile(r"\(errormsg (\d+):")
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class OpaStandIn:
    def __init__(self, token: str | None = None):
        self.token = token
        self.fail: str | None = None
        self.requests: list[tuple[str, str]] = []  # (method, path) of every request served
        self.modules: dict[str, str] = {}
        self.data: dict[str, Any] = {}
        self._interp: regopy.Interpreter | None = None
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.standin = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._stopped = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def start(self) -> OpaStandIn:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the port: later connections are refused."""
        if not self._stopped:
            self._stopped = True
            self._httpd.shutdown()
            self._httpd.server_close()

    def handle(self, method: str, path: str, body: bytes) -> Answer:
        route = path.split("?")[0].rstrip("/")
        with self._lock:
            if route == "/health" and method == "GET":
                return 200, {}
            if route.startswith("/v1/policies"):
                return self._policies(method, route.removeprefix("/v1/policies").lstrip("/"), body)
            if route.startswith("/v1/data"):
                return self._data(method, route.removeprefix("/v1/data").strip("/"), body)
        return 404, {"code": "resource_not_found", "message": f"{method} {path} not served"}

    def _policies(self, method: str, pid: str, body: bytes) -> Answer:
        if method == "GET" and not pid:
            return 200, {"result": [_policy(i, text) for i, text in self.modules.items()]}
        if method == "GET" and pid in self.modules:
            return 200, {"result": _policy(pid, self.modules[pid])}
        if method == "PUT" and pid:
            candidate = {**self.modules, pid: body.decode("utf-8")}
            interp, errors = _compile(candidate, self.data)
            if errors:
                return 400, {"code": "invalid_parameter",
                             "message": "error(s) occurred while compiling module(s)",
                             "errors": errors}
            self.modules, self._interp = candidate, interp
            return 200, {}
        if method == "DELETE" and pid in self.modules:
            del self.modules[pid]
            self._interp = None
            return 200, {}
        return 404, {"code": "resource_not_found",
                     "message": f"storage_not_found_error: policy id {pid!r}"}

    def _data(self, method: str, path: str, body: bytes) -> Answer:
        keys = [k for k in path.split("/") if k]
        if method == "POST":
            request = json.loads(body or b"{}")
            return self._query(keys, request.get("input"), "input" in request)
        if method == "PUT":
            value = json.loads(body)
            if not keys:
                self.data = value
            else:
                parent = self.data
                for key in keys[:-1]:
                    parent = parent.setdefault(key, {})
                parent[keys[-1]] = value
            self._interp = None
            return 204, None
        if method == "DELETE" and keys:
            parent = _lookup(self.data, keys[:-1])
            if isinstance(parent, dict) and keys[-1] in parent:
                del parent[keys[-1]]
                self._interp = None
                return 204, None
        return 404, {"code": "resource_not_found",
                     "message": f"storage_not_found_error: /{path}: document does not exist"}

    def _query(self, keys: list[str], document: Any, has_input: bool) -> Answer:
        interp = self._interp if has_input else None  # rego-cpp cannot unset an input
        if interp is None:
            interp, _ = _compile(self.modules, self.data)
            self._interp = interp if has_input else self._interp
        if interp is None:
            return 500, {"code": "internal_error", "message": "modules do not compile"}
        if has_input:
            interp.set_input(document)
        query = "data" + "".join(f".{k}" if _IDENT.match(k) else f"[{json.dumps(k)}]"
                                 for k in keys)
        out = _c.rego_query(interp._impl, query)
        try:
            ok, text = _c.rego_output_ok(out), _c.rego_output_string(out)
        finally:
            _c.rego_free_output(out)
        if not ok or text.startswith("(error"):
            found = _ERRORMSG.search(text)
            message = (text[found.end():found.end() + int(found.group(1))] if found
                       else "evaluation error (rego-cpp gives no detail)")
            return 500, {"code": "internal_error", "message": message}
        if text == "undefined":
            return 200, {}
        return 200, {"result": json.loads(text)["expressions"][0]}


class _Handler(BaseHTTPRequestHandler):
    server: ThreadingHTTPServer

    def do_GET(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def _serve(self) -> None:
        standin: OpaStandIn = self.server.standin  # type: ignore[attr-defined]
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        standin.requests.append((self.command, self.path))
        if standin.fail == "close":
            self.close_connection = True
            return
        if standin.fail == "500":
            self._send(500, b"stand-in told to fail", "text/plain")
            return
        if standin.token and self.headers.get("Authorization") != f"Bearer {standin.token}":
            status, answer = 401, {"code": "unauthorized",
                                   "message": "authentication failed"}
        else:
            status, answer = standin.handle(self.command, self.path, body)
        payload = b"" if answer is None else json.dumps(answer).encode()
        self._send(status, payload, "application/json")

    def _send(self, status: int, payload: bytes, content_type: str) -> None:
        self.send_response(status)
        if status != 204:
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if status != 204:
            self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def _compile(
    modules: dict[str, str], data: dict[str, Any]
) -> tuple[regopy.Interpreter | None, list[dict[str, Any]]]:
    interp = regopy.Interpreter()
    interp.log_level = regopy.LogLevel.NONE
    errors = []
    for pid, text in modules.items():
        try:
            interp.add_module(pid, text)
        except regopy.RegoError as exc:
            errors += [_opa_error("rego_parse_error", p)
                       for p in compile_problems(str(exc), modules, pid)]
    if not errors:  # rego-cpp lets these through until evaluation; OPA refuses them here
        parsed = [_module(pid, text) for pid, text in modules.items()]
        errors += [_opa_error("rego_type_error", p)
                   for p in unknown_function_problems(parsed, interp.is_builtin)]
    if errors:
        return None, errors
    if data:
        interp.add_data_json(json.dumps(data))
    return interp, []


def _opa_error(code: str, problem: Problem) -> dict[str, Any]:
    column = _COLUMN.search(problem.message)
    location = problem.location
    return {
        "code": code,
        "message": _COLUMN.sub("", problem.message),
        "location": {"file": location.file if location else "",
                     "row": (location.line if location else None) or 0,
                     "col": int(column.group(1)) if column else 0},
    }


def _module(pid: str, text: str) -> RegoModule:
    try:
        source = read_source(text)
    except ValueError:
        return RegoModule(pid, text, "")
    return RegoModule(pid, text, source.package or "", source=source)


def _policy(pid: str, text: str) -> dict[str, Any]:
    try:
        source = read_source(text)
        package, rules = source.package or "", sorted(source.defined)
    except ValueError:
        package, rules = "", []
    path = [{"type": "var", "value": "data"}]
    path += [{"type": "string", "value": p} for p in package.split(".") if p]
    return {"id": pid, "raw": text, "ast": {
        "package": {"path": path}, "rules": [{"head": {"name": r}} for r in rules]}}


def _lookup(data: Any, keys: list[str]) -> Any:
    for key in keys:
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return data


@pytest.fixture
def start_opa_server() -> Iterator[Callable[..., OpaStandIn]]:
    """`start_opa_server(token=None)` starts another stand-in; all are stopped afterwards."""
    started: list[OpaStandIn] = []

    def start(token: str | None = None) -> OpaStandIn:
        started.append(OpaStandIn(token).start())
        return started[-1]

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def opa_server(start_opa_server: Callable[..., OpaStandIn]) -> OpaStandIn:
    """A fresh stand-in OPA for one test, stopped afterwards."""
    return start_opa_server()

