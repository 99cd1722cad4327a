"""The emulator's S3 Bridge Node, driven by a stock boto3 client over real HTTP.

Fixture data is created through the emulator's management API (in-process, httpx's WSGI
transport); the Bridge Node runs on a werkzeug server on an ephemeral port.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import httpx
import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from werkzeug.serving import make_server
from werkzeug.test import Client

from fbplan.emulator.api import create_backend_app
from fbplan.emulator.bridge import create_bridge_app
from fbplan.emulator.store import Store
from tests.emulator.conftest import call, wsgi_client

TOKEN = "bridge-test-token"
NODE_ID = "s3-us-east-1-aws"


@dataclass
class Keys:
    """A repository and its storage keys, as the backend returned them."""

    repo_id: str
    repo_name: str
    bucket_id: str
    write: dict[str, Any]
    read: dict[str, Any]
    admin: dict[str, Any]


@dataclass
class Node:
    url: str
    store: Store


@pytest.fixture
def api(store: Store) -> Iterator[httpx.Client]:
    with wsgi_client(create_backend_app(store, TOKEN), TOKEN) as client:
        yield client


@pytest.fixture
def keys(api: httpx.Client) -> Keys:
    workspace = call(api, "POST", "/workspace", {"name": "ws"})["workspace"]["id"]
    bucket = call(
        api,
        "POST",
        "/bucket",
        {
            "name": "data",
            "bucket": "acme-data-1",
            "storageType": "S3",
            "workspaceId": workspace,
            "key": "AKIAPROVIDER",
            "secret": "provider-secret",
            "region": "us-east-1",
        },
    )["bucketId"]
    repo = call(
        api,
        "POST",
        "/repo",
        {
            "name": "app-repo",
            "storageType": "S3",
            "mode": "NORMAL",
            "workspaceId": workspace,
            "repoBuckets": [{"bucketId": bucket, "folder": "app", "master": True}],
        },
    )["repoId"]

    def key(access: str) -> dict[str, Any]:
        body = {"repoId": repo, "name": f"key-{access.lower()}", "accessType": access}
        return call(api, "POST", f"/repo/{repo}/apikey", body)

    return Keys(repo, "app-repo", bucket, key("WRITE"), key("READ"), key("ADMIN"))


def serve(app_for: Callable[[str], Any]) -> Iterator[str]:
    """Serve the app built by `app_for(url)` on 127.0.0.1 (ephemeral port) in a thread."""
    holder: dict[str, Any] = {}
    server = make_server("127.0.0.1", 0, lambda env, sr: holder["app"](env, sr), threaded=True)
    url = f"http://127.0.0.1:{server.server_port}"
    holder["app"] = app_for(url)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield url
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def node(store: Store) -> Iterator[Node]:
    def app_for(url: str) -> Any:
        advertised = store.set_node(NODE_ID, url, "us-east-1", "aws", 0, "ONLINE")
        return create_bridge_app(store, advertised)

    for url in serve(app_for):
        yield Node(url, store)


def s3(node: Node, key: dict[str, Any], secret: str | None = None) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=node.url,
        region_name="us-east-1",
        aws_access_key_id=key["key"],
        aws_secret_access_key=secret if secret is not None else key["secret"],
        config=Config(
            s3={"addressing_style": "path"}, signature_version="s3v4", retries={"max_attempts": 1}
        ),
    )


def error_code(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    error = excinfo.value.response
    return error["Error"]["Code"], error["ResponseMetadata"]["HTTPStatusCode"]


# -- the happy path ---------------------------------------------------------------------------


def test_write_key_puts_gets_lists_and_deletes(node: Node, keys: Keys) -> None:
    client = s3(node, keys.write)
    client.put_object(Bucket=keys.repo_name, Key="docs/hello world.txt", Body=b"hello bridge")

    got = client.get_object(Bucket=keys.repo_name, Key="docs/hello world.txt")
    head = client.head_object(Bucket=keys.repo_name, Key="docs/hello world.txt")
    listed = client.list_objects_v2(Bucket=keys.repo_name, Prefix="docs/")

    assert got["Body"].read() == b"hello bridge"
    assert head["ContentLength"] == len(b"hello bridge")
    assert listed["Name"] == keys.repo_name
    assert [o["Key"] for o in listed["Contents"]] == ["docs/hello world.txt"]

    client.delete_object(Bucket=keys.repo_name, Key="docs/hello world.txt")
    assert client.list_objects_v2(Bucket=keys.repo_name)["KeyCount"] == 0
    with pytest.raises(ClientError) as excinfo:
        client.get_object(Bucket=keys.repo_name, Key="docs/hello world.txt")
    assert error_code(excinfo) == ("NoSuchKey", 404)


def test_health_answers_without_credentials(node: Node) -> None:
    response = httpx.get(f"{node.url}/health")
    assert response.status_code == 200


def test_list_buckets_shows_only_the_key_repository(node: Node, keys: Keys) -> None:
    buckets = s3(node, keys.read).list_buckets()["Buckets"]
    assert [b["Name"] for b in buckets] == [keys.repo_name]


def test_presigned_url_downloads(node: Node, keys: Keys) -> None:
    client = s3(node, keys.write)
    client.put_object(Bucket=keys.repo_name, Key="shared.txt", Body=b"presigned")
    url = client.generate_presigned_url(
        "get_object", Params={"Bucket": keys.repo_name, "Key": "shared.txt"}, ExpiresIn=60
    )
    assert httpx.get(url).content == b"presigned"


# -- authentication ---------------------------------------------------------------------------


def test_wrong_secret_is_signature_does_not_match(node: Node, keys: Keys) -> None:
    with pytest.raises(ClientError) as excinfo:
        s3(node, keys.write, secret="not-the-secret").list_objects_v2(Bucket=keys.repo_name)
    assert error_code(excinfo) == ("SignatureDoesNotMatch", 403)


def test_unknown_key_is_invalid_access_key_id(node: Node, keys: Keys) -> None:
    stranger = {"key": "AKIANOTAREPOKEY", "secret": "whatever"}
    with pytest.raises(ClientError) as excinfo:
        s3(node, stranger).list_objects_v2(Bucket=keys.repo_name)
    assert error_code(excinfo) == ("InvalidAccessKeyId", 403)


def test_key_of_a_deleted_repo_is_refused(node: Node, keys: Keys, api: httpx.Client) -> None:
    call(api, "DELETE", f"/repo/{keys.repo_id}")
    with pytest.raises(ClientError) as excinfo:
        s3(node, keys.write).list_objects_v2(Bucket=keys.repo_name)
    assert error_code(excinfo) == ("InvalidAccessKeyId", 403)


def test_anonymous_request_is_access_denied(node: Node, keys: Keys) -> None:
    response = httpx.get(f"{node.url}/{keys.repo_name}/anything")
    assert response.status_code == 403
    assert "<Code>AccessDenied</Code>" in response.text


def test_tampered_body_is_refused(node: Node, keys: Keys) -> None:
    request = signed_request(node, keys.write, "PUT", f"/{keys.repo_name}/x.txt", b"original")
    response = httpx.put(request.url, headers=dict(request.headers), content=b"tampered")
    assert response.status_code == 400
    assert "<Code>XAmzContentSHA256Mismatch</Code>" in response.text


# -- authorization ----------------------------------------------------------------------------


def test_read_key_reads_but_cannot_write_or_delete(node: Node, keys: Keys) -> None:
    s3(node, keys.write).put_object(Bucket=keys.repo_name, Key="r.txt", Body=b"readable")
    reader = s3(node, keys.read)

    assert reader.get_object(Bucket=keys.repo_name, Key="r.txt")["Body"].read() == b"readable"
    assert reader.list_objects_v2(Bucket=keys.repo_name)["KeyCount"] == 1
    with pytest.raises(ClientError) as put:
        reader.put_object(Bucket=keys.repo_name, Key="w.txt", Body=b"nope")
    with pytest.raises(ClientError) as delete:
        reader.delete_object(Bucket=keys.repo_name, Key="r.txt")

    assert error_code(put) == ("AccessDenied", 403)
    assert error_code(delete) == ("AccessDenied", 403)
    assert reader.get_object(Bucket=keys.repo_name, Key="r.txt")["Body"].read() == b"readable"


def test_admin_key_writes(node: Node, keys: Keys) -> None:
    admin = s3(node, keys.admin)
    admin.put_object(Bucket=keys.repo_name, Key="a.txt", Body=b"admin")
    admin.delete_object(Bucket=keys.repo_name, Key="a.txt")


def test_other_bucket_is_access_denied(node: Node, keys: Keys) -> None:
    with pytest.raises(ClientError) as excinfo:
        s3(node, keys.write).put_object(Bucket="someone-else", Key="x", Body=b"x")
    assert error_code(excinfo) == ("AccessDenied", 403)


def test_repo_bucket_cannot_be_deleted(node: Node, keys: Keys) -> None:
    with pytest.raises(ClientError) as excinfo:
        s3(node, keys.admin).delete_bucket(Bucket=keys.repo_name)
    assert error_code(excinfo) == ("AccessDenied", 403)


def test_virtual_hosted_addressing(store: Store, keys: Keys) -> None:
    """``<repo>.<node host>`` addresses the repo bucket (tried in-process: no DNS needed)."""
    node = store.set_node(NODE_ID, "http://bridge.test", "us-east-1", "aws", 0, "ONLINE")
    client = Client(create_bridge_app(store, node))
    vhost = Node("http://app-repo.bridge.test", store)

    put = signed_request(vhost, keys.write, "PUT", "/v.txt", b"vhost")
    get = signed_request(vhost, keys.write, "GET", "/v.txt")
    base = {"base_url": vhost.url}

    assert client.put("/v.txt", headers=dict(put.headers), data=b"vhost", **base).status_code == 200
    assert client.get("/v.txt", headers=dict(get.headers), **base).data == b"vhost"


# -- statistics and node latency --------------------------------------------------------------


def test_traffic_shows_up_in_statistics(node: Node, keys: Keys, api: httpx.Client) -> None:
    client = s3(node, keys.write)
    client.put_object(Bucket=keys.repo_name, Key="stats.bin", Body=b"x" * 1000)
    client.get_object(Bucket=keys.repo_name, Key="stats.bin")["Body"].read()
    client.put_object(Bucket=keys.repo_name, Key="gone.bin", Body=b"y" * 10)
    client.delete_object(Bucket=keys.repo_name, Key="gone.bin")

    stats = call(api, "GET", f"/repo/stats?repoId={keys.repo_id}")["stats"]
    minute = call(api, "GET", f"/stats/minute?repoId={keys.repo_id}")["data"]
    buckets = call(api, "GET", f"/bucket/stats?bucketId={keys.bucket_id}")["stats"]

    assert stats[0]["totalUploadBytes"] == "1010"
    assert stats[0]["totalDownloadBytes"] == "1000"
    assert stats[0]["totalSizeChange"] == "1000"
    assert {row["host"] for row in minute} == {node.url.removeprefix("http://")}
    assert buckets[0]["totalUploadBytes"] == "1010"


def test_refused_requests_are_not_traffic(node: Node, keys: Keys, api: httpx.Client) -> None:
    with pytest.raises(ClientError):
        s3(node, keys.read).put_object(Bucket=keys.repo_name, Key="x", Body=b"12345")
    stats = call(api, "GET", f"/repo/stats?repoId={keys.repo_id}")["stats"]
    assert stats[0]["totalUploadBytes"] == "0"


def test_node_latency_is_read_from_the_store_on_each_request(node: Node, keys: Keys) -> None:
    client = s3(node, keys.read)
    client.list_objects_v2(Bucket=keys.repo_name)
    node.store.set_node(NODE_ID, node.url, "us-east-1", "aws", 300, "ONLINE")

    started = time.monotonic()
    client.list_objects_v2(Bucket=keys.repo_name)
    assert time.monotonic() - started >= 0.3


def test_offline_node_answers_503(node: Node, keys: Keys) -> None:
    node.store.set_node(NODE_ID, node.url, "us-east-1", "aws", 0, "OFFLINE")
    assert httpx.get(f"{node.url}/health").status_code == 503


# -- helpers ----------------------------------------------------------------------------------


def signed_request(
    node: Node, key: dict[str, Any], method: str, path: str, body: bytes = b""
) -> AWSRequest:
    """A request signed by botocore itself, for cases boto3's client cannot produce."""
    request = AWSRequest(method=method, url=f"{node.url}{path}", data=body)
    S3SigV4Auth(Credentials(key["key"], key["secret"]), "s3", "us-east-1").add_auth(request)
    return request
