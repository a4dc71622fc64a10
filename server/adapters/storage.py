"""Object storage behind one small interface.

`file:///path` (default) is a local folder; `s3://bucket/optional/prefix?...` is any S3-compatible
object store (AWS S3, MinIO, Ceph, Aliyun OSS/Tencent COS in S3 mode). See `store_from_url`.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlparse

import boto3
import botocore.config
from botocore.exceptions import BotoCoreError, ClientError

_SAFE_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9/_.-]{0,254}$")
# S3 bucket naming rules: 3-63 characters of lowercase letters, digits, dots and hyphens, starting
# and ending with a letter or digit, and no empty label ("..").
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_ADDRESSING_STYLES = ("auto", "path", "virtual")
_SSE_ALGORITHMS = ("AES256", "aws:kms")
_S3_QUERY_PARAMS = frozenset({"endpoint_url", "region", "addressing", "sse"})
# SigV4 presigned URLs are valid for at most seven days.
MAX_SIGNED_URL_SECONDS = 7 * 24 * 3600


class StorageError(Exception):
    pass


class Store(Protocol):
    def put(self, key: str, data: bytes, content_type: str) -> None: ...
    def get(self, key: str) -> bytes: ...
    def delete(self, key: str) -> None: ...
    def exists(self, key: str) -> bool: ...

    def signed_url(self, key: str, expires_in: int) -> str | None:
        """A URL the client may fetch the object from directly for `expires_in` seconds, or None
        when the store has no such URL (LocalStore): the app then serves the bytes itself through
        its own signed route. A URL is a bearer token for personal data: hand it only to the
        principal allowed to read the object, keep `expires_in` short, and never log it."""
        ...


def _check_key(key: str) -> str:
    if not _SAFE_KEY.match(key) or ".." in key.split("/"):
        raise StorageError(f"unsafe storage key: {key!r}")
    return key


def _check_expires_in(expires_in: int) -> int:
    if (
        isinstance(expires_in, bool)
        or not isinstance(expires_in, int)
        or not 1 <= expires_in <= MAX_SIGNED_URL_SECONDS
    ):
        raise StorageError(f"signed URL lifetime must be 1..{MAX_SIGNED_URL_SECONDS} seconds")
    return expires_in


class LocalStore:
    """Files under a root folder; writes go to a temporary name then rename, so a reader never
    sees half a file."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        return self.root / _check_key(key)

    def put(self, key: str, data: bytes, content_type: str) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".part")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise StorageError(f"no such object: {key}") from None

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def signed_url(self, key: str, expires_in: int) -> str | None:
        """Always None: a local folder has no URL of its own, so the app serves the bytes through
        its own signed route. The key and lifetime are still checked, as S3Store checks them."""
        _check_key(key)
        _check_expires_in(expires_in)
        return None


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _is_not_found(exc: ClientError) -> bool:
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return status == 404 or _error_code(exc) in ("404", "NoSuchKey", "NotFound")


class S3Store:
    """Objects in one bucket of an S3-compatible store, optionally under a key prefix
    (`prefix/key`), so several environments or apps can share a bucket without seeing each
    other's objects.

    `client` is a boto3 S3 client; credentials come from the standard AWS chain (environment
    variables AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, shared config, instance role), never from
    configuration strings. `server_side_encryption` ("AES256" or "aws:kms"), when set, is sent
    with every put.

    Grant the credentials s3:ListBucket on the bucket as well as Get/Put/DeleteObject: without it
    S3 answers 403 rather than 404 for a missing object, and `exists` raises instead of returning
    False. A HEAD on a missing bucket is also a bare 404, so `exists` cannot tell it from a missing
    object; `get` and `put` do report a missing bucket as an error.
    """

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        client: Any = None,
        *,
        server_side_encryption: str | None = None,
    ) -> None:
        self.bucket = _check_bucket(bucket)
        self.prefix = _check_prefix(prefix)
        if server_side_encryption is not None and server_side_encryption not in _SSE_ALGORITHMS:
            raise StorageError(f"server-side encryption must be one of {', '.join(_SSE_ALGORITHMS)}")
        self.server_side_encryption = server_side_encryption
        self.client = client if client is not None else boto3.client("s3", config=_client_config("auto"))

    def __repr__(self) -> str:
        return f"S3Store(bucket={self.bucket!r}, prefix={self.prefix!r})"

    def _key(self, key: str) -> str:
        _check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def _failed(self, action: str, key: str, exc: Exception) -> StorageError:
        detail = _error_code(exc) if isinstance(exc, ClientError) else type(exc).__name__
        return StorageError(f"S3 {action} failed for {key} in bucket {self.bucket}: {detail}")

    def put(self, key: str, data: bytes, content_type: str) -> None:
        extra = {"ServerSideEncryption": self.server_side_encryption} if self.server_side_encryption else {}
        try:
            self.client.put_object(
                Bucket=self.bucket, Key=self._key(key), Body=data, ContentType=content_type, **extra
            )
        except (ClientError, BotoCoreError) as exc:
            raise self._failed("put", key, exc) from exc

    def get(self, key: str) -> bytes:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self._key(key))
            with response["Body"] as body:
                return body.read()
        except ClientError as exc:
            if _error_code(exc) == "NoSuchKey":
                raise StorageError(f"no such object: {key}") from None
            raise self._failed("get", key, exc) from exc
        except BotoCoreError as exc:
            raise self._failed("get", key, exc) from exc

    def delete(self, key: str) -> None:
        # S3 DeleteObject succeeds for a key that is not there, so this is idempotent.
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self._key(key))
        except (ClientError, BotoCoreError) as exc:
            raise self._failed("delete", key, exc) from exc

    def exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as exc:
            if _is_not_found(exc):
                return False
            raise self._failed("head", key, exc) from exc
        except BotoCoreError as exc:
            raise self._failed("head", key, exc) from exc
        return True

    def signed_url(self, key: str, expires_in: int) -> str | None:
        """A presigned GET URL for the object, valid for `expires_in` seconds (1 s to 7 days).
        Signing is local: it neither contacts the store nor checks the object exists."""
        try:
            return self.client.generate_presigned_url(
                "get_object",
                Params={"Bucket": self.bucket, "Key": self._key(key)},
                ExpiresIn=_check_expires_in(expires_in),
            )
        except (ClientError, BotoCoreError) as exc:
            raise self._failed("presign", key, exc) from exc


def _check_bucket(bucket: str) -> str:
    if not _BUCKET.match(bucket) or ".." in bucket:
        raise StorageError(f"invalid S3 bucket name: {bucket!r}")
    return bucket


def _check_prefix(prefix: str) -> str:
    prefix = prefix.strip("/")
    if prefix:
        try:
            _check_key(prefix)
        except StorageError:
            raise StorageError(f"unsafe S3 key prefix: {prefix!r}") from None
    return prefix


def _client_config(addressing: str) -> botocore.config.Config:
    # SigV4 explicitly: left to itself botocore presigns some URLs (e.g. us-east-1 with a custom
    # endpoint) with the deprecated SigV2 query form, which newer regions and stores refuse.
    return botocore.config.Config(
        signature_version="s3v4",
        s3={"addressing_style": addressing},
        retries={"max_attempts": 3, "mode": "standard"},
        connect_timeout=3,
        read_timeout=10,
    )


def _s3_store_from_url(url: str) -> S3Store:
    parsed = urlparse(url)
    # Never echo the URL in these messages: it may be a secret someone pasted by mistake.
    if "@" in parsed.netloc:
        raise StorageError(
            "STORAGE_URL must not contain credentials: set AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY (or use an instance role) instead"
        )
    if parsed.params or parsed.fragment:
        raise StorageError("STORAGE_URL for s3:// takes no ';params' or '#fragment'")
    try:
        pairs = parse_qsl(parsed.query, keep_blank_values=True, strict_parsing=True)
    except ValueError:
        raise StorageError("STORAGE_URL query string is malformed") from None
    names = [name for name, _ in pairs]
    unknown = sorted(set(names) - _S3_QUERY_PARAMS)
    if unknown:
        raise StorageError(
            f"unknown STORAGE_URL parameter(s) {', '.join(unknown)}: "
            f"allowed are {', '.join(sorted(_S3_QUERY_PARAMS))}"
        )
    if len(names) != len(set(names)):
        raise StorageError("STORAGE_URL repeats a parameter")
    options = dict(pairs)

    endpoint_url = options.get("endpoint_url") or None
    if endpoint_url is not None:
        endpoint = urlparse(endpoint_url)
        if "@" in endpoint.netloc:
            raise StorageError("STORAGE_URL endpoint_url must not contain credentials")
        if endpoint.scheme not in ("http", "https") or not endpoint.hostname:
            raise StorageError("STORAGE_URL endpoint_url must be an http:// or https:// URL")
    addressing = options.get("addressing") or "auto"
    if addressing not in _ADDRESSING_STYLES:
        raise StorageError(f"STORAGE_URL addressing must be one of {', '.join(_ADDRESSING_STYLES)}")
    bucket = _check_bucket(parsed.netloc)
    prefix = _check_prefix(parsed.path)
    client = boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        region_name=options.get("region") or None,
        config=_client_config(addressing),
    )
    return S3Store(bucket, prefix, client, server_side_encryption=options.get("sse") or None)


def store_from_url(url: str) -> Store:
    """Build the store STORAGE_URL names.

    - `file:///absolute/path`: a LocalStore in that folder.
    - `s3://bucket[/prefix][?endpoint_url=URL&region=NAME&addressing=auto|path|virtual&sse=AES256|aws:kms]`:
      an S3Store. `endpoint_url` is for S3-compatible stores (MinIO: `addressing=path`); `region`
      defaults to the AWS chain (AWS_DEFAULT_REGION); `sse` asks for server-side encryption on
      every put. Credentials come only from the AWS credential chain; a URL carrying
      `user:password@` is refused.
    """
    parsed = urlparse(url)
    if parsed.scheme == "file":
        return LocalStore(Path(parsed.path))
    if parsed.scheme == "s3":
        return _s3_store_from_url(url)
    raise StorageError(
        f"unsupported STORAGE_URL scheme {parsed.scheme!r}: this version supports file:// and s3://"
    )
