"""The stand-in's watch (tests/standins/kube_watch.py) has the shapes of kube-apiserver's.

Production code that keeps an inventory by list+watch is only as well tested as the
stand-in is faithful, so the events are read with the official `kubernetes` client's own
watch parsing (`kubernetes.watch.Watch`, its line reader) wherever it can be, and raw
only where the client hides what is checked (bookmarks, the 410 line, the chunked end).
Streams end by the client stopping, by a short timeoutSeconds, or by the stand-in; no
test asserts how long anything took.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest
import urllib3
from kubernetes import client, watch
from kubernetes import config as kube_config
from kubernetes.client.exceptions import ApiException
from kubernetes.watch.watch import iter_resp_lines

if TYPE_CHECKING:  # the module itself is loaded as a plugin (importing it first would
    from .standins.kube_api import KubeApiStandIn  # keep pytest from rewriting it)

pytest_plugins = ("tests.standins.kube_api",)  # kube_api, start_kube_api, kubeconfig

PARTIAL = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1"
PARTIAL_LIST = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"


def pod(name: str, namespace: str = "shop", image: str = "registry.example/app:1.0"
        ) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": namespace},
            "spec": {"containers": [{"name": "app", "image": image}]}}


def deployment(name: str, namespace: str = "shop", replicas: int = 2) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}}, "spec": {
                         "containers": [{"name": "app", "image": "registry.example/a:1"}]}}}}


def secret(name: str, namespace: str = "shop") -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": {"name": name, "namespace": namespace, "labels": {"team": "pay"}},
            "data": {"password": "aHVudGVyMg=="}}


@pytest.fixture
def api_client(kube_api: KubeApiStandIn) -> Iterator[client.ApiClient]:
    """The official client pointed at the stand-in, with its bearer token."""
    config = client.Configuration(host=kube_api.url,
                                  api_key={"authorization": "Bearer stand-in-token"})
    with client.ApiClient(config) as api:
        yield api


def raw_watch(api: client.ApiClient, path: str, accept: str = "application/json",
              **query: Any) -> urllib3.HTTPResponse:
    """A watch as the production inventory client sends it: call_api on the list path,
    the body left unread for streaming."""
    request = api.param_serialize("GET", path, query_params=list(query.items()),
                                  header_params={"Accept": accept},
                                  auth_settings=["BearerToken"])
    return api.call_api(*request).response


def events(response: urllib3.HTTPResponse, enough: int = 0) -> list[dict[str, Any]]:
    """The events until the stream ends (or `enough` of them, then hang up), split into
    lines by the official client."""
    seen: list[dict[str, Any]] = []
    try:
        for line in iter_resp_lines(response):
            if line:
                seen.append(json.loads(line))
            if len(seen) == enough:
                response.close()
                break
        return seen
    finally:
        response.release_conn()


def in_background(action: Callable[[], Any]) -> threading.Thread:
    thread = threading.Thread(target=action, daemon=True)
    thread.start()
    return thread


def test_a_namespaced_watch_replays_then_streams_after_the_lists_version(kube_api, api_client):
    kube_api.add(pod("web"), pod("db", "data"))
    core = client.CoreV1Api(api_client)
    listed = core.list_namespaced_pod("shop")
    since = int(listed.metadata.resource_version)
    assert [p.metadata.name for p in listed.items] == ["web"]
    kube_api.add(pod("cache"))  # between the list and the watch: must be replayed

    def later() -> None:
        assert kube_api.wait_for_watches(1, "pods")
        kube_api.add(pod("cache", image="registry.example/app:2.0"), pod("other", "data"))
        kube_api.delete("Pod", "cache", "shop")

    mutator = in_background(later)
    seen: list[dict[str, Any]] = []
    stream = watch.Watch()
    for event in stream.stream(core.list_namespaced_pod, "shop",
                               resource_version=str(since), timeout_seconds=3):
        seen.append(event)
        if event["type"] == "DELETED":
            stream.stop()
    mutator.join(5)

    assert [(e["type"], e["object"].metadata.name) for e in seen] == [
        ("ADDED", "cache"), ("MODIFIED", "cache"), ("DELETED", "cache")]
    assert all(isinstance(e["object"], client.V1Pod) for e in seen)
    versions = [int(e["object"].metadata.resource_version) for e in seen]
    assert since < versions[0] < versions[1] < versions[2]
    assert len({e["object"].metadata.uid for e in seen}) == 1  # replaced, not recreated
    assert seen[1]["object"].spec.containers[0].image == "registry.example/app:2.0"
    assert seen[2]["object"].spec.containers[0].image == "registry.example/app:2.0"
    assert all((e["raw_object"]["kind"], e["raw_object"]["apiVersion"]) == ("Pod", "v1")
               for e in seen)
    request = kube_api.watched("pods")[-1]
    assert request.path == "/api/v1/namespaces/shop/pods"
    assert request.query["resourceVersion"] == str(since)
    assert request.query["watch"] in ("true", "True", "1")
    assert kube_api.listed("pods") and not any(r.watch for r in kube_api.listed("pods"))


def test_a_cluster_wide_group_watch_sees_every_namespace(kube_api, api_client):
    apps = client.AppsV1Api(api_client)
    since = apps.list_deployment_for_all_namespaces().metadata.resource_version
    kube_api.add(deployment("web"), deployment("etl", "data"), pod("not-a-deployment"))
    kube_api.add(deployment("web", replicas=5))
    kube_api.delete("Deployment", "etl", "data")

    seen = list(watch.Watch().stream(apps.list_deployment_for_all_namespaces,
                                     resource_version=since, timeout_seconds=1))

    assert [(e["type"], e["object"].metadata.namespace, e["object"].metadata.name)
            for e in seen] == [("ADDED", "shop", "web"), ("ADDED", "data", "etl"),
                               ("MODIFIED", "shop", "web"), ("DELETED", "data", "etl")]
    assert all(isinstance(e["object"], client.V1Deployment) for e in seen)
    assert seen[2]["object"].spec.replicas == 5
    assert {(e["raw_object"]["kind"], e["raw_object"]["apiVersion"]) for e in seen} == {
        ("Deployment", "apps/v1")}
    assert kube_api.watched("deployments")[-1].path == "/apis/apps/v1/deployments"


@pytest.mark.parametrize("since", [None, "0"])
def test_a_watch_from_no_version_starts_with_the_current_state(kube_api, api_client, since):
    kube_api.add(pod("web"), pod("api"), pod("elsewhere", "data"))
    kube_api.delete("Pod", "api", "shop")
    core = client.CoreV1Api(api_client)
    options = {"timeout_seconds": 1} if since is None else {
        "timeout_seconds": 1, "resource_version": since}

    seen = list(watch.Watch().stream(core.list_namespaced_pod, "shop", **options))

    assert [(e["type"], e["object"].metadata.name) for e in seen] == [("ADDED", "web")]


def test_a_list_reads_the_current_version_and_pages_are_one_snapshot(kube_api, api_client):
    kube_api.add(*[pod(f"web-{i}") for i in range(3)])
    core = client.CoreV1Api(api_client)
    first = core.list_namespaced_pod("shop", limit=2)
    kube_api.add(pod("web-0a"), pod("web-9"))  # would land on both pages if read now
    second = core.list_namespaced_pod("shop", limit=2, _continue=first.metadata._continue)

    assert first.metadata.resource_version == second.metadata.resource_version
    assert [p.metadata.name for p in first.items + second.items] == [
        "web-0", "web-1", "web-2"]
    seen = list(watch.Watch().stream(core.list_namespaced_pod, "shop", timeout_seconds=1,
                                     resource_version=first.metadata.resource_version))
    assert [(e["type"], e["object"].metadata.name) for e in seen] == [
        ("ADDED", "web-0a"), ("ADDED", "web-9")]
    assert core.list_namespaced_pod("shop").metadata.resource_version == str(
        seen[-1]["object"].metadata.resource_version)


def test_a_continue_token_older_than_the_compaction_expires(kube_api, api_client):
    kube_api.add(*[pod(f"web-{i}") for i in range(3)])
    core = client.CoreV1Api(api_client)
    first = core.list_namespaced_pod("shop", limit=2)
    kube_api.add(pod("late"))
    kube_api.compact()

    with pytest.raises(ApiException) as caught:
        core.list_namespaced_pod("shop", limit=2, _continue=first.metadata._continue)

    assert caught.value.status == 410
    assert json.loads(caught.value.body)["reason"] == "Expired"


def test_a_watch_from_before_the_compaction_gets_one_410_error_event(kube_api, api_client):
    kube_api.add(pod("web"))
    core = client.CoreV1Api(api_client)
    since = core.list_namespaced_pod("shop").metadata.resource_version
    kube_api.add(pod("api"))
    compacted = kube_api.compact()

    with pytest.raises(ApiException) as caught:  # the official client's own reading of it
        list(watch.Watch().stream(core.list_namespaced_pod, "shop",
                                  resource_version=since, timeout_seconds=2))
    assert caught.value.status == 410

    response = raw_watch(api_client, "/api/v1/namespaces/shop/pods", watch="1",
                         resourceVersion=since, timeoutSeconds=2)
    assert response.status == 200
    assert events(response) == [{"type": "ERROR", "object": {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": f"too old resource version: {since} ({compacted})",
        "reason": "Expired", "code": 410}}]
    from_now = list(watch.Watch().stream(core.list_namespaced_pod, "shop",
                                         resource_version=str(compacted), timeout_seconds=1))
    assert from_now == []


def test_bookmarks_arrive_on_an_idle_stream_only_when_allowed(kube_api, api_client):
    kube_api.bookmark_seconds = 0.2
    kube_api.add(pod("web"), deployment("web"))
    since = client.CoreV1Api(api_client).list_pod_for_all_namespaces().metadata.resource_version

    response = raw_watch(api_client, "/api/v1/pods", watch="true", resourceVersion=since,
                         allowWatchBookmarks="true", timeoutSeconds=1)
    assert response.status == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["Transfer-Encoding"] == "chunked"
    bookmarks = events(response, enough=2)

    assert [e["type"] for e in bookmarks] == ["BOOKMARK", "BOOKMARK"]
    assert bookmarks[0]["object"] == {"kind": "Pod", "apiVersion": "v1",
                                      "metadata": {"resourceVersion": since}}
    plain = raw_watch(api_client, "/api/v1/pods", watch="true", resourceVersion=since,
                      timeoutSeconds=1)
    assert events(plain) == []  # and it ended cleanly at timeoutSeconds: no ProtocolError


def test_secrets_watched_for_metadata_carry_no_values(kube_api, api_client):
    since = client.CoreV1Api(api_client).list_namespaced_secret("shop").metadata.resource_version
    kube_api.add(secret("db"))
    kube_api.delete("Secret", "db", "shop")

    for accept in (PARTIAL, PARTIAL_LIST):
        seen = events(raw_watch(api_client, "/api/v1/namespaces/shop/secrets", accept,
                                watch="true", resourceVersion=since, timeoutSeconds=3), 2)
        assert [e["type"] for e in seen] == ["ADDED", "DELETED"]
        for event in seen:
            assert set(event["object"]) == {"kind", "apiVersion", "metadata"}
            assert (event["object"]["kind"], event["object"]["apiVersion"]) == (
                "PartialObjectMetadata", "meta.k8s.io/v1")
            assert event["object"]["metadata"]["labels"] == {"team": "pay"}
        assert "aHVudGVyMg==" not in json.dumps(seen)
    assert all(r.metadata_only for r in kube_api.watched("secrets"))

    kube_api.ignore_metadata_accept = True  # misbehave: values whatever was asked
    leaked = events(raw_watch(api_client, "/api/v1/namespaces/shop/secrets", PARTIAL,
                              watch="true", resourceVersion=since, timeoutSeconds=3), 1)
    assert leaked[0]["object"]["kind"] == "Secret"
    assert leaked[0]["object"]["data"] == {"password": "aHVudGVyMg=="}


@pytest.mark.parametrize(("knob", "path", "code", "reason"), [
    ({"pods": 403}, "/api/v1/namespaces/shop/pods", 403, "Forbidden"),
    ({"shop/pods": 500}, "/api/v1/namespaces/shop/pods", 500, "InternalError"),
    ({}, "/apis/example.com/v1/widgets", 404, "NotFound"),
])
def test_a_refused_watch_answers_a_status_not_a_stream(kube_api, api_client, knob, path,
                                                       code, reason):
    kube_api.fail.update(knob)

    response = raw_watch(api_client, path, watch="true", timeoutSeconds=1)

    assert response.status == code
    assert "Transfer-Encoding" not in response.headers
    body = json.loads(response.data)
    assert (body["kind"], body["code"], body["reason"]) == ("Status", code, reason)
    if code == 403:
        assert 'cannot watch resource "pods"' in body["message"]
        with pytest.raises(ApiException) as caught:
            list(watch.Watch().stream(client.CoreV1Api(api_client).list_namespaced_pod,
                                      "shop", timeout_seconds=1))
        assert caught.value.status == 403
    assert kube_api.open_watches() == 0


def test_a_watch_without_the_token_is_unauthorized(kube_api):
    config = client.Configuration(host=kube_api.url, api_key={"authorization": "Bearer nope"})
    with client.ApiClient(config) as api, pytest.raises(ApiException) as caught:
        list(watch.Watch().stream(client.CoreV1Api(api).list_namespaced_pod, "shop",
                                  timeout_seconds=1))
    assert caught.value.status == 401
    assert json.loads(caught.value.body)["reason"] == "Unauthorized"
    assert kube_api.watched("pods")[0].authorization == "Bearer nope"


def test_drop_watches_breaks_open_streams_and_the_rewatch_is_recorded(kube_api, api_client):
    kube_api.add(pod("web"))
    core = client.CoreV1Api(api_client)
    since = core.list_namespaced_pod("shop").metadata.resource_version
    response = raw_watch(api_client, "/api/v1/namespaces/shop/pods", watch="true",
                         resourceVersion=since, timeoutSeconds=30)
    assert kube_api.wait_for_watches(1)
    kube_api.add(pod("api"))
    lines = iter_resp_lines(response)
    assert json.loads(next(lines))["type"] == "ADDED"

    assert kube_api.drop_watches() == 1

    with pytest.raises(urllib3.exceptions.ProtocolError):  # no final chunk: a broken link
        next(lines)
    assert kube_api.open_watches() == 0
    resumed = list(watch.Watch().stream(core.list_namespaced_pod, "shop", timeout_seconds=1,
                                        resource_version=str(int(since) + 1)))
    assert resumed == []
    assert [r.query["resourceVersion"] for r in kube_api.watched("pods")] == [
        since, str(int(since) + 1)]


def test_a_client_that_hangs_up_stops_counting_as_watching(kube_api, api_client):
    response = raw_watch(api_client, "/api/v1/pods", watch="true", timeoutSeconds=30)
    assert kube_api.wait_for_watches(1, "pods")
    assert kube_api.open_watches("deployments") == 0

    response.close()

    assert kube_api.wait_for_watches(0)


def test_a_watch_over_tls_with_a_client_certificate(start_kube_api, kubeconfig):
    api = start_kube_api(tls=True)
    path = kubeconfig(api.context("prod", user="scanner"))
    api.add(pod("web"))
    with kube_config.new_client_from_config(config_file=str(path)) as tls_client:
        core = client.CoreV1Api(tls_client)
        response = core.list_namespaced_pod("shop", watch=True, resource_version="0",
                                            timeout_seconds=30, _preload_content=False)
        lines = iter_resp_lines(response)
        first = json.loads(next(lines))
        assert (first["type"], first["object"]["metadata"]["name"]) == ("ADDED", "web")
        assert api.wait_for_watches(1)
        api.drop_watches()
        with pytest.raises(urllib3.exceptions.ProtocolError):
            next(lines)
        response.release_conn()
    assert api.watches[0].client_cert


def test_stop_ends_open_watches_and_returns(kube_api, api_client):
    seen: list[dict[str, Any]] = []
    failures: list[BaseException] = []

    def read() -> None:
        try:
            seen.extend(events(raw_watch(api_client, "/api/v1/pods", watch="true",
                                         timeoutSeconds=60)))
        except BaseException as exc:  # reported below, not lost in the thread
            failures.append(exc)

    reader = in_background(read)
    assert kube_api.wait_for_watches(1)
    stopper = in_background(kube_api.stop)
    stopper.join(10)
    reader.join(10)

    assert not stopper.is_alive()
    assert not reader.is_alive()
    assert failures == [] and seen == []  # ended with the final chunk, not cut off
    assert kube_api.open_watches() == 0


def test_a_bad_resource_version_is_a_bad_request(kube_api, api_client):
    response = raw_watch(api_client, "/api/v1/pods", watch="true", resourceVersion="abc")
    assert response.status == 400
    assert json.loads(response.data)["reason"] == "BadRequest"

