"""`mongo-toolkit seed` through Click: --out files, determinism, exit codes."""

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.unit.seed.helpers import write_catalog
from toolkit.cli import cli, main
from toolkit.cli.seed import seed

cli.add_command(seed)  # the lead registers it in toolkit/cli/__init__.py; tests do it here

CATALOGS = Path(__file__).resolve().parents[3] / "catalogs"
ENV = {"SENTIMATRIX_TEST_PASSWORD": "password123"}


def run(*args, env=None):
    return CliRunner().invoke(cli, list(args), env=env or ENV, catch_exceptions=False)


def exit_code_of(argv, capsys):
    with pytest.raises(SystemExit) as exited:
        main(argv)
    captured = capsys.readouterr()
    return exited.value.code, captured.out, captured.err


def read_all(directory: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(directory.iterdir())}


def test_out_twice_with_the_same_seed_is_byte_identical(tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    result = run("--catalog", str(CATALOGS), "seed", "--seed", "1", "--out", str(first))
    assert result.exit_code == 0, result.output
    result = run(
        "--catalog", str(CATALOGS), "seed", "--seed", "1", "--out", str(second), "--batch-size", "7"
    )
    assert result.exit_code == 0, result.output
    files = read_all(first)
    assert files == read_all(second)
    assert len(files) == 24  # every collection of the four catalogs
    assert all(content for content in files.values())
    assert "sentimatrix_studio.results.jsonl" in files
    assert not list(first.glob(".*"))  # no temporary file left behind


def test_another_seed_gives_other_documents(tmp_path):
    for name, value in (("a", "1"), ("b", "2")):
        result = run(
            "--catalog",
            str(CATALOGS),
            "seed",
            "--db",
            "archiverr",
            "--seed",
            value,
            "--out",
            str(tmp_path / name),
        )
        assert result.exit_code == 0, result.output
    assert read_all(tmp_path / "a") != read_all(tmp_path / "b")


def test_json_summary_and_selection(tmp_path):
    out = tmp_path / "out"
    result = run(
        "--catalog", str(CATALOGS), "--json", "seed", "--collection", "results", "--db", "sentimatrix_studio",
        "--count", "results=40", "--seed", "3", "--out", str(out),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["seed"] == 3 and payload["documents"] == 40 and payload["rejected"] == 0
    [collection] = payload["collections"]
    assert collection["namespace"] == "sentimatrix_studio.results" and collection["documents"] == 40
    assert [path.name for path in out.iterdir()] == ["sentimatrix_studio.results.jsonl"]
    assert len((out / "sentimatrix_studio.results.jsonl").read_text().splitlines()) == 40


def test_scale_multiplies_counts(tmp_path):
    catalog = write_catalog(tmp_path, {"items": {"seed": {"count": 10}}})
    result = run(
        "--catalog",
        str(catalog),
        "--json",
        "seed",
        "--scale",
        "2.5",
        "--seed",
        "1",
        "--out",
        str(tmp_path / "o"),
    )
    assert json.loads(result.output)["documents"] == 25


def test_a_cycle_exits_2_naming_the_collections(tmp_path, capsys):
    catalog = write_catalog(
        tmp_path,
        {
            "a": {"seed": {"count": 1, "fields": {"b_id": {"ref": "b._id"}}}},
            "b": {"seed": {"count": 1, "fields": {"a_id": {"ref": "a._id"}}}},
        },
    )
    code, _, err = exit_code_of(
        ["--catalog", str(catalog), "seed", "--out", str(tmp_path / "o")], capsys
    )
    assert code == 2
    assert "cycle" in err and "shop.a" in err and "shop.b" in err
    assert "Traceback" not in err


def test_an_unsatisfiable_schema_exits_2_naming_the_field(tmp_path, capsys):
    catalog = write_catalog(
        tmp_path,
        {
            "c": {
                "validator": {
                    "$jsonSchema": {
                        "properties": {"age": {"bsonType": "int", "minimum": 5, "maximum": 1}}
                    }
                },
                "seed": {"count": 1},
            }
        },
    )
    code, _, err = exit_code_of(
        ["--catalog", str(catalog), "seed", "--out", str(tmp_path / "o")], capsys
    )
    assert code == 2 and "age" in err and "no integer" in err


def test_a_missing_password_variable_exits_2_and_no_password_is_printed(
    tmp_path, capsys, monkeypatch
):
    monkeypatch.delenv("SENTIMATRIX_TEST_PASSWORD", raising=False)
    code, out, err = exit_code_of(
        [
            "--catalog",
            str(CATALOGS / "sentimatrix.yaml"),
            "seed",
            "--collection",
            "users",
            "--out",
            str(tmp_path / "o"),
        ],
        capsys,
    )
    assert code == 2 and "SENTIMATRIX_TEST_PASSWORD" in err
    monkeypatch.setenv("SENTIMATRIX_TEST_PASSWORD", "hunter2-secret")
    code, out, err = exit_code_of(
        [
            "--catalog",
            str(CATALOGS / "sentimatrix.yaml"),
            "--json",
            "seed",
            "--collection",
            "users",
            "--seed",
            "1",
            "--out",
            str(tmp_path / "o"),
        ],
        capsys,
    )
    assert code == 0
    assert "hunter2-secret" not in out + err
    assert "hunter2-secret" not in (tmp_path / "o" / "sentimatrix_studio.users.jsonl").read_text()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--drop", "--append"], "exclude each other"),
        (["--drop", "--out", "x"], "--out always replaces"),
        (["--count", "users"], "COLLECTION=N"),
        (["--now", "someday"], "ISO date"),
        (["--collection", "ghosts", "--out", "x"], "no collection 'ghosts'"),
        (
            ["--db", "archiverr", "--collection", "nyrkio.users", "--out", "x"],
            "not in the selected database(s) archiverr",
        ),
    ],
)
def test_usage_errors_exit_2(args, message, capsys):
    code, _, err = exit_code_of(["--catalog", str(CATALOGS), "seed", *args], capsys)
    assert code == 2 and message in err


def test_now_moves_the_dates(tmp_path):
    for name, now in (("a", "2025-01-01"), ("b", "2030-06-01T00:00:00Z")):
        run(
            "--catalog",
            str(CATALOGS),
            "seed",
            "--db",
            "archiverr",
            "--seed",
            "1",
            "--now",
            now,
            "--out",
            str(tmp_path / name),
        )
    first = (tmp_path / "a" / "archiverr.executions.jsonl").read_text().splitlines()[0]
    later = (tmp_path / "b" / "archiverr.executions.jsonl").read_text().splitlines()[0]
    started = [json.loads(line)["started_at"]["$date"]["$numberLong"] for line in (first, later)]
    assert int(started[1]) > int(started[0]) + 5 * 365 * 86_400_000


def test_separate_processes_write_the_same_bytes(tmp_path):
    """Nothing depends on the process: not hash randomisation, not the clock."""
    import os
    import subprocess
    import sys

    program = "from toolkit.cli import cli, main\nfrom toolkit.cli.seed import seed\ncli.add_command(seed)\nmain()\n"
    outputs = []
    for hash_seed in ("1", "2"):
        out = tmp_path / hash_seed
        env = dict(os.environ, PYTHONHASHSEED=hash_seed, SENTIMATRIX_TEST_PASSWORD="password123")
        result = subprocess.run(
            [sys.executable, "-c", program, "--catalog", str(CATALOGS), "seed", "--db", "nyrkio",
             "--db", "sentimatrix_studio", "--seed", "9", "--out", str(out)],
            capture_output=True, text=True, env=env, cwd=Path(__file__).resolve().parents[3], timeout=120,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        outputs.append(read_all(out))
    assert outputs[0] == outputs[1]


def test_help_says_when_now_defaults_to_today():
    result = run("seed", "--help")
    text = " ".join(result.output.split())
    assert "Default: today (midnight UTC) when inserting" in text
    assert "2025-01-01 with --out" in text


@pytest.mark.parametrize("pattern", ["^[[:alpha:]]+$", "^a\\z", "\\h", "^\\p{L}+$"])
def test_pcre_only_pattern_syntax_exits_2_naming_the_field(tmp_path, capsys, pattern):
    catalog = write_catalog(
        tmp_path,
        {
            "people": {
                "validator": {
                    "$jsonSchema": {
                        "properties": {
                            "profile": {
                                "bsonType": "object",
                                "properties": {"name": {"bsonType": "string", "pattern": pattern}},
                            }
                        }
                    }
                },
                "seed": {"count": 3},
            }
        },
    )
    code, _, err = exit_code_of(
        ["--catalog", str(catalog), "seed", "--out", str(tmp_path / "o")], capsys
    )
    assert code == 2 and "Traceback" not in err
    text = " ".join(err.split())
    assert "unsupported PCRE syntax in pattern" in text and "at profile.name" in text
    assert not (tmp_path / "o").exists()
