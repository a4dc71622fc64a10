"""Object storage: LocalStore and S3Store meet one contract, and STORAGE_URL is parsed strictly.

S3Store is exercised against a real S3-protocol server (moto's, in a thread on a free local port)
over HTTP, with fake credentials from the environment, exactly as production reaches S3 or MinIO.
"""

from __future__ import annotations

import re
import socket
import urllib.error
import urllib.request
import uuid
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import boto3
import botocore.config
import pytest
from moto.server import ThreadedMotoServer

from server.adapters.storage import (
    MAX_SIGNED_URL_SECONDS,
    LocalStore,
    S3Store,
    StorageError,
    store_from_url,
)

BUCKET = "skillvoucher-test"
REGION = "us-east-1"
ACCESS_KEY = "testing"
SECRET_KEY = "testing-secret-never-in-urls"
BINARY = bytes(range(256)) * 3 + b"\x00\r\n\xff"  # every byte value, NUL, CR LF
UNSAFE_KEYS = ["../x", "/abs", "a/../b", "", "a/b/../../c", ".hidden", "a\\b", "x" * 300]


# --- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def s3_endpoint(tmp_path_factory):
    """A moto S3 server on 127.0.0.1 (port chosen by the OS) with one bucket; the AWS environment
    is replaced for the module so nothing from the developer's machine leaks in."""
    no_aws_files = tmp_path_factory.mktemp("aws") / "absent"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        mp.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        mp.setenv("AWS_CONFIG_FILE", str(no_aws_files))
        mp.setenv("AWS_SHARED_CREDENTIALS_FILE", str(no_aws_files))
        for name in (
            "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE",
            "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3",
        ):
            mp.delenv(name, raising=False)
        mp.setenv("NO_PROXY", "127.0.0.1,localhost")  # boto3 and urllib must not use a proxy here
        mp.setenv("no_proxy", "127.0.0.1,localhost")

        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        try:
            host, port = server.get_host_and_port()  # the port the OS actually bound
            endpoint = f"http://{host}:{port}"
            raw_client(endpoint).create_bucket(Bucket=BUCKET)
            yield endpoint
        finally:
            server.stop()


def raw_client(endpoint: str):
    """A plain boto3 client, independent of the code under test, to look behind the store."""
    return boto3.client(
        "s3", endpoint_url=endpoint, region_name=REGION,
        config=botocore.config.Config(s3={"addressing_style": "path"}),
    )


def s3_url(endpoint: str, path: str = "", query: str = "") -> str:
    return f"s3://{BUCKET}{path}?endpoint_url={endpoint}&region={REGION}&addressing=path{query}"


def unique_prefix() -> str:
    return f"t-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def raw(s3_endpoint):
    return raw_client(s3_endpoint)


@pytest.fixture
def s3_store(s3_endpoint) -> S3Store:
    store = store_from_url(s3_url(s3_endpoint, f"/{unique_prefix()}"))
    assert isinstance(store, S3Store)
    return store


@pytest.fixture
def local_store(tmp_path) -> LocalStore:
    store = store_from_url(f"file://{tmp_path / 'storage'}")
    assert isinstance(store, LocalStore)
    return store


@pytest.fixture(params=["local", "s3"])
def store(request):
    """Each contract test runs once per implementation."""
    return request.getfixturevalue(f"{request.param}_store")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- one contract, both stores ----------------------------------------------------------------


def test_binary_round_trip(store):
    store.put("docs/plan.pdf", BINARY, "application/pdf")
    assert store.get("docs/plan.pdf") == BINARY


def test_put_overwrites(store):
    store.put("photo.jpg", b"first", "image/jpeg")
    store.put("photo.jpg", b"second", "image/jpeg")
    assert store.get("photo.jpg") == b"second"


def test_empty_object(store):
    store.put("empty.bin", b"", "application/octet-stream")
    assert store.exists("empty.bin")
    assert store.get("empty.bin") == b""


def test_exists_before_and_after(store):
    key = "enrolment-photos/7/abc.jpg"
    assert store.exists(key) is False
    store.put(key, b"jpeg", "image/jpeg")
    assert store.exists(key) is True
    assert store.exists("enrolment-photos/7") is False  # a "folder" is not an object
    store.delete(key)
    assert store.exists(key) is False


def test_delete_is_idempotent(store):
    store.delete("never/was.bin")  # missing: no error
    store.put("gone.bin", b"x", "application/octet-stream")
    store.delete("gone.bin")
    store.delete("gone.bin")
    assert store.exists("gone.bin") is False


def test_get_missing_key(store):
    with pytest.raises(StorageError) as raised:
        store.get("missing/key.bin")
    assert str(raised.value) == "no such object: missing/key.bin"


@pytest.mark.parametrize("key", UNSAFE_KEYS)
def test_unsafe_keys_refused_by_every_operation(store, key):
    operations = [
        lambda: store.put(key, b"x", "text/plain"),
        lambda: store.get(key),
        lambda: store.delete(key),
        lambda: store.exists(key),
        lambda: store.signed_url(key, 60),
    ]
    for operation in operations:
        with pytest.raises(StorageError, match="unsafe storage key"):
            operation()


@pytest.mark.parametrize("expires_in", [0, -1, MAX_SIGNED_URL_SECONDS + 1, True, 1.5])
def test_signed_url_lifetime_checked(store, expires_in):
    with pytest.raises(StorageError, match="lifetime"):
        store.signed_url("a.jpg", expires_in)


# --- S3Store specifics ------------------------------------------------------------------------


def test_s3_object_lands_under_prefix_with_content_type(s3_store, raw):
    s3_store.put("selfies/1/x.jpg", BINARY, "image/jpeg")
    head = raw.head_object(Bucket=BUCKET, Key=f"{s3_store.prefix}/selfies/1/x.jpg")
    assert head["ContentType"] == "image/jpeg"
    assert head["ContentLength"] == len(BINARY)
    listed = raw.list_objects_v2(Bucket=BUCKET, Prefix=f"{s3_store.prefix}/")
    assert [obj["Key"] for obj in listed["Contents"]] == [f"{s3_store.prefix}/selfies/1/x.jpg"]


def test_s3_without_prefix_uses_bare_keys(s3_endpoint, raw):
    store = store_from_url(s3_url(s3_endpoint))
    assert store.prefix == ""
    key = f"{unique_prefix()}.txt"
    store.put(key, b"top level", "text/plain")
    assert raw.get_object(Bucket=BUCKET, Key=key)["Body"].read() == b"top level"


def test_s3_prefixes_isolate_stores_on_one_bucket(s3_endpoint):
    a = store_from_url(s3_url(s3_endpoint, f"/{unique_prefix()}/env"))
    b = store_from_url(s3_url(s3_endpoint, f"/{unique_prefix()}/env"))
    a.put("same/key.bin", b"from a", "application/octet-stream")
    b.put("same/key.bin", b"from b", "application/octet-stream")
    a.put("only-a.bin", b"a", "application/octet-stream")

    assert a.get("same/key.bin") == b"from a"
    assert b.get("same/key.bin") == b"from b"
    assert b.exists("only-a.bin") is False
    with pytest.raises(StorageError, match="no such object"):
        b.get("only-a.bin")
    b.delete("only-a.bin")
    assert a.exists("only-a.bin") is True


def test_s3_server_side_encryption_when_configured(s3_endpoint, raw):
    store = store_from_url(s3_url(s3_endpoint, f"/{unique_prefix()}", "&sse=AES256"))
    assert store.server_side_encryption == "AES256"
    store.put("doc.pdf", b"%PDF", "application/pdf")
    head = raw.head_object(Bucket=BUCKET, Key=f"{store.prefix}/doc.pdf")
    assert head["ServerSideEncryption"] == "AES256"


def test_s3_put_sends_encryption_header_only_when_configured(s3_endpoint):
    headers: list[dict] = []

    def record(request, **_):
        headers.append(dict(request.headers))

    for query in ("", "&sse=AES256"):
        store = store_from_url(s3_url(s3_endpoint, f"/{unique_prefix()}", query))
        store.client.meta.events.register("before-sign.s3.PutObject", record)
        store.put("doc.pdf", b"%PDF", "application/pdf")
    assert "x-amz-server-side-encryption" not in {k.lower() for k in headers[0]}
    assert {k.lower(): v for k, v in headers[1].items()}["x-amz-server-side-encryption"] == "AES256"
    assert headers[0]["Content-Type"] == "application/pdf"


def test_s3_signed_url_serves_the_bytes(s3_store):
    s3_store.put("class-docs/9/plan.pdf", BINARY, "application/pdf")
    url = s3_store.signed_url("class-docs/9/plan.pdf", 60)
    assert url is not None
    assert SECRET_KEY not in url
    with urllib.request.urlopen(url, timeout=5) as response:
        assert response.read() == BINARY
        assert response.headers["Content-Type"] == "application/pdf"


def test_s3_signed_url_is_for_that_key_only(s3_store):
    url = s3_store.signed_url("not/uploaded.jpg", 60)  # signing does not check existence
    assert url is not None
    assert urlparse(url).path == f"/{BUCKET}/{s3_store.prefix}/not/uploaded.jpg"
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(url, timeout=5)
    assert raised.value.code == 404


def test_s3_signed_url_carries_its_expiry(s3_store):
    """Real S3 (and MinIO) refuse a presigned URL once X-Amz-Date + X-Amz-Expires has passed.
    moto 5.2.5 does not: it never checks query-string signatures (verified by fetching a URL with
    expires_in=1 after sleeping 2 s: it still answered 200). So rather than sleep for a refusal
    that cannot come, this asserts the URL is a SigV4 presigned URL whose lifetime is exactly
    the one asked for, signed just now, with the access key id but never the secret."""
    url = s3_store.signed_url("selfie.jpg", 1)
    assert url is not None
    query = {name: values[0] for name, values in parse_qs(urlparse(url).query).items()}
    assert query["X-Amz-Algorithm"] == "AWS4-HMAC-SHA256"
    assert query["X-Amz-Expires"] == "1"
    assert query["X-Amz-Credential"].startswith(f"{ACCESS_KEY}/")
    assert query["X-Amz-Credential"].endswith(f"/{REGION}/s3/aws4_request")
    assert query["X-Amz-SignedHeaders"] == "host"
    assert re.fullmatch(r"[0-9a-f]{64}", query["X-Amz-Signature"])
    signed_at = datetime.strptime(query["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    assert abs((datetime.now(UTC) - signed_at).total_seconds()) < 60
    assert SECRET_KEY not in url
    assert "Signature=" in url and "AWSAccessKeyId" not in url  # not the deprecated SigV2 form


def test_local_signed_url_is_none(local_store):
    local_store.put("a.jpg", b"x", "image/jpeg")
    assert local_store.signed_url("a.jpg", 60) is None


def test_s3_missing_bucket_is_an_error_not_a_missing_object(s3_endpoint):
    store = S3Store("no-such-bucket-here", client=raw_client(s3_endpoint))
    with pytest.raises(StorageError, match="NoSuchBucket") as raised:
        store.get("a.jpg")
    assert "no such object" not in str(raised.value)
    with pytest.raises(StorageError, match="put failed"):
        store.put("a.jpg", b"x", "image/jpeg")


def test_s3_unreachable_store_raises_storage_error(s3_endpoint):
    client = boto3.client(
        "s3", endpoint_url=f"http://127.0.0.1:{free_port()}", region_name=REGION,
        config=botocore.config.Config(retries={"max_attempts": 1}, connect_timeout=1),
    )
    store = S3Store(BUCKET, "p", client)
    for operation, name in [
        (lambda: store.exists("a.jpg"), "head"),
        (lambda: store.get("a.jpg"), "get"),
        (lambda: store.put("a.jpg", b"x", "image/jpeg"), "put"),
        (lambda: store.delete("a.jpg"), "delete"),
    ]:
        with pytest.raises(StorageError, match=f"S3 {name} failed for a.jpg"):
            operation()


def test_s3_store_repr_names_only_bucket_and_prefix(s3_store):
    assert repr(s3_store) == f"S3Store(bucket={BUCKET!r}, prefix={s3_store.prefix!r})"


# --- STORAGE_URL parsing ----------------------------------------------------------------------


def test_file_url_builds_local_store(tmp_path):
    store = store_from_url(f"file://{tmp_path / 'files'}")
    assert isinstance(store, LocalStore)
    assert store.root == Path(tmp_path / "files")


def test_s3_url_builds_configured_client(s3_endpoint):
    store = store_from_url(
        f"s3://{BUCKET}/optional/prefix/?endpoint_url={s3_endpoint}&region=eu-central-1&addressing=path"
    )
    assert isinstance(store, S3Store)
    assert (store.bucket, store.prefix, store.server_side_encryption) == (BUCKET, "optional/prefix", None)
    meta = store.client.meta
    assert meta.endpoint_url == s3_endpoint
    assert meta.region_name == "eu-central-1"
    assert meta.config.s3 == {"addressing_style": "path"}
    # botocore stores "max_attempts: 3" (retries) as total_max_attempts 4 (first try + 3 retries).
    assert meta.config.retries == {"mode": "standard", "total_max_attempts": 4}
    assert (meta.config.connect_timeout, meta.config.read_timeout) == (3, 10)
    assert meta.config.signature_version == "s3v4"


def test_s3_url_defaults(s3_endpoint):
    store = store_from_url(f"s3://{BUCKET}?region={REGION}")
    assert store.prefix == ""
    assert store.client.meta.config.s3 == {"addressing_style": "auto"}
    assert store.client.meta.endpoint_url.startswith("https://")


@pytest.mark.parametrize(
    "url",
    [
        "s3://AKIAEXAMPLEKEY:s3cr3t-value@bucket/p?region=us-east-1",
        "s3://AKIAEXAMPLEKEY@bucket/p",
        "s3://:s3cr3t-value@bucket",
        "s3://bucket/p?endpoint_url=http://AKIAEXAMPLEKEY:s3cr3t-value@127.0.0.1:9000",
    ],
)
def test_credentials_in_url_refused_without_echoing_them(url):
    with pytest.raises(StorageError, match="credentials") as raised:
        store_from_url(url)
    assert "s3cr3t-value" not in str(raised.value)
    assert "AKIAEXAMPLEKEY" not in str(raised.value)


@pytest.mark.parametrize(
    "bucket",
    ["ab", "a" * 64, "Bucket", "my_bucket", "-bucket", "bucket-", ".bucket", "my..bucket",
     "bucket:9000", "buck et"],
)
def test_bad_bucket_names_refused(bucket):
    with pytest.raises(StorageError, match="invalid S3 bucket name"):
        store_from_url(f"s3://{bucket}/p?region={REGION}")


def test_empty_bucket_refused():
    with pytest.raises(StorageError, match="invalid S3 bucket name"):
        store_from_url("s3:///prefix?region=us-east-1")
    with pytest.raises(StorageError, match="invalid S3 bucket name"):
        S3Store("", client=object())


@pytest.mark.parametrize("bucket", ["abc", "a" * 63, "my.bucket-01", "0-9"])
def test_good_bucket_names_accepted(bucket):
    assert store_from_url(f"s3://{bucket}?region={REGION}").bucket == bucket


@pytest.mark.parametrize("url", ["ftp://host/x", "gs://bucket/p", "http://bucket", "bucket/p", ""])
def test_unknown_scheme_refused(url):
    with pytest.raises(StorageError, match="unsupported STORAGE_URL scheme"):
        store_from_url(url)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("endpoint=http://127.0.0.1:9000", "unknown STORAGE_URL parameter"),
        ("aws_secret_access_key=s3cr3t-value", "unknown STORAGE_URL parameter"),
        ("region=us-east-1&region=eu-west-1", "repeats a parameter"),
        ("addressing=sideways", "addressing must be one of"),
        ("sse=DES", "server-side encryption must be one of"),
        ("endpoint_url=ftp://127.0.0.1:9000", "must be an http:// or https:// URL"),
        ("endpoint_url=127.0.0.1:9000", "must be an http:// or https:// URL"),
        ("region", "malformed"),
    ],
)
def test_bad_s3_options_refused(query, message):
    with pytest.raises(StorageError, match=message) as raised:
        store_from_url(f"s3://{BUCKET}/p?{query}")
    assert "s3cr3t-value" not in str(raised.value)


@pytest.mark.parametrize("path", ["/../x", "/a/../b", "/a b", "/a/./../c"])
def test_unsafe_prefix_refused(path):
    with pytest.raises(StorageError, match="unsafe S3 key prefix"):
        store_from_url(f"s3://{BUCKET}{path}?region={REGION}")
