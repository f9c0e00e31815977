"""Find what a ``SOURCE`` argument names, and bring it where the format readers can read it.

``backup show``, ``backup verify`` and ``restore`` take a SOURCE that is

- a backup id (``20261123T075541Z`` or ``20261123T075541Z-label``) in the
  destination (``--from``, else the catalog's ``backup.destination``);
- ``s3://bucket/prefix/<id>``: one backup in S3;
- a path: one of our backups (``<DEST>/<id>``, with its ``manifest.json``), or
  a dump made by the real mongodump (a directory, an archive file, plain or
  gzip, a database directory, a lone ``.bson``).

``materialize`` yields a local path: the path itself, or for a backup in S3 a
temporary copy whose every file is checked against the manifest's size and
SHA-256 while it downloads (restoring from S3 needs the files; uploads never
need a local copy).
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from toolkit.backup.manifest import CHUNK_SIZE, Manifest
from toolkit.backup.storage import MANIFEST, LocalStorage, Storage, open_storage
from toolkit.backup.writer import ARCHIVE_NAME, DIRECTORY_NAME
from toolkit.errors import BackupError, UsageError

BACKUP_ID: Final = re.compile(r"[0-9]{8}T[0-9]{6}Z(?:-[A-Za-z0-9_-]{1,40})?")
MANIFEST_CHECKSUM: Final = "manifest.json.sha256"
STATUS: Final = "status.json"
# Files of ours that are not part of the dump itself.
BOOKKEEPING: Final = frozenset({MANIFEST, MANIFEST_CHECKSUM, STATUS})


def is_backup_id(text: str) -> bool:
    """Return True when ``text`` has the shape of a backup id."""
    return BACKUP_ID.fullmatch(text) is not None


@dataclass(frozen=True)
class BackupLocation:
    """A backup of ours: the storage it is in and its id."""

    storage: Storage
    backup_id: str

    @property
    def url(self) -> str:
        return f"{self.storage.url.rstrip('/')}/{self.backup_id}"


@dataclass(frozen=True)
class ResolvedSource:
    """What SOURCE names: a backup of ours (``location``), or else a local ``path``."""

    text: str
    location: BackupLocation | None = None
    path: Path | None = None

    @property
    def description(self) -> str:
        return self.location.url if self.location is not None else str(self.path)


def resolve_source(
    source: str, *, destination: str | None, s3_endpoint_url: str | None = None
) -> ResolvedSource:
    """Decide what ``source`` names (see the module docstring).

    A local path that holds a ``manifest.json`` is one of our backups. Raise
    UsageError for a backup id with no destination to look in, and
    BackupError when nothing of that name exists.
    """
    if source.startswith("s3://"):
        prefix, _, backup_id = source.rstrip("/").rpartition("/")
        if not is_backup_id(backup_id) or prefix == "s3:/":
            raise UsageError(
                f"{source!r} does not name one backup",
                hint="give s3://bucket/prefix/<id>, e.g. s3://backups/shop/20261123T075541Z",
            )
        storage = open_storage(prefix, s3_endpoint_url=s3_endpoint_url)
        return ResolvedSource(source, location=BackupLocation(storage, backup_id))
    path = Path(source)
    if path.exists():
        if path.is_dir() and (path / MANIFEST).is_file() and is_backup_id(path.name):
            location = BackupLocation(LocalStorage(path.parent), path.name)
            return ResolvedSource(source, location=location, path=path)
        return ResolvedSource(source, path=path)
    if is_backup_id(source):
        if not destination:
            raise UsageError(
                f"{source} looks like a backup id, but there is no destination to look in",
                hint="pass --from DEST, or set backup.destination in the catalog",
            )
        storage = open_storage(destination, s3_endpoint_url=s3_endpoint_url)
        if source not in storage.backup_ids():
            raise BackupError(f"no backup {source} in {storage.url}")
        local = storage.local_path(source)
        return ResolvedSource(source, location=BackupLocation(storage, source), path=local)
    raise BackupError(
        f"{source}: no such file, directory or backup id",
        hint="give a backup id (with --from DEST), s3://bucket/prefix/<id>, or a dump's path",
    )


def read_manifest(location: BackupLocation) -> Manifest:
    """Read a backup's manifest. Raise BackupError when it has none (an incomplete backup)."""
    storage, backup_id = location.storage, location.backup_id
    if not storage.exists(backup_id, MANIFEST):
        status = "failed" if storage.exists(backup_id, STATUS) else "incomplete"
        raise BackupError(
            f"backup {location.url} is {status}: it has no manifest.json",
            hint="a backup is complete only once its manifest is written; pick another one "
            "(`backup list`)",
        )
    with storage.open_read(backup_id, MANIFEST) as handle:
        data = handle.read()
    return Manifest.from_json(data, f"{location.url}/{MANIFEST}")


def looks_like_our_incomplete_backup(path: Path) -> bool:
    """Return True for a directory laid out as our backups are, but without its manifest."""
    if not path.is_dir() or (path / MANIFEST).exists():
        return False
    if (path / STATUS).exists():
        return True
    return any(
        entry.name == "dump" or entry.name.startswith("dump.archive") for entry in path.iterdir()
    )


def unlisted_files(location: BackupLocation, manifest: Manifest) -> list[str]:
    """Return the files stored in the backup that its manifest does not list, sorted.

    A backup is what its manifest lists (plus the manifest, its checksum and
    the status file): anything else was put there afterwards.
    """
    listed = {entry.path for entry in manifest.files} | {MANIFEST, MANIFEST_CHECKSUM, STATUS}
    stored = location.storage.files(location.backup_id)
    return sorted(item.path for item in stored if item.path not in listed)


def dump_path(root: Path, manifest: Manifest) -> Path:
    """Return the dump inside a backup of ours at ``root``: its archive file or its directory.

    Read from the manifest, so a damaged archive is read (and its damage
    reported) rather than guessed at from the files present.
    """
    if manifest.layout == "archive":
        for entry in manifest.files:
            if entry.path.startswith(ARCHIVE_NAME):
                return root / entry.path
    return root / DIRECTORY_NAME


@contextlib.contextmanager
def materialize(resolved: ResolvedSource) -> Iterator[tuple[Path, Manifest | None]]:
    """Yield (local path of the dump, its manifest or None for a dump that is not ours).

    A backup in S3 is downloaded to a temporary directory (removed
    afterwards), each file checked against the manifest while it comes.
    Raise BackupError for an incomplete backup of ours, or a downloaded file
    that does not match its manifest.
    """
    location = resolved.location
    if location is None:
        assert resolved.path is not None
        if looks_like_our_incomplete_backup(resolved.path):
            raise BackupError(
                f"{resolved.path} is an incomplete backup: it has no manifest.json",
                hint="if this is a plain mongodump output, name the dump itself "
                f"({resolved.path}/dump or the archive file)",
            )
        yield resolved.path, None
        return
    manifest = read_manifest(location)
    local = location.storage.local_path(location.backup_id)
    if local is not None:
        inside = [path for path in unlisted_files(location, manifest) if path.startswith("dump/")]
        if inside:
            shown = ", ".join(inside[:5]) + (", ..." if len(inside) > 5 else "")
            raise BackupError(
                f"{location.url}: the dump holds {len(inside)} file(s) its manifest does not "
                f"list ({shown}); they would be restored too",
                hint="they were put there after the backup was made: remove them, or restore "
                "another backup (`backup verify` lists them)",
            )
        yield local, manifest
        return
    with tempfile.TemporaryDirectory(prefix="mongo-toolkit-restore-") as temporary:
        root = Path(temporary) / location.backup_id
        download(location, manifest, root)
        yield root, manifest


def download(location: BackupLocation, manifest: Manifest, root: Path) -> None:
    """Copy every file the manifest lists to ``root``, checking size and SHA-256 on the way."""
    for entry in manifest.files:
        target = root / entry.path
        target.parent.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        size = 0
        with (
            location.storage.open_read(location.backup_id, entry.path) as stream,
            open(target, "wb") as handle,
        ):
            while chunk := stream.read(CHUNK_SIZE):
                digest.update(chunk)
                size += len(chunk)
                handle.write(chunk)
        if size != entry.size or digest.hexdigest() != entry.sha256:
            raise BackupError(
                f"{location.url}/{entry.path}: {size} bytes with SHA-256 {digest.hexdigest()}, "
                f"the manifest says {entry.size} bytes with {entry.sha256}",
                hint="the stored copy is damaged; run `backup verify` and restore another backup",
            )
