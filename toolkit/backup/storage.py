"""Where backups live: a local directory or an S3 prefix, behind one small interface.

Layout, the same on both: ``<root>/<backup id>/...`` holds one backup, and its
``manifest.json`` is written last. A backup without a manifest is incomplete.

Writes are atomic: a local file is written under a temporary name, fsynced and
renamed; an S3 object is a multipart upload streamed while the dump runs and
completed on close (aborted on failure), so a reader never sees half a file.
On S3 the manifest object is the commit.

A lock stops two runs on one destination: an exclusive lock file locally, a
lock object written with ``If-None-Match: *`` on S3. Both carry an expiry; a
local lock whose process is gone (same host) is stale and is taken over.

Small records about backups that are not part of any backup (when each was
last verified) live beside them under ``<root>/.mongo-toolkit/`` (hidden, so
never listed as a backup): ``read_record``/``write_record``/``delete_record``.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol
from urllib.parse import urlparse

from toolkit.errors import BackupError, UsageError
from toolkit.fsutil import atomic_write, fsync_directory

MANIFEST = "manifest.json"
LOCK_NAME = ".mongo-toolkit.lock"
RECORDS = ".mongo-toolkit"
DEFAULT_LOCK_TTL_SECONDS = 6 * 3600
PART_SIZE = 16 * 1024 * 1024  # S3 multipart part size (>= 5 MiB except the last)
# S3 allows 10,000 parts per upload: the part size doubles every PARTS_PER_SIZE parts,
# so one object can grow to S3's 5 TiB limit while memory holds one small part at a time.
PARTS_PER_SIZE = 1000
MAX_PART_SIZE = 5 * 1024**3  # S3's limit for one part


def part_size(number: int) -> int:
    """Return the size of multipart part ``number`` (1-based) of an upload."""
    return min(MAX_PART_SIZE, PART_SIZE << ((number - 1) // PARTS_PER_SIZE))


# A local file being written is flushed to disk in the background every this many bytes.
SYNC_EVERY = 64 * 1024 * 1024
# A lock file is created empty and then written: one found empty is taken for stale only
# once it is older than this, so a run never removes the lock another is still writing.
UNREADABLE_LOCK_GRACE_SECONDS = 30


@dataclass(frozen=True)
class StoredFile:
    path: str  # relative to the backup's directory
    size: int


class Storage(Protocol):
    url: str

    def backup_ids(self) -> list[str]: ...
    def files(self, backup_id: str) -> list[StoredFile]: ...
    def exists(self, backup_id: str, path: str) -> bool: ...
    def open_read(
        self, backup_id: str, path: str
    ) -> contextlib.AbstractContextManager[IO[bytes]]: ...
    def open_write(
        self, backup_id: str, path: str
    ) -> contextlib.AbstractContextManager[IO[bytes]]: ...
    def write_bytes(self, backup_id: str, path: str, data: bytes) -> None: ...
    def delete_backup(self, backup_id: str) -> None: ...
    def local_path(self, backup_id: str) -> Path | None: ...
    def lock(
        self, owner: str, ttl_seconds: int = DEFAULT_LOCK_TTL_SECONDS
    ) -> contextlib.AbstractContextManager[None]: ...
    def read_record(self, name: str) -> bytes | None: ...
    def write_record(self, name: str, data: bytes) -> None: ...
    def delete_record(self, name: str) -> None: ...


def open_storage(destination: str, *, s3_endpoint_url: str | None = None) -> Storage:
    """Return the Storage for ``destination``: a directory path or ``s3://bucket/prefix``."""
    if destination.startswith("s3://"):
        parsed = urlparse(destination)
        if not parsed.netloc:
            raise UsageError(
                f"invalid S3 destination {destination!r}", hint="use s3://bucket/prefix"
            )
        return S3Storage(parsed.netloc, parsed.path.strip("/"), endpoint_url=s3_endpoint_url)
    if "://" in destination:
        raise UsageError(
            f"unsupported destination {destination!r}", hint="use a directory or s3://bucket/prefix"
        )
    return LocalStorage(Path(destination))


def _lock_document(owner: str, ttl_seconds: int) -> dict[str, Any]:
    now = time.time()
    return {
        "owner": owner,
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "acquired_at": now,
        "expires_at": now + ttl_seconds,
        "token": uuid.uuid4().hex,
    }


def _describe_lock(holder: dict[str, Any]) -> str:
    when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(float(holder.get("acquired_at", 0))))
    return (
        f"{holder.get('owner', '?')} (pid {holder.get('pid', '?')} on "
        f"{holder.get('host', '?')}, since {when})"
    )


def _check_record_name(name: str) -> str:
    if not name or name.startswith("/") or any(part in ("", ".", "..") for part in name.split("/")):
        raise ValueError(f"invalid record name {name!r}")
    return name


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# --------------------------------------------------------------------------- local


class _AtomicLocalFile(io.RawIOBase):
    """A write-only file that becomes visible under its name only when closed cleanly.

    A big file is flushed to disk as it grows (``fdatasync`` in a background
    thread every SYNC_EVERY bytes), so the fsync that makes the commit
    durable has little left to write and the dump does not wait for it.
    """

    def __init__(self, path: Path) -> None:
        super().__init__()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._path = path
        # A short name of its own, not the final name plus a suffix: mongodump's names run
        # up to 238 bytes (long ones are shortened to that), and a file name may not pass 255.
        self._temporary = path.with_name(f".{uuid.uuid4().hex[:12]}.partial")
        self._handle = open(self._temporary, "wb")  # noqa: SIM115 - closed in close()/abort()
        self._unsynced = 0
        self._syncing: threading.Thread | None = None
        self._sync_error: OSError | None = None

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        written = self._handle.write(data)
        self._unsynced += written
        if self._unsynced >= SYNC_EVERY and (self._syncing is None or not self._syncing.is_alive()):
            self._start_sync()
        return written

    def _start_sync(self) -> None:
        self._handle.flush()
        self._unsynced = 0
        descriptor = self._handle.fileno()

        def sync() -> None:
            try:
                os.fdatasync(descriptor)
            except OSError as error:  # reported by commit()
                self._sync_error = error

        self._syncing = threading.Thread(target=sync, name="backup-fdatasync", daemon=True)
        self._syncing.start()

    def _wait_for_sync(self) -> None:
        if self._syncing is not None:
            self._syncing.join()
            self._syncing = None

    def commit(self) -> None:
        self._handle.flush()
        self._wait_for_sync()
        if self._sync_error is not None:
            raise self._sync_error
        os.fsync(self._handle.fileno())
        self._handle.close()
        os.replace(self._temporary, self._path)
        fsync_directory(self._path.parent)

    def abort(self) -> None:
        self._wait_for_sync()
        self._handle.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._temporary)


class LocalStorage:
    """Backups in a directory: ``<root>/<id>/...``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.url = str(root)

    def _dir(self, backup_id: str) -> Path:
        if not backup_id or "/" in backup_id or backup_id.startswith("."):
            raise UsageError(f"invalid backup id {backup_id!r}")
        return self.root / backup_id

    def backup_ids(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(
            p.name for p in self.root.iterdir() if p.is_dir() and not p.name.startswith(".")
        )

    def files(self, backup_id: str) -> list[StoredFile]:
        base = self._dir(backup_id)
        if not base.is_dir():
            raise BackupError(f"no backup {backup_id} in {self.url}")
        found = []
        for path in sorted(base.rglob("*")):
            if path.is_file() and not path.name.endswith(".partial"):
                found.append(StoredFile(path.relative_to(base).as_posix(), path.stat().st_size))
        return found

    def exists(self, backup_id: str, path: str) -> bool:
        return (self._dir(backup_id) / path).is_file()

    @contextlib.contextmanager
    def open_read(self, backup_id: str, path: str) -> Iterator[IO[bytes]]:
        target = self._dir(backup_id) / path
        try:
            handle = open(target, "rb")  # noqa: SIM115
        except OSError as error:
            raise BackupError(f"cannot read {target}: {error.strerror}") from error
        with handle:
            yield handle

    @contextlib.contextmanager
    def open_write(self, backup_id: str, path: str) -> Iterator[IO[bytes]]:
        target = self._dir(backup_id) / path
        try:
            writer = _AtomicLocalFile(target)
        except OSError as error:
            raise BackupError(f"cannot write {target}: {error.strerror}") from error
        try:
            yield writer  # type: ignore[misc]
        except BaseException:
            writer.abort()
            raise
        try:
            writer.commit()
        except OSError as error:
            writer.abort()
            raise BackupError(f"cannot write {target}: {error.strerror}") from error

    def write_bytes(self, backup_id: str, path: str, data: bytes) -> None:
        with self.open_write(backup_id, path) as handle:
            handle.write(data)

    def delete_backup(self, backup_id: str) -> None:
        base = self._dir(backup_id)
        # Remove the manifest first: a half-deleted backup must read as incomplete.
        with contextlib.suppress(FileNotFoundError):
            (base / MANIFEST).unlink()
            fsync_directory(base)
        for path in sorted(base.rglob("*"), key=lambda p: len(p.parts), reverse=True):
            if path.is_dir():
                path.rmdir()
            else:
                path.unlink()
        with contextlib.suppress(FileNotFoundError):
            base.rmdir()

    def local_path(self, backup_id: str) -> Path | None:
        return self._dir(backup_id)

    @contextlib.contextmanager
    def lock(self, owner: str, ttl_seconds: int = DEFAULT_LOCK_TTL_SECONDS) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        path = self.root / LOCK_NAME
        document = _lock_document(owner, ttl_seconds)
        for _attempt in range(3):
            try:
                descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                holder = self._read_lock(path)
                if (holder is None and self._old(path)) or (
                    holder is not None and self._stale(holder)
                ):
                    with contextlib.suppress(FileNotFoundError):
                        path.unlink()
                    continue
                if holder is None:
                    raise BackupError(
                        f"{self.url} is locked: {path} is being written by another run",
                        hint="another backup run is starting; try again in a moment",
                    ) from None
                raise BackupError(
                    f"{self.url} is locked by {_describe_lock(holder)}",
                    hint=f"another backup run is using it; if that run is gone, remove {path}",
                ) from None
            with os.fdopen(descriptor, "w") as handle:
                json.dump(document, handle)
                handle.flush()
                os.fsync(handle.fileno())
            break
        else:
            raise BackupError(f"could not take the lock {path}")
        try:
            yield
        finally:
            holder = self._read_lock(path)
            if holder and holder.get("token") == document["token"]:
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()

    @staticmethod
    def _old(path: Path) -> bool:
        try:
            return time.time() - path.stat().st_mtime > UNREADABLE_LOCK_GRACE_SECONDS
        except FileNotFoundError:
            return True

    def _record_path(self, name: str) -> Path:
        return self.root / RECORDS / _check_record_name(name)

    def read_record(self, name: str) -> bytes | None:
        """Return the bytes of record ``name`` (e.g. "verified/<id>.json"), None if absent."""
        try:
            return self._record_path(name).read_bytes()
        except FileNotFoundError:
            return None
        except OSError as error:
            raise BackupError(f"cannot read {self._record_path(name)}: {error.strerror}") from error

    def write_record(self, name: str, data: bytes) -> None:
        """Replace record ``name`` atomically."""
        try:
            atomic_write(self._record_path(name), data)
        except OSError as error:
            raise BackupError(
                f"cannot write {self._record_path(name)}: {error.strerror}"
            ) from error

    def delete_record(self, name: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._record_path(name).unlink()

    @staticmethod
    def _read_lock(path: Path) -> dict[str, Any] | None:
        try:
            holder = json.loads(path.read_text())
        except (OSError, ValueError):
            return None
        return holder if isinstance(holder, dict) else None

    @staticmethod
    def _stale(holder: dict[str, Any]) -> bool:
        # On this host the holder's process says it all: a dump may outlive the expiry,
        # and a killed one is stale at once. Another host's lock lasts until it expires.
        pid = holder.get("pid")
        if holder.get("host") == socket.gethostname() and isinstance(pid, int):
            return not _process_alive(pid)
        return float(holder.get("expires_at", 0)) < time.time()


# --------------------------------------------------------------------------- S3


class _MultipartWriter(io.RawIOBase):
    """Stream into an S3 object with a multipart upload; visible only after commit()."""

    def __init__(self, client: Any, bucket: str, key: str) -> None:
        super().__init__()
        self._client, self._bucket, self._key = client, bucket, key
        self._buffer = bytearray()
        self._parts: list[dict[str, Any]] = []
        self._upload_id = client.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self._buffer += data
        while len(self._buffer) >= (size := part_size(len(self._parts) + 1)):
            self._send(bytes(self._buffer[:size]))
            del self._buffer[:size]
        return len(data)

    def _send(self, chunk: bytes) -> None:
        number = len(self._parts) + 1
        reply = self._client.upload_part(
            Bucket=self._bucket,
            Key=self._key,
            UploadId=self._upload_id,
            PartNumber=number,
            Body=chunk,
        )
        self._parts.append({"PartNumber": number, "ETag": reply["ETag"]})

    def commit(self) -> None:
        if self._buffer or not self._parts:
            self._send(bytes(self._buffer))
            self._buffer.clear()
        self._client.complete_multipart_upload(
            Bucket=self._bucket,
            Key=self._key,
            UploadId=self._upload_id,
            MultipartUpload={"Parts": self._parts},
        )

    def abort(self) -> None:
        with contextlib.suppress(Exception):
            self._client.abort_multipart_upload(
                Bucket=self._bucket, Key=self._key, UploadId=self._upload_id
            )


class S3Storage:
    """Backups under ``s3://bucket/prefix/<id>/...``, through plain boto3.

    Credentials and region come the usual AWS way (environment, shared config,
    instance profile); ``endpoint_url`` points at an S3-compatible store.
    """

    def __init__(self, bucket: str, prefix: str, *, endpoint_url: str | None = None) -> None:
        import boto3
        import botocore.exceptions

        self._errors = (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError)
        self.bucket = bucket
        self.prefix = prefix
        self.url = f"s3://{bucket}/{prefix}".rstrip("/")
        self._client = boto3.client("s3", endpoint_url=endpoint_url)

    def _key(self, backup_id: str, path: str = "") -> str:
        parts = [p for p in (self.prefix, backup_id, path) if p]
        return "/".join(parts)

    @contextlib.contextmanager
    def _translate(self, doing: str) -> Iterator[None]:
        try:
            yield
        except self._errors as error:
            raise BackupError(
                f"S3 {doing} in {self.url} failed: {error}",
                hint="check credentials (AWS_* environment or profile), the bucket, "
                "and --s3-endpoint-url",
            ) from error

    def backup_ids(self) -> list[str]:
        prefix = f"{self.prefix}/" if self.prefix else ""
        ids: set[str] = set()
        with self._translate("listing backups"):
            paginator = self._client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix, Delimiter="/"):
                for common in page.get("CommonPrefixes", []):
                    name = common["Prefix"][len(prefix) :].strip("/")
                    if name and not name.startswith("."):
                        ids.add(name)
        return sorted(ids)

    def files(self, backup_id: str) -> list[StoredFile]:
        base = self._key(backup_id) + "/"
        found = []
        with self._translate(f"listing {backup_id}"):
            paginator = self._client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=self.bucket, Prefix=base):
                for item in page.get("Contents", []):
                    found.append(StoredFile(item["Key"][len(base) :], int(item["Size"])))
        if not found:
            raise BackupError(f"no backup {backup_id} in {self.url}")
        return sorted(found, key=lambda f: f.path)

    def exists(self, backup_id: str, path: str) -> bool:
        try:
            self._client.head_object(Bucket=self.bucket, Key=self._key(backup_id, path))
        except self._errors:
            return False
        return True

    @contextlib.contextmanager
    def open_read(self, backup_id: str, path: str) -> Iterator[IO[bytes]]:
        key = self._key(backup_id, path)
        try:
            with self._translate(f"reading {backup_id}/{path}"):
                body = self._client.get_object(Bucket=self.bucket, Key=key)["Body"]
        except BackupError as error:
            if _error_code(error.__cause__) in ("NoSuchKey", "404"):
                # A missing object reads like a missing file (verify_files reports "missing").
                raise BackupError(f"cannot read s3://{self.bucket}/{key}: no such object") from (
                    FileNotFoundError(key)
                )
            raise
        try:
            yield body
        finally:
            body.close()

    @contextlib.contextmanager
    def open_write(self, backup_id: str, path: str) -> Iterator[IO[bytes]]:
        with self._translate(f"starting the upload of {backup_id}/{path}"):
            writer = _MultipartWriter(self._client, self.bucket, self._key(backup_id, path))
        try:
            with self._translate(f"uploading {backup_id}/{path}"):
                yield writer  # type: ignore[misc]
        except BaseException:
            writer.abort()
            raise
        try:
            with self._translate(f"completing the upload of {backup_id}/{path}"):
                writer.commit()
        except BaseException:
            writer.abort()
            raise

    def write_bytes(self, backup_id: str, path: str, data: bytes) -> None:
        with self._translate(f"writing {backup_id}/{path}"):
            self._client.put_object(Bucket=self.bucket, Key=self._key(backup_id, path), Body=data)

    def delete_backup(self, backup_id: str) -> None:
        with self._translate(f"deleting {backup_id}"):
            # The manifest goes first, so an interrupted deletion leaves an incomplete backup.
            self._client.delete_object(Bucket=self.bucket, Key=self._key(backup_id, MANIFEST))
            keys = []
            if self._has_files(backup_id):
                keys = [self._key(backup_id, item.path) for item in self.files(backup_id)]
            for start in range(0, len(keys), 1000):
                self._client.delete_objects(
                    Bucket=self.bucket,
                    Delete={"Objects": [{"Key": key} for key in keys[start : start + 1000]]},
                )

    def _has_files(self, backup_id: str) -> bool:
        reply = self._client.list_objects_v2(
            Bucket=self.bucket, Prefix=self._key(backup_id) + "/", MaxKeys=1
        )
        return bool(reply.get("Contents"))

    def local_path(self, backup_id: str) -> Path | None:
        return None

    @contextlib.contextmanager
    def lock(self, owner: str, ttl_seconds: int = DEFAULT_LOCK_TTL_SECONDS) -> Iterator[None]:
        key = self._key(LOCK_NAME)
        document = _lock_document(owner, ttl_seconds)
        body = json.dumps(document).encode()
        for _attempt in range(3):
            try:
                self._client.put_object(Bucket=self.bucket, Key=key, Body=body, IfNoneMatch="*")
                break
            except self._errors as error:
                code = _error_code(error)
                if code not in ("PreconditionFailed", "ConditionalRequestConflict"):
                    raise BackupError(
                        f"cannot take the lock s3://{self.bucket}/{key}: {error}"
                    ) from error
                holder = self._read_lock(key)
                if holder is None or float(holder.get("expires_at", 0)) < time.time():
                    with contextlib.suppress(*self._errors):
                        self._client.delete_object(Bucket=self.bucket, Key=key)
                    continue
                until = time.strftime(
                    "%Y-%m-%d %H:%M:%S UTC", time.gmtime(float(holder["expires_at"]))
                )
                raise BackupError(
                    f"{self.url} is locked by {_describe_lock(holder)} until {until}",
                    hint="another backup run is using it; if that run is gone, "
                    f"delete s3://{self.bucket}/{key}",
                ) from None
        else:
            raise BackupError(f"could not take the lock s3://{self.bucket}/{key}")
        # A dump may outlive the lock's expiry: renew it while the run holds it.
        stop = threading.Event()
        renewer = threading.Thread(
            target=self._renew_lock,
            args=(key, document, ttl_seconds, stop),
            name="backup-lock-renewal",
            daemon=True,
        )
        renewer.start()
        try:
            yield
        finally:
            stop.set()
            renewer.join(timeout=10)
            holder = self._read_lock(key)
            if holder and holder.get("token") == document["token"]:
                with contextlib.suppress(*self._errors):
                    self._client.delete_object(Bucket=self.bucket, Key=key)

    def _renew_lock(
        self, key: str, document: dict[str, Any], ttl_seconds: int, stop: threading.Event
    ) -> None:
        """Push the lock's expiry forward every third of its lifetime while it is ours."""
        while not stop.wait(max(1.0, ttl_seconds / 3)):
            holder = self._read_lock(key)
            if not holder or holder.get("token") != document["token"]:
                return  # taken over (it had expired): nothing of ours to renew
            renewed = {**document, "expires_at": time.time() + ttl_seconds}
            with contextlib.suppress(*self._errors):
                self._client.put_object(
                    Bucket=self.bucket, Key=key, Body=json.dumps(renewed).encode()
                )

    def _record_key(self, name: str) -> str:
        return self._key(RECORDS, _check_record_name(name))

    def read_record(self, name: str) -> bytes | None:
        """Return the bytes of record ``name`` (e.g. "verified/<id>.json"), None if absent."""
        key = self._record_key(name)
        try:
            return bytes(self._client.get_object(Bucket=self.bucket, Key=key)["Body"].read())
        except self._errors as error:
            if _error_code(error) in ("NoSuchKey", "404"):
                return None
            raise BackupError(f"S3 reading s3://{self.bucket}/{key} failed: {error}") from error

    def write_record(self, name: str, data: bytes) -> None:
        """Replace record ``name`` (a PUT is atomic)."""
        with self._translate(f"writing the record {name}"):
            self._client.put_object(Bucket=self.bucket, Key=self._record_key(name), Body=data)

    def delete_record(self, name: str) -> None:
        with self._translate(f"deleting the record {name}"):
            self._client.delete_object(Bucket=self.bucket, Key=self._record_key(name))

    def _read_lock(self, key: str) -> dict[str, Any] | None:
        try:
            data = self._client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
            holder = json.loads(data)
        except (*self._errors, ValueError):
            return None
        return holder if isinstance(holder, dict) else None


def _error_code(error: BaseException | None) -> str | None:
    """The ``Error.Code`` of a botocore ClientError ("NoSuchKey", "PreconditionFailed"...)."""
    response = getattr(error, "response", None)
    if not isinstance(response, dict):
        return None
    code = response.get("Error", {}).get("Code")
    return str(code) if code is not None else None
