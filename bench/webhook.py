"""Benchmark: the admission webhook over HTTPS, against the same endpoint without policies.

Starts two `pathwarden webhook` processes: one with the full built-in Kubernetes pack and
one with no policies at all (same code path, same TLS, same parsing and decision log;
it answers "allowed" without evaluating: the ceiling on this machine). This process is
the client: keep-alive HTTPS connections, varied Pod and Deployment AdmissionReviews.

Two measurements per server:
- fixed rate (default 100 requests/s, open loop: latency counts from the scheduled send
  time, so a slow answer cannot hide the requests queued behind it): p50 / p99;
- maximum throughput (closed loop, several connections): requests/s, p50 / p99.

    .venv/bin/python bench/webhook.py [--rate 100] [--seconds 10] [--connections 8] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from workloads import REGISTRY, workload  # bench/workloads.py, beside this script


def reviews(count: int, seed: int = 11) -> list[bytes]:
    rng = random.Random(seed)
    bodies = []
    for n in range(count):
        obj = workload(rng, n)
        group = "apps" if obj["kind"] == "Deployment" else ""
        meta = obj["metadata"]
        gvk = {"group": group, "version": "v1", "kind": obj["kind"]}
        request = {
            "uid": f"bench-{n}", "kind": gvk, "requestKind": gvk,
            "resource": {"group": group, "version": "v1",
                         "resource": obj["kind"].lower() + "s"},
            "namespace": meta["namespace"], "name": meta["name"],
            "operation": rng.choice(["CREATE", "CREATE", "UPDATE"]),
            "userInfo": {"username": "ci-deployer", "groups": ["system:authenticated"]},
            "object": obj, "oldObject": None, "dryRun": False,
        }
        if request["operation"] == "UPDATE":
            request["oldObject"] = obj
        bodies.append(json.dumps({"apiVersion": "admission.k8s.io/v1",
                                  "kind": "AdmissionReview", "request": request}).encode())
    return bodies


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_webhook(workdir: Path, name: str, policies: bool) -> tuple[subprocess.Popen, int]:
    port = free_port()
    config = workdir / f"{name}.yaml"
    config.write_text(json.dumps({
        "policies": {"builtin": policies,
                     "parameters": {"golden-allowed-registries": {"registries": [REGISTRY]}}
                     if policies else {}},
        "store": {"url": f"sqlite:///{workdir}/{name}.db"},
        "webhook": {"host": "127.0.0.1", "port": port, "cert_file": str(workdir / "tls.crt"),
                    "key_file": str(workdir / "tls.key")},
    }))
    process = subprocess.Popen(
        [sys.executable, "-m", "pathwarden.engine.cli.main", "webhook", "--config",
         str(config)], stderr=subprocess.DEVNULL, env={**os.environ})
    return process, port


class Connection:
    """One keep-alive HTTPS connection speaking just enough HTTP/1.1 for this endpoint."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int, context: ssl.SSLContext) -> Connection:
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", port, ssl=context, server_hostname="localhost")
        return cls(reader, writer)

    async def post(self, body: bytes) -> dict[str, Any]:
        self.writer.write(b"POST /validate HTTP/1.1\r\nHost: localhost\r\n"
                          b"Content-Type: application/json\r\nContent-Length: "
                          + str(len(body)).encode() + b"\r\n\r\n" + body)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        payload = await self.reader.readexactly(length)
        if status != 200:
            raise RuntimeError(f"HTTP {status}: {payload[:200]!r}")
        return json.loads(payload)["response"]

    def close(self) -> None:
        self.writer.close()


async def fixed_rate(port: int, context: ssl.SSLContext, bodies: list[bytes], rate: float,
                     seconds: float) -> dict[str, float]:
    pool: asyncio.Queue[Connection] = asyncio.Queue()
    for _ in range(8):
        pool.put_nowait(await Connection.open(port, context))
    latencies: list[float] = []
    total = int(rate * seconds)
    start = time.perf_counter() + 0.05

    async def one(i: int) -> None:
        scheduled = start + i / rate
        await asyncio.sleep(max(0.0, scheduled - time.perf_counter()))
        conn = await pool.get()
        try:
            await conn.post(bodies[i % len(bodies)])
        finally:
            pool.put_nowait(conn)
        latencies.append(time.perf_counter() - scheduled)

    await asyncio.gather(*(one(i) for i in range(total)))
    while not pool.empty():
        pool.get_nowait().close()
    return summary(latencies, time.perf_counter() - start)


async def max_throughput(port: int, context: ssl.SSLContext, bodies: list[bytes],
                         connections: int, seconds: float) -> dict[str, float]:
    latencies: list[float] = []
    denied = 0
    stop_at = time.perf_counter() + seconds
    counter = iter(range(10**9))

    async def worker() -> None:
        nonlocal denied
        conn = await Connection.open(port, context)
        while time.perf_counter() < stop_at:
            sent = time.perf_counter()
            answer = await conn.post(bodies[next(counter) % len(bodies)])
            latencies.append(time.perf_counter() - sent)
            denied += not answer["allowed"]
        conn.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    result = summary(latencies, time.perf_counter() - started)
    result["denied_share"] = round(denied / max(1, len(latencies)), 3)
    return result


def summary(latencies: list[float], elapsed: float) -> dict[str, float]:
    ordered = sorted(latencies)
    return {
        "requests": len(ordered),
        "per_s": round(len(ordered) / elapsed, 1),
        "p50_ms": round(statistics.median(ordered) * 1000, 2),
        "p99_ms": round(ordered[int(len(ordered) * 0.99) - 1] * 1000, 2),
    }


def wait_ready(port: int, context: ssl.SSLContext, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"webhook on port {port} exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as raw, \
                    context.wrap_socket(raw, server_hostname="localhost"):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"webhook on port {port} did not start")


def policy_count(port: int, context: ssl.SSLContext) -> int:
    with urllib.request.urlopen(f"https://localhost:{port}/readyz", context=context) as answer:
        return int(json.load(answer)["policies"])


async def measure(port: int, context: ssl.SSLContext, bodies: list[bytes],
                  args: argparse.Namespace) -> dict[str, Any]:
    warm = await Connection.open(port, context)
    for body in bodies[:200]:
        await warm.post(body)
    warm.close()
    return {
        "fixed_rate": await fixed_rate(port, context, bodies, args.rate, args.seconds),
        "max": await max_throughput(port, context, bodies, args.connections, args.seconds),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--reviews", type=int, default=500)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    bodies = reviews(args.reviews)
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        subprocess.run([sys.executable, "-m", "pathwarden.engine.cli.main", "certs",
                        "--service", "pathwarden-webhook", "--namespace", "pathwarden",
                        "--out", str(workdir), "--extra-dns", "localhost"],
                       check=True, stdout=subprocess.DEVNULL)
        context = ssl.create_default_context(cafile=str(workdir / "ca.crt"))
        results: dict[str, Any] = {}
        for name, policies in (("ceiling", False), ("pathwarden", True)):
            process, port = start_webhook(workdir, name, policies)
            try:
                wait_ready(port, context, process)
                results[name] = asyncio.run(measure(port, context, bodies, args))
                results[name]["policies"] = policy_count(port, context)
            finally:
                process.terminate()
                process.wait(30)
    ratio = results["pathwarden"]["max"]["per_s"] / results["ceiling"]["max"]["per_s"]
    results["throughput_ratio"] = round(ratio, 3)
    if args.json:
        print(json.dumps(results))
        return
    print(f"{len(bodies)} varied Pod/Deployment AdmissionReviews, HTTPS keep-alive, "
          f"client in this process; 2 webhook processes (one at a time)")
    for name in ("pathwarden", "ceiling"):
        fixed, best = results[name]["fixed_rate"], results[name]["max"]
        label = (f"pathwarden ({results[name]['policies']} built-in policies)"
                 if name == "pathwarden" else "ceiling (no policies, same endpoint)")
        print(f"{label}:")
        print(f"  at {args.rate:g} req/s:   p50 {fixed['p50_ms']} ms, p99 {fixed['p99_ms']} ms")
        print(f"  max throughput: {best['per_s']} req/s ({args.connections} connections), "
              f"p50 {best['p50_ms']} ms, p99 {best['p99_ms']} ms")
    print(f"throughput ratio: {ratio:.0%} of the ceiling")


if __name__ == "__main__":
    main()
