"""Build (once per machine) and copy (once per test session) a Debian bookworm root.

The host scenario runs the host plays against a fresh copy of a minimal Debian
root through Ansible's community.general.chroot connection. debootstrap takes
about a minute and 300 MB, so the pristine root is built once under
.cache/debootstrap-bookworm (git-ignored) and copied for each session with
`cp -a --reflink=auto`, so every run starts from the same clean tree.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[2]
CACHE = REPOSITORY / ".cache"
PRISTINE = CACHE / "debootstrap-bookworm"
STAMP = PRISTINE / ".mongo-ops-toolkit-root"
SUITE = "bookworm"
MIRROR = os.environ.get("DEBOOTSTRAP_MIRROR", "http://deb.debian.org/debian")

# What the roles install with apt, preinstalled so the scenario needs no
# package download: systemd and dbus (units), python3 (Ansible modules),
# python3-apt (ansible.builtin.apt), python3-venv (the toolkit's and pymongo's
# virtual environments), systemd-timesyncd (time sync), logrotate (mongod log
# rotation), cron (the backup role's cron alternative), python3-packaging
# (ansible.builtin.pip).
PACKAGES = (
    "systemd",
    "systemd-sysv",
    "dbus",
    "python3",
    "python3-apt",
    "python3-packaging",
    "python3-venv",
    "systemd-timesyncd",
    "logrotate",
    "cron",
)


def missing_requirements() -> str | None:
    """Return why the scenario cannot run here (what to install), or None."""
    if os.geteuid() != 0:
        return "the host scenario needs root (chroot and debootstrap); run the tests as root"
    cached = STAMP.exists() and STAMP.read_text() == _stamp_text()
    if shutil.which("debootstrap") is None and not cached:
        return "debootstrap is not installed: apt-get install -y debootstrap"
    if shutil.which("chroot") is None:
        return "chroot is not installed: apt-get install -y coreutils"
    return None


@contextlib.contextmanager
def cache_lock() -> Iterator[None]:
    """Hold an exclusive lock on the cache while building in it (parallel test runs)."""
    CACHE.mkdir(exist_ok=True)
    with open(CACHE / ".ansible-tests.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _stamp_text() -> str:
    return f"debootstrap --variant=minbase {SUITE} {','.join(PACKAGES)}\n"


def build_pristine_root() -> float:
    """Build the pristine root unless it is there; return the seconds it took (0 if cached).

    The root is rebuilt when the package list above changes.
    """
    with cache_lock():
        if STAMP.exists() and STAMP.read_text() == _stamp_text():
            return 0.0
        return _debootstrap()


def _debootstrap() -> float:
    staging = CACHE / f"debootstrap-bookworm.build-{os.getpid()}"
    if staging.exists():
        shutil.rmtree(staging)
    started = time.monotonic()
    subprocess.run(
        [
            "debootstrap",
            "--variant=minbase",
            "--include=" + ",".join(PACKAGES),
            SUITE,
            str(staging),
            MIRROR,
        ],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    # apt's downloaded .debs are not needed in the copies.
    for deb in (staging / "var/cache/apt/archives").glob("*.deb"):
        deb.unlink()
    (staging / STAMP.name).write_text(_stamp_text())
    if PRISTINE.exists():
        shutil.rmtree(PRISTINE)
    staging.rename(PRISTINE)
    return time.monotonic() - started


def copy_root(destination: Path) -> None:
    """Copy the pristine root to destination (which must not exist)."""
    with cache_lock():
        subprocess.run(["cp", "-a", "--reflink=auto", str(PRISTINE), str(destination)], check=True)


def remove_stale_sessions(prefix: str) -> None:
    """Remove CACHE/<prefix><pid> directories whose test process is gone (a killed run)."""
    for directory in CACHE.glob(f"{prefix}*"):
        suffix = directory.name[len(prefix) :]
        if not suffix.isdigit() or int(suffix) == os.getpid():
            continue
        try:
            os.kill(int(suffix), 0)
        except ProcessLookupError:
            remove_root(directory)
        except PermissionError:
            pass  # another user's live process


def remove_root(root: Path) -> None:
    """Remove a session's root; refuse anything that is not under the cache."""
    resolved = root.resolve()
    if CACHE.resolve() not in resolved.parents or resolved == PRISTINE.resolve():
        raise RuntimeError(f"refusing to remove {resolved}")
    shutil.rmtree(resolved)
