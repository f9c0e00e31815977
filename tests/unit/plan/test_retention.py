"""plan_retention follows borg prune exactly, plus our rules for incomplete backups.

The worked examples come from borg's own documentation and test suite
(docs/misc/prune-example.txt, testsuite archiver/prune_cmd.py); the property
test compares the planner with a reference written here from borg's
description, structured differently on purpose (group by period first).
"""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toolkit.plan.retention import (
    BackupRecord,
    RetentionDecision,
    RetentionPolicy,
    parse_policy,
    plan_retention,
)


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def complete(backup_id: str, started_at: datetime) -> BackupRecord:
    return BackupRecord(backup_id, started_at, "complete")


def kept_rules(decisions: list[RetentionDecision]) -> dict[str, tuple[str, ...]]:
    return {d.id: d.rules for d in decisions if d.keep}


def deleted(decisions: list[RetentionDecision]) -> set[str]:
    return {d.id for d in decisions if not d.keep}


# -- borg's documented example ----------------------------------------------------------------


def daily_2015(times_per_day=((2, 30),)) -> list[BackupRecord]:
    """At least one backup on each day of 2015 except 2015-12-19 (prune-example.txt)."""
    backups = []
    day = date(2015, 1, 1)
    while day.year == 2015:
        if day != date(2015, 12, 19):
            for hour, minute in times_per_day:
                moment = at(day.year, day.month, day.day, hour, minute)
                backups.append(complete(f"{day.isoformat()}T{hour:02d}{minute:02d}", moment))
        day += timedelta(days=1)
    return backups


BORG_EXAMPLE_KEPT = {
    # --keep-daily 14: 2015-12-31 back to 2015-12-17, skipping the missing 2015-12-19
    **{
        f"2015-12-{day:02d}": f"daily[{index}]"
        for index, day in enumerate([31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 18, 17], 1)
    },
    # --keep-monthly 6: December is passed over (its newest is kept by daily) and not counted
    "2015-11-30": "monthly[1]",
    "2015-10-31": "monthly[2]",
    "2015-09-30": "monthly[3]",
    "2015-08-31": "monthly[4]",
    "2015-07-31": "monthly[5]",
    "2015-06-30": "monthly[6]",
    # --keep-yearly 1: 2015's newest is kept by daily, no older year: the oldest is kept
    "2015-01-01": "yearly[oldest]",
}


def test_borg_documentation_example_is_reproduced_exactly():
    # docs/misc/prune-example.txt: "Assume it is 2016-01-01 ... borg prune --keep-daily 14
    # --keep-monthly 6 --keep-yearly 1"
    decisions = plan_retention(
        daily_2015(),
        RetentionPolicy(keep_daily=14, keep_monthly=6, keep_yearly=1),
        now=at(2016, 1, 1),
    )
    assert {key[:10]: rules for key, rules in kept_rules(decisions).items()} == {
        day: (rule,) for day, rule in BORG_EXAMPLE_KEPT.items()
    }
    assert len(deleted(decisions)) == 364 - 21


def test_borg_documentation_example_with_several_backups_a_day_keeps_each_days_newest():
    decisions = plan_retention(
        daily_2015(times_per_day=((1, 0), (9, 15), (21, 45))),
        RetentionPolicy(keep_daily=14, keep_monthly=6, keep_yearly=1),
        now=at(2016, 1, 1),
    )
    kept = kept_rules(decisions)
    expected = {
        # the oldest backup overall is the first of 2015-01-01, not that day's newest
        (f"{day}T0100" if rule.endswith("[oldest]") else f"{day}T2145"): (rule,)
        for day, rule in BORG_EXAMPLE_KEPT.items()
    }
    assert kept == expected


def test_borg_prune_repository_example():
    # borg's testsuite test_prune_repository_example: 24 archives, 21 kept, rule numbers checked.
    days = [
        (2015, 1, 1),
        (2015, 6, 30), (2015, 7, 31), (2015, 8, 31), (2015, 9, 30), (2015, 10, 31), (2015, 11, 30),
        (2015, 12, 17), (2015, 12, 18), (2015, 12, 20), (2015, 12, 21), (2015, 12, 22),
        (2015, 12, 23), (2015, 12, 24), (2015, 12, 25), (2015, 12, 26), (2015, 12, 27),
        (2015, 12, 28), (2015, 12, 29), (2015, 12, 30), (2015, 12, 31),
        (2015, 1, 2), (2015, 5, 31), (2015, 12, 16),
    ]  # fmt: skip
    backups = [complete(f"test{index:02d}", at(*day)) for index, day in enumerate(days, 1)]
    decisions = plan_retention(
        backups, RetentionPolicy(keep_daily=14, keep_monthly=6, keep_yearly=1), now=at(2016, 1, 1)
    )
    kept = kept_rules(decisions)
    assert kept["test01"] == ("yearly[oldest]",)
    for index in range(1, 7):
        assert kept[f"test{8 - index:02d}"] == (f"monthly[{index}]",)
    for index in range(1, 15):
        assert kept[f"test{22 - index:02d}"] == (f"daily[{index}]",)
    assert deleted(decisions) == {"test22", "test23", "test24"}


# borg testsuite test_prune_split: one rule at a time over archives 1..13.
SPLIT_ARCHIVES = [
    at(2015, 1, 1, 10, 0, 0),  # 1: years apart
    at(2016, 1, 1, 10, 0, 0),
    at(2017, 1, 1, 10, 0, 0),
    at(2017, 2, 1, 10, 0, 0),  # 4: months apart
    at(2017, 3, 1, 10, 0, 0),
    at(2017, 3, 2, 10, 0, 0),  # 6: days apart
    at(2017, 3, 3, 10, 0, 0),
    at(2017, 3, 4, 10, 0, 0),
    at(2017, 10, 1, 9, 45, 0),  # 9: minutes apart
    at(2017, 10, 1, 9, 55, 0),
    at(2017, 10, 1, 10, 0, 1),  # 11: seconds apart
    at(2017, 10, 1, 10, 0, 3),
    at(2017, 10, 1, 10, 0, 5),
]


@pytest.mark.parametrize(
    ("option", "count", "expected"),
    [
        ("keep_yearly", 3, {13, 2, 1}),
        ("keep_monthly", 3, {13, 8, 4}),
        ("keep_weekly", 2, {13, 8}),
        ("keep_daily", 3, {13, 8, 7}),
        ("keep_hourly", 3, {13, 10, 8}),
        ("keep_minutely", 3, {13, 10, 9}),
        ("keep_last", 4, {13, 12, 11, 10}),  # borg: --keep-last is --keep-secondly
    ],
)
def test_borg_prune_split_cases(option, count, expected):
    backups = [complete(str(index), moment) for index, moment in enumerate(SPLIT_ARCHIVES, 1)]
    decisions = plan_retention(backups, RetentionPolicy(**{option: count}), now=at(2018, 1, 1))
    assert {int(key) for key in kept_rules(decisions)} == expected
    rule = option.removeprefix("keep_")
    assert all(rules[0].startswith(f"{rule}[") for rules in kept_rules(decisions).values())


def test_borg_keep_oldest_when_the_target_cannot_be_met():
    # borg testsuite test_prune_split_keep_oldest
    backups = [
        complete("1", at(2018, 1, 1, 10)),  # oldest, but not the last of its year
        complete("2", at(2018, 12, 30, 10)),
        complete("3", at(2018, 12, 31, 10)),
        complete("4", at(2019, 12, 31, 10)),
    ]
    decisions = plan_retention(backups, RetentionPolicy(keep_yearly=3), now=at(2020, 1, 1))
    assert kept_rules(decisions) == {
        "4": ("yearly[1]",),
        "3": ("yearly[2]",),
        "1": ("yearly[oldest]",),
    }
    decisions = plan_retention(backups, RetentionPolicy(keep_yearly=2), now=at(2020, 1, 1))
    assert kept_rules(decisions) == {"4": ("yearly[1]",), "3": ("yearly[2]",)}


@pytest.mark.parametrize(
    ("interval", "expected"),
    [
        (timedelta(seconds=15), set()),
        (timedelta(minutes=2), {0}),
        (timedelta(hours=1), {0}),
        (timedelta(hours=2), {0, 1}),
        (timedelta(hours=3), {0, 1, 2}),
        (timedelta(hours=24), {0, 1, 2, 3}),
        (timedelta(hours=26), {0, 1, 2, 3, 4}),
        (timedelta(days=2), {0, 1, 2, 3, 4}),
        (timedelta(hours=50), {0, 1, 2, 3, 4, 5}),
        (timedelta(days=3), {0, 1, 2, 3, 4, 5}),
        (timedelta(weeks=1), {0, 1, 2, 3, 4, 5}),
        (timedelta(days=365), {0, 1, 2, 3, 4, 5}),
    ],
)
def test_borg_keep_within_cases(interval, expected):
    # borg testsuite test_prune_within: 1 min, 1.5 h, 2.5 h, 3.5 h, 25 h and 49 h old.
    now = at(2026, 11, 23, 12)
    offsets = [60, 90 * 60, 150 * 60, 210 * 60, 25 * 3600, 49 * 3600]
    backups = [complete(str(i), now - timedelta(seconds=s)) for i, s in enumerate(offsets)]
    for listed in (backups, backups[::-1]):
        decisions = plan_retention(listed, RetentionPolicy(keep_within=interval), now=now)
        within = {int(d.id) for d in decisions if d.rules == ("within",)}
        assert within == expected
        # the newest complete backup survives even a keep_within that matches nothing
        assert kept_rules(decisions)["0"] == (("within",) if expected else ("newest",))


def test_keep_within_is_strictly_newer_than_the_cutoff():
    now = at(2026, 11, 23, 12)
    backups = [
        complete("new", now - timedelta(hours=1)),
        complete("edge", now - timedelta(days=1)),
        complete("old", now - timedelta(days=1, seconds=1)),
    ]
    decisions = plan_retention(backups, RetentionPolicy(keep_within=timedelta(days=1)), now=now)
    assert kept_rules(decisions) == {"new": ("within",)}
    assert deleted(decisions) == {"edge", "old"}


def test_borg_retain_and_expire_oldest():
    # borg testsuite test_prune_retain_and_expire_oldest: prune daily after each backup.
    policy = RetentionPolicy(keep_daily=7, keep_monthly=1)
    stored = [complete("original_archive", at(2020, 9, 1, 11, 15))]

    def back_up_and_prune(backup_id: str, moment: datetime) -> list[RetentionDecision]:
        nonlocal stored
        stored.append(complete(backup_id, moment))
        decisions = plan_retention(stored, policy, now=moment + timedelta(minutes=5))
        stored = [b for b in stored if b.id not in deleted(decisions)]
        return decisions

    for day in range(1, 31):
        back_up_and_prune(f"september{day:02d}", at(2020, 9, day, 12))
    for day in range(1, 7):
        decisions = back_up_and_prune(f"october{day:02d}", at(2020, 10, day, 12))
    assert kept_rules(decisions)["original_archive"] == ("monthly[oldest]",)

    decisions = back_up_and_prune("october07", at(2020, 10, 7, 12))
    assert kept_rules(decisions)["september30"] == ("monthly[1]",)
    assert "original_archive" in deleted(decisions)
    assert sorted(b.id for b in stored) == sorted(
        [f"october{day:02d}" for day in range(1, 8)] + ["september30"]
    )


# -- edge cases ---------------------------------------------------------------------------------


def test_no_backups_plans_nothing():
    assert plan_retention([], RetentionPolicy(keep_daily=7), now=at(2026, 1, 1)) == []


def test_a_policy_without_any_rule_is_refused():
    with pytest.raises(ValueError, match="refusing to delete every backup"):
        plan_retention([complete("a", at(2026, 1, 1))], RetentionPolicy(), now=at(2026, 1, 2))


@pytest.mark.parametrize(
    "options",
    [
        {"keep_daily": 0},
        {"keep_daily": -1},
        {"keep_weekly": True},
        {"keep_monthly": 1.5},
        {"keep_within": timedelta(0)},
        {"keep_within": 7},
    ],
)
def test_policy_values_are_checked(options):
    with pytest.raises(ValueError):
        RetentionPolicy(**options)


def test_only_incomplete_backups_are_all_deleted_with_their_reason():
    now = at(2026, 11, 23, 12)
    backups = [
        BackupRecord("a", now - timedelta(days=3), "incomplete"),
        BackupRecord("b", now - timedelta(days=2), "failed"),
    ]
    decisions = plan_retention(backups, RetentionPolicy(keep_last=5), now=now)
    assert decisions == [
        RetentionDecision("b", False, (), "failed (no complete manifest)"),
        RetentionDecision("a", False, (), "incomplete (no complete manifest)"),
    ]


def test_a_recent_incomplete_backup_newer_than_every_complete_one_may_still_be_running():
    now = at(2026, 11, 23, 12)
    backups = [
        complete("done", now - timedelta(hours=5)),
        BackupRecord("running", now - timedelta(minutes=10), "incomplete"),
        BackupRecord("crashed", now - timedelta(minutes=20), "failed"),
        BackupRecord("stale", now - timedelta(hours=6), "incomplete"),  # older than "done"
    ]
    decisions = plan_retention(backups, RetentionPolicy(keep_last=1), now=now)
    assert [(d.id, d.keep, d.rules, d.reason) for d in decisions] == [
        ("running", True, ("running",), "may still be running"),
        ("crashed", False, (), "failed (no complete manifest)"),
        ("done", True, ("last[1]",), decisions[2].reason),
        ("stale", False, (), "incomplete (no complete manifest)"),
    ]
    # once it is as old as the grace period, it is deleted
    for grace in (timedelta(minutes=5), timedelta(minutes=10)):
        later = plan_retention(backups, RetentionPolicy(keep_last=1), now=now, grace=grace)
        assert "running" in deleted(later)


def test_an_incomplete_backup_with_no_complete_one_is_kept_during_the_grace_period():
    now = at(2026, 11, 23, 12)
    backups = [BackupRecord("first", now - timedelta(hours=2), "incomplete")]
    assert kept_rules(plan_retention(backups, RetentionPolicy(keep_daily=1), now=now)) == {
        "first": ("running",)
    }
    assert deleted(
        plan_retention(backups, RetentionPolicy(keep_daily=1), now=now + timedelta(days=1))
    )


def test_incomplete_backups_neither_count_nor_use_up_a_period():
    backups = [
        complete("mon", at(2026, 11, 23, 1)),
        BackupRecord("sun-late", at(2026, 11, 22, 23), "incomplete"),
        complete("sun", at(2026, 11, 22, 1)),
        complete("sat", at(2026, 11, 21, 1)),
    ]
    decisions = plan_retention(backups, RetentionPolicy(keep_daily=2), now=at(2026, 11, 25))
    assert kept_rules(decisions) == {"mon": ("daily[1]",), "sun": ("daily[2]",)}
    assert deleted(decisions) == {"sun-late", "sat"}


def test_the_newest_complete_backup_is_never_deleted():
    now = at(2026, 11, 23, 12)
    backups = [complete(str(day), now - timedelta(days=day)) for day in range(10, 15)]
    decisions = plan_retention(backups, RetentionPolicy(keep_within=timedelta(days=1)), now=now)
    assert kept_rules(decisions) == {"10": ("newest",)}
    assert decisions[0].reason == "the newest complete backup is never deleted"


def test_ties_in_time_are_broken_by_id_whatever_the_input_order():
    moment = at(2026, 11, 23, 7, 55, 41)
    backups = [complete("b", moment), complete("c", moment), complete("a", moment)]
    for order in ([0, 1, 2], [2, 1, 0], [1, 2, 0]):
        decisions = plan_retention(
            [backups[i] for i in order], RetentionPolicy(keep_last=1), now=moment
        )
        assert [d.id for d in decisions] == ["c", "b", "a"]
        assert kept_rules(decisions) == {"c": ("last[1]",)}


def test_a_rule_that_cannot_fill_its_count_keeps_the_oldest_backup():
    backups = [
        complete("day1-morning", at(2026, 11, 1, 8)),
        complete("day1-evening", at(2026, 11, 1, 20)),
        complete("day2", at(2026, 11, 2, 8)),
    ]
    decisions = plan_retention(backups, RetentionPolicy(keep_daily=5), now=at(2026, 11, 3))
    assert kept_rules(decisions) == {
        "day2": ("daily[1]",),
        "day1-evening": ("daily[2]",),
        "day1-morning": ("daily[oldest]",),
    }
    assert "daily found only 2 of 5 days" in decisions[-1].reason


def test_a_filled_rule_does_not_keep_the_oldest():
    backups = [complete(f"d{day}", at(2026, 11, day, 8)) for day in (1, 2, 3)]
    decisions = plan_retention(backups, RetentionPolicy(keep_daily=3), now=at(2026, 11, 4))
    assert kept_rules(decisions) == {"d3": ("daily[1]",), "d2": ("daily[2]",), "d1": ("daily[3]",)}


def test_weeks_are_iso_weeks():
    # ISO 8601 (borg's %G-%V): 2020-12-28 to 2021-01-03 is one week, 2020-W53, across the new year.
    backups = [
        complete("wed-2020-W52", at(2020, 12, 23, 12)),
        complete("thu-2020-W53", at(2020, 12, 31, 12)),
        complete("sun-2020-W53", at(2021, 1, 3, 12)),
        complete("mon-2021-W01", at(2021, 1, 4, 12)),
    ]
    decisions = plan_retention(backups, RetentionPolicy(keep_weekly=3), now=at(2021, 1, 5))
    assert kept_rules(decisions) == {
        "mon-2021-W01": ("weekly[1]",),
        "sun-2020-W53": ("weekly[2]",),
        "wed-2020-W52": ("weekly[3]",),
    }
    assert deleted(decisions) == {"thu-2020-W53"}


def test_periods_are_utc_whatever_the_offset_of_the_given_times():
    paris = timezone(timedelta(hours=1))
    backups = [
        # 00:30 in Paris on the 2nd is 23:30 UTC on the 1st: the same UTC day as "early"
        complete("late", datetime(2026, 11, 2, 0, 30, tzinfo=paris)),
        complete("early", at(2026, 11, 1, 10)),
    ]
    decisions = plan_retention(backups, RetentionPolicy(keep_daily=2), now=at(2026, 11, 3))
    assert kept_rules(decisions) == {"late": ("daily[1]",), "early": ("daily[oldest]",)}


def test_deletions_say_why_no_rule_keeps_them():
    backups = [complete(f"d{day:02d}", at(2026, 11, day, 8)) for day in range(1, 11)]
    backups.append(complete("d10-early", at(2026, 11, 10, 2)))
    decisions = plan_retention(
        backups,
        RetentionPolicy(keep_within=timedelta(days=2), keep_daily=3),
        now=at(2026, 11, 10, 12),
    )
    reasons = {d.id: d.reason for d in decisions}
    assert kept_rules(decisions) == {
        "d10": ("within",),
        "d10-early": ("within",),
        "d09": ("within",),
        "d08": ("daily[1]",),
        "d07": ("daily[2]",),
        "d06": ("daily[3]",),
    }
    assert reasons["d05"] == (
        "no rule keeps it: within: started 2d or more before now; "
        "daily: older than the 3 days it keeps"
    )
    assert reasons["d08"] == "the newest backup of day 2026-11-08 UTC (daily keeps 3)"
    assert reasons["d09"] == "started within 2d before now"

    decisions = plan_retention(backups, RetentionPolicy(keep_daily=1), now=at(2026, 11, 10, 12))
    reasons = {d.id: d.reason for d in decisions}
    assert reasons["d10-early"] == "no rule keeps it: daily: not the newest backup of its day"
    assert reasons["d09"] == "no rule keeps it: daily: older than the 1 day it keeps"


def test_input_errors_are_refused():
    good = complete("a", at(2026, 1, 1))
    policy = RetentionPolicy(keep_daily=1)
    with pytest.raises(ValueError, match="listed twice"):
        plan_retention([good, good], policy, now=at(2026, 1, 2))
    with pytest.raises(ValueError, match="unknown status"):
        plan_retention([BackupRecord("x", at(2026, 1, 1), "done")], policy, now=at(2026, 1, 2))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="timezone-aware"):
        plan_retention([complete("n", datetime(2026, 1, 1))], policy, now=at(2026, 1, 2))
    with pytest.raises(ValueError, match="now"):
        plan_retention([good], policy, now=datetime(2026, 1, 2))


# -- parse_policy -------------------------------------------------------------------------------


def test_parse_policy_reads_the_catalog_section():
    policy = parse_policy(
        {
            "keep_within": "2d",
            "keep_last": 3,
            "keep_hourly": 24,
            "keep_daily": 30,
            "keep_weekly": 8,
            "keep_monthly": 12,
            "keep_yearly": 5,
        }
    )
    assert policy == RetentionPolicy(
        keep_within=timedelta(days=2),
        keep_last=3,
        keep_hourly=24,
        keep_daily=30,
        keep_weekly=8,
        keep_monthly=12,
        keep_yearly=5,
    )
    assert parse_policy({"keep_within": 3600}).keep_within == timedelta(hours=1)
    with pytest.raises(ValueError, match="keep_within: must be longer than 0s"):
        parse_policy({"keep_within": "0d"})


def test_parse_policy_lists_every_problem_at_once():
    with pytest.raises(ValueError) as caught:
        parse_policy(
            {
                "keep_daily": 0,
                "keep_weekly": "4",
                "keep_monthly": True,
                "keep_forever": 1,
                "keep_within": "7 days",
            }
        )
    message = str(caught.value)
    for text in ("keep_daily", "keep_weekly", "keep_monthly", "'keep_forever'", "keep_within"):
        assert text in message


def test_parse_policy_of_an_empty_section_gives_an_empty_policy_that_planning_refuses():
    policy = parse_policy({})
    assert policy.empty
    with pytest.raises(ValueError):
        plan_retention([], policy, now=at(2026, 1, 1))


# -- property test against an independent reference ---------------------------------------------


REFERENCE_PERIODS = [
    ("last", "keep_last", "%Y-%m-%d %H:%M:%S"),
    ("minutely", "keep_minutely", "%Y-%m-%d %H:%M"),
    ("hourly", "keep_hourly", "%Y-%m-%d %H"),
    ("daily", "keep_daily", "%Y-%m-%d"),
    ("weekly", "keep_weekly", "%G-%V"),
    ("monthly", "keep_monthly", "%Y-%m"),
    ("yearly", "keep_yearly", "%Y"),
]


def reference_retention(backups, policy, now, grace):
    """borg's rules, written as: group by period, take each group's newest, walk the groups."""

    def order(backup):
        return (backup.started_at, backup.id)

    complete_ones = [b for b in backups if b.status == "complete"]
    why: dict[str, str] = {}
    if policy.keep_within is not None:
        for backup in complete_ones:
            if now - backup.started_at < policy.keep_within:
                why[backup.id] = "within"
    for name, option, pattern in REFERENCE_PERIODS:
        wanted = getattr(policy, option)
        if wanted is None:
            continue
        groups = defaultdict(list)
        for backup in complete_ones:
            groups[backup.started_at.astimezone(UTC).strftime(pattern)].append(backup)
        heads = sorted(
            (max(group, key=order) for group in groups.values()), key=order, reverse=True
        )
        taken = 0
        for head in heads:
            if taken == wanted:
                break
            if head.id not in why:
                taken += 1
                why[head.id] = f"{name}[{taken}]"
        if taken < wanted and complete_ones:
            oldest = min(complete_ones, key=order)
            why.setdefault(oldest.id, f"{name}[oldest]")
    newest = max(complete_ones, key=order) if complete_ones else None
    if newest is not None:
        why.setdefault(newest.id, "newest")
    for backup in backups:
        if (
            backup.status == "incomplete"
            and (newest is None or backup.started_at > newest.started_at)
            and now - backup.started_at < grace
        ):
            why[backup.id] = "running"
    return why


BASE = at(2020, 12, 20)  # 2021 begins on a Friday: ISO week 2020-W53 spans the new year
GAPS = st.one_of(
    st.just(0),
    st.integers(0, 90),
    st.integers(0, 2 * 3600),
    st.integers(0, 3 * 86400),
    st.integers(0, 40 * 86400),
    st.integers(0, 400 * 86400),
)
COUNTS = st.one_of(st.none(), st.integers(1, 6))


@st.composite
def scenarios(draw):
    gaps = draw(st.lists(GAPS, max_size=40))
    statuses = draw(
        st.lists(
            st.sampled_from(["complete"] * 6 + ["incomplete", "failed"]),
            min_size=len(gaps),
            max_size=len(gaps),
        )
    )
    names = draw(st.permutations(range(len(gaps))))
    moment, backups = BASE, []
    for gap, status, name in zip(gaps, statuses, names, strict=True):
        moment += timedelta(seconds=gap)
        backups.append(BackupRecord(f"b{name:02d}", moment, status))
    policy = draw(
        st.builds(
            RetentionPolicy,
            keep_within=st.one_of(
                st.none(), st.integers(1, 60 * 86400).map(lambda s: timedelta(seconds=s))
            ),
            keep_last=COUNTS,
            keep_minutely=COUNTS,
            keep_hourly=COUNTS,
            keep_daily=COUNTS,
            keep_weekly=COUNTS,
            keep_monthly=COUNTS,
            keep_yearly=COUNTS,
        ).filter(lambda p: not p.empty)
    )
    now = moment + timedelta(seconds=draw(st.integers(-3600, 30 * 86400)))
    grace = timedelta(seconds=draw(st.integers(0, 3 * 86400)))
    shuffle_seed = draw(st.integers(0, 2**32))
    return backups, policy, now, grace, shuffle_seed


@settings(max_examples=400, deadline=None)
@given(scenarios())
def test_plan_matches_the_reference_implementation(scenario):
    backups, policy, now, grace, shuffle_seed = scenario
    shuffled = list(backups)
    random.Random(shuffle_seed).shuffle(shuffled)

    decisions = plan_retention(shuffled, policy, now, grace=grace)

    expected = reference_retention(backups, policy, now, grace)
    assert {d.id: d.rules for d in decisions if d.keep} == {k: (v,) for k, v in expected.items()}
    # one decision per backup, newest first, whatever the input order
    assert [d.id for d in decisions] == [
        b.id for b in sorted(backups, key=lambda b: (b.started_at, b.id), reverse=True)
    ]
    assert decisions == plan_retention(backups, policy, now, grace=grace)
    for decision in decisions:
        assert decision.reason
        assert decision.keep == bool(decision.rules)
    statuses = {b.id: b.status for b in backups}
    complete_ids = [d.id for d in decisions if statuses[d.id] == "complete"]
    if complete_ids:
        assert complete_ids[0] in kept_rules(decisions)
    for decision in decisions:
        if not decision.keep and statuses[decision.id] == "complete":
            assert decision.reason.startswith("no rule keeps it: ")
        if statuses[decision.id] != "complete":
            assert decision.rules in ((), ("running",))


def test_keep_within_reads_borg_hours_and_refuses_the_ambiguous_m():
    assert parse_policy({"keep_within": "36H"}).keep_within == timedelta(hours=36)
    assert parse_policy({"keep_within": "36h"}).keep_within == timedelta(hours=36)
    assert parse_policy({"keep_within": "2w"}).keep_within == timedelta(weeks=2)
    with pytest.raises(ValueError, match="borg reads m as months"):
        parse_policy({"keep_within": "1m"})
