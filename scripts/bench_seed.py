"""Benchmark `mongo-toolkit seed` on seed 003's `results` collection, in one run.

    python scripts/bench_seed.py                 # what `make bench` runs
    python scripts/bench_seed.py --quick         # smaller counts, no million-document run

It prints, measured side by side in the same process, on one core:

1. documents generated and validated per second by the seed generator (plan of
   field generators, Faker pools, compiled $jsonSchema check), for the
   catalog's `sentimatrix_studio.results` with its seed settings;
2. documents per second of a plain loop that calls Faker for each field of
   the same documents (the way a hand-written seed script does);
3. the ratio of the two (goals: at least 20,000 documents/s, at least 10x);
4. the resident memory of a `seed --out` subprocess writing 1,000,000 of those
   documents: at the start of writing, at the end, and the peak. It should stay
   flat: documents are streamed, nothing per document is kept.

Rates use CPU time (time.process_time) so that other work on the machine does
not count against either side; wall times are printed too.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CATALOG = ROOT / "catalogs" / "sentimatrix.yaml"
NAMESPACE = "sentimatrix_studio.results"
GOAL_RATE = 20_000
GOAL_RATIO = 10.0


def pin_to_one_core() -> str:
    """Run on one CPU (the first this process may use), so "one core" means one core."""
    try:
        cpu = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpu})
        return f"cpu {cpu}"
    except (AttributeError, OSError):  # pragma: no cover (not Linux)
        return "unpinned"


def measure_generator(count: int, seed: int) -> tuple[float, float, float]:
    """Generate and validate ``count`` results documents; return (setup s, CPU s, wall s)."""
    from toolkit.catalog.load import load_catalog
    from toolkit.seed.engine import Seeder
    from toolkit.seed.plan import plan_seed

    started = time.process_time()
    catalog = load_catalog(CATALOG)
    plan = plan_seed(catalog, collections=(NAMESPACE,), counts={NAMESPACE: count})
    seeder = Seeder(plan, seed=seed)
    for collection, documents in seeder.collections():
        assert collection.namespace == NAMESPACE
        stream = iter(documents)
        next(stream)  # the first document: compiled plan, pools made
        setup = time.process_time() - started
        cpu_started, wall_started = time.process_time(), time.perf_counter()
        produced = 1
        for _ in stream:
            produced += 1
        cpu = time.process_time() - cpu_started
        wall = time.perf_counter() - wall_started
        assert produced == count
        return setup, cpu, wall
    raise AssertionError("the plan wrote no results")


def measure_naive_loop(count: int, seed: int) -> tuple[float, float]:
    """The same documents built by calling Faker for every field; return (CPU s, wall s)."""
    from bson import ObjectId
    from faker import Faker

    fake = Faker("en_US")
    fake.seed_instance(seed)
    platforms = ["twitter", "reddit", "youtube", "news", "web"]
    labels = ["positive", "neutral", "negative"]
    start = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    end = dt.datetime(2024, 12, 31, 23, 59, 59, tzinfo=dt.UTC)
    cpu_started, wall_started = time.process_time(), time.perf_counter()
    documents = []
    for _ in range(count):
        documents.append(
            {
                "_id": ObjectId(),
                "project_id": ObjectId(),
                "target_id": ObjectId(),
                "user_id": ObjectId(),
                "scrape_job_id": ObjectId(),
                "platform": fake.random_element(platforms),
                "created_at": fake.date_time_between(start_date=start, end_date=end, tzinfo=dt.UTC),
                "content": {
                    "title": fake.sentence(nb_words=8),
                    "text": fake.paragraph(nb_sentences=4),
                    "date": fake.date_time_between(start_date="-2y", end_date=end, tzinfo=dt.UTC),
                },
                "analysis": {"sentiment": {"label": fake.random_element(labels)}},
            }
        )
    return time.process_time() - cpu_started, time.perf_counter() - wall_started


def _rss_kib(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) of a process in KiB, (0, 0) once it is gone."""
    rss = peak = 0
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
                elif line.startswith("VmHWM:"):
                    peak = int(line.split()[1])
    except OSError:
        pass
    return rss, peak


def measure_out_rss(count: int, seed: int) -> dict[str, float]:
    """Run `seed --out` for ``count`` results in a subprocess and sample its memory."""
    program = (
        "from toolkit.cli import cli, main\n"
        "from toolkit.cli.seed import seed\n"
        "cli.add_command(seed)\n"
        "main()\n"
    )
    with tempfile.TemporaryDirectory(prefix="bench-seed-") as out_dir:
        command = [
            sys.executable, "-c", program,
            "--catalog", str(CATALOG), "--json",
            "seed", "--collection", "results", "--count", f"results={count}",
            "--seed", str(seed), "--batch-size", "10000", "--out", out_dir,
        ]  # fmt: skip
        started = time.perf_counter()
        process = subprocess.Popen(
            command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        samples: list[tuple[int, int]] = []  # (bytes written so far, RSS KiB)
        peak = 0
        while process.poll() is None:
            rss, high = _rss_kib(process.pid)
            written = sum(
                path.stat().st_size for path in Path(out_dir).glob(".*.tmp") if path.exists()
            )
            if rss and written:
                samples.append((written, rss))
            peak = max(peak, high)
            time.sleep(0.2)
        _, error = process.communicate()
        elapsed = time.perf_counter() - started
        if process.returncode != 0:
            raise RuntimeError(f"seed --out failed ({process.returncode}): {error.strip()}")
        final = Path(out_dir) / f"{NAMESPACE}.jsonl"
        size = final.stat().st_size
        lines = sum(1 for _ in final.open("rb"))
    if not samples:
        raise RuntimeError("the seed subprocess ended before any sample was taken")
    tenth = next((rss for written, rss in samples if written >= size * 0.1), samples[0][1])
    return {
        "seconds": elapsed,
        "documents": lines,
        "bytes": size,
        "start_mib": tenth / 1024,
        "end_mib": samples[-1][1] / 1024,
        "max_sampled_mib": max(rss for _, rss in samples) / 1024,
        "peak_mib": peak / 1024,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="small counts, no million-document run"
    )
    parser.add_argument("--documents", type=int, default=None, help="documents for the generator")
    parser.add_argument("--naive", type=int, default=None, help="documents for the naive loop")
    parser.add_argument("--out-documents", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    options = parser.parse_args(argv)
    documents = options.documents or (20_000 if options.quick else 100_000)
    naive_documents = options.naive or (1_000 if options.quick else 5_000)

    where = pin_to_one_core()
    import faker

    print(f"seed bench: {NAMESPACE} ({CATALOG.name}), seed {options.seed}, {where}, "
          f"Python {sys.version.split()[0]}, Faker {faker.VERSION}")  # fmt: skip
    setup, cpu, wall = measure_generator(documents, options.seed)
    rate = documents / cpu
    print(
        f"  generator + validator: {documents:,} documents in {cpu:.2f} s CPU ({wall:.2f} s wall)"
        f" -> {rate:,.0f} documents/s  (setup: plan, pools, compile {setup:.2f} s)"
    )
    naive_cpu, naive_wall = measure_naive_loop(naive_documents, options.seed)
    naive_rate = naive_documents / naive_cpu
    print(
        f"  naive Faker-per-field loop: {naive_documents:,} documents in {naive_cpu:.2f} s CPU "
        f"({naive_wall:.2f} s wall) -> {naive_rate:,.0f} documents/s (no validation)"
    )
    ratio = rate / naive_rate
    print(
        f"  ratio: {ratio:.1f}x (goal >= {GOAL_RATIO:.0f}x: {'met' if ratio >= GOAL_RATIO else 'MISSED'}); "
        f"goal >= {GOAL_RATE:,} documents/s: {'met' if rate >= GOAL_RATE else 'MISSED'}"
    )
    if not options.quick:
        result = measure_out_rss(options.out_documents, options.seed)
        growth = result["end_mib"] - result["start_mib"]
        print(
            f"  seed --out, {result['documents']:,} documents ({result['bytes'] / 2**20:,.0f} MiB) "
            f"in {result['seconds']:.1f} s wall: RSS at 10% written {result['start_mib']:.1f} MiB, "
            f"at the end {result['end_mib']:.1f} MiB ({growth:+.1f} MiB), "
            f"peak {result['peak_mib']:.1f} MiB"
        )
    return 0 if rate >= GOAL_RATE and ratio >= GOAL_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
